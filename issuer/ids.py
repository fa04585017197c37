"""Identifiers: credential ids (base62, 128+ bits), status-list ids, CertManager IDs."""

from __future__ import annotations

import secrets
import string

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
CREDENTIAL_ID_LENGTH = 22  # 62**22 > 2**130


def base62_token(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def new_credential_id() -> str:
    """128 random bits written in 22 base62 digits (62**22 > 2**128)."""
    value = int.from_bytes(secrets.token_bytes(16), "big")
    digits = []
    for _ in range(CREDENTIAL_ID_LENGTH):
        value, digit = divmod(value, 62)
        digits.append(BASE62[digit])
    return "".join(digits)


def new_status_list_id() -> str:
    return base62_token(16)


def new_certmanager_id() -> str:
    """`JPR` followed by 9 random digits; callers retry on the (rare) collision."""
    return "JPR" + "".join(secrets.choice(string.digits) for _ in range(9))


def is_credential_id(value: str) -> bool:
    return len(value) >= CREDENTIAL_ID_LENGTH and len(value) <= 64 and all(c in BASE62 for c in value)
