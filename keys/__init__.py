"""Signing keys: generation, encryption at rest, JWKs, and the key ring.

This package is the only code that touches private keys. It imports nothing of ours.
"""

from keys.errors import (
    KeyDecryptionError,
    KeyError_,
    KeyNotUsable,
    NoActiveKey,
    UnsupportedAlgorithm,
)
from keys.jwk import b64url_decode, b64url_encode, jwk_thumbprint
from keys.material import (
    SUPPORTED_ALGORITHMS,
    GeneratedKey,
    PublicKey,
    SigningKey,
    generate_key,
    load_signing_key,
    public_key_from_jwk,
)
from keys.ring import KeyRing, KeyState, RingEntry

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "GeneratedKey",
    "KeyDecryptionError",
    "KeyError_",
    "KeyNotUsable",
    "KeyRing",
    "KeyState",
    "NoActiveKey",
    "PublicKey",
    "RingEntry",
    "SigningKey",
    "UnsupportedAlgorithm",
    "b64url_decode",
    "b64url_encode",
    "generate_key",
    "jwk_thumbprint",
    "load_signing_key",
    "public_key_from_jwk",
]
