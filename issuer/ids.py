"""Identifiers: credential ids (base62, 128+ bits), status-list ids, CertManager IDs."""

from __future__ import annotations

import os
import secrets
import string

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
CREDENTIAL_ID_LENGTH = 22  # 62**22 > 2**130


def base62_token(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


# Random bytes below 248 (= 4 × 62) map uniformly onto the 62 digits; the rest are dropped.
_TO_BASE62 = bytes(BASE62.encode("ascii")[b % 62] for b in range(248)) + bytes(8)
_UNUSABLE = bytes(range(248, 256))


def new_credential_id() -> str:
    """22 uniformly random base62 digits: 22 × log2(62) ≈ 131 bits."""
    return new_credential_ids(1)[0]


def new_credential_ids(count: int) -> list[str]:
    """`count` credential ids from one read of the CSPRNG (bulk issuance makes thousands)."""
    digits = b""
    while len(digits) < count * CREDENTIAL_ID_LENGTH:
        # About 3% of the bytes are dropped; read a little more than needed.
        wanted = count * CREDENTIAL_ID_LENGTH - len(digits)
        digits += os.urandom(wanted + wanted // 16 + 8).translate(_TO_BASE62, _UNUSABLE)
    text = digits.decode("ascii")
    return [text[i : i + CREDENTIAL_ID_LENGTH] for i in range(0, count * CREDENTIAL_ID_LENGTH, CREDENTIAL_ID_LENGTH)]


def new_status_list_id() -> str:
    return base62_token(16)


def new_certmanager_id() -> str:
    """`JPR` followed by 9 random digits; callers retry on the (rare) collision."""
    return "JPR" + "".join(secrets.choice(string.digits) for _ in range(9))


def is_credential_id(value: str) -> bool:
    return len(value) >= CREDENTIAL_ID_LENGTH and len(value) <= 64 and all(c in BASE62 for c in value)
