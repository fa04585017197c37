"""base64url helpers and RFC 7638 JWK thumbprints."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}

# RFC 7638 §3.2: the required members of each key type, in lexicographic order.
_THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
}


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url, as JOSE uses it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url: raises ValueError on padding, stray characters or bad length."""
    # The standard alphabet's `+` and `/` would survive the translation below, and padding is
    # ours to add; everything else outside the alphabet fails the strict decode itself.
    if len(text) % 4 == 1 or "=" in text or "+" in text or "/" in text:
        raise ValueError("not unpadded base64url")
    try:
        data = text.encode("ascii").translate(_TO_STANDARD) + b"=" * (-len(text) % 4)
        decoded = binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not unpadded base64url") from exc
    # Reject non-canonical encodings (unused trailing bits set), so one token has one spelling.
    unused_bits_mask = {0: 0, 2: 0x0F, 3: 0x03}[len(text) % 4]
    if unused_bits_mask and _VALUE[text[-1]] & unused_bits_mask:
        raise ValueError("non-canonical base64url")
    return decoded


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """The base64url SHA-256 RFC 7638 thumbprint of a public JWK."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None:
        raise ValueError(f"unsupported kty {jwk.get('kty')!r}")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())
