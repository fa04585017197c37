"""Strict compact-JWS parsing: size cap, canonical base64url, JSON objects without duplicate keys.

Nothing here verifies anything; every value it returns is `unverified_*` until the caller
checks the signature.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from keys import b64url_decode
from verifier.errors import Malformed

MAX_TOKEN_BYTES = 64 * 1024
# A JSON escape of a UTF-16 surrogate (\ud800-\udfff), either case; only such a text can decode
# to a lone surrogate, since strict UTF-8 refuses encoded ones.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class _DuplicateMember(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateMember  # the member's name is unverified text: it is not repeated back
    return obj


def _has_lone_surrogate(value: Any) -> bool:
    """True when a key or string anywhere in a parsed JSON value holds a surrogate code point.

    json.loads joins an escaped pair into one code point, so any surrogate left is lone. The
    walk uses its own stack: the depth is whatever the text had."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _reject_constant(name: str) -> Any:
    raise Malformed(f"non-standard JSON constant {name}")


def strict_json_object(raw: bytes, what: str) -> dict[str, Any]:
    """Parse UTF-8 JSON that must be an object: no duplicate keys, NaN/Infinity or lone surrogates."""
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except _DuplicateMember:
        raise Malformed(f"{what} has a duplicate JSON member") from None
    except Malformed:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Malformed(f"{what} is not valid JSON") from exc
    if not isinstance(value, dict):
        raise Malformed(f"{what} is not a JSON object")
    # A lone surrogate parses into a str that no UTF-8 answer can carry. The walk runs only when
    # the text has a surrogate escape; a text without a backslash (the usual token) costs one
    # character search (`"\\u" in text` would cost 30 times more).
    if "\\" in text and _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise Malformed(f"{what} contains a lone UTF-16 surrogate escape")
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
