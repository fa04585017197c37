"""Strict compact-JWS parsing: size cap, canonical base64url, JSON objects without duplicate keys.

Nothing here verifies anything; every value it returns is `unverified_*` until the caller
checks the signature.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from keys import b64url_decode
from verifier.errors import Malformed

MAX_TOKEN_BYTES = 64 * 1024


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise Malformed(f"duplicate JSON member {duplicate!r}")
    return obj


def _reject_constant(name: str) -> Any:
    raise Malformed(f"non-standard JSON constant {name}")


def strict_json_object(raw: bytes, what: str) -> dict[str, Any]:
    """Parse UTF-8 JSON that must be an object, refusing duplicate keys and NaN/Infinity."""
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except Malformed:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Malformed(f"{what} is not valid JSON") from exc
    if not isinstance(value, dict):
        raise Malformed(f"{what} is not a JSON object")
    return value


@dataclass(frozen=True)
class UnverifiedJWS:
    unverified_header: dict[str, Any]
    unverified_payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse_compact(token: str) -> UnverifiedJWS:
    """Split and decode a compact JWS. Raises Malformed for anything that is not one."""
    if not token:
        raise Malformed("empty token")
    if len(token) > MAX_TOKEN_BYTES:
        raise Malformed("token larger than 64 KiB")
    if not token.isascii():
        raise Malformed("token contains non-ASCII characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise Malformed(f"a compact JWS has 3 segments, not {len(parts)}")
    header_b64, payload_b64, signature_b64 = parts
    try:
        header_raw = b64url_decode(header_b64)
        payload_raw = b64url_decode(payload_b64)
        signature = b64url_decode(signature_b64)
    except ValueError as exc:
        raise Malformed("a segment is not canonical unpadded base64url") from exc
    header = strict_json_object(header_raw, "JOSE header")
    payload = strict_json_object(payload_raw, "payload")
    return UnverifiedJWS(header, payload, f"{header_b64}.{payload_b64}".encode("ascii"), signature)
