"""Key material: generate, encrypt at rest, load, sign and verify.

Private keys leave this module only encrypted (scrypt + AES-256-GCM, bound to the key's
thumbprint), and `SigningKey` never exposes the private key object.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from keys.errors import KeyDecryptionError, UnsupportedAlgorithm
from keys.jwk import b64url_decode, b64url_encode, jwk_thumbprint

SUPPORTED_ALGORITHMS: Final = ("ES256", "EdDSA", "RS256")

_BLOB_MAGIC = b"cmk1"
_SALT_LEN = 16
_NONCE_LEN = 12
# scrypt cost: ~30 ms once per process per key; the passphrase is usually a generated secret.
_SCRYPT_N = 2**14
# The order n of P-256. ECDSA's (r, s) and (r, n - s) are both valid; many verifiers (and
# signature malleability rules) accept only s <= n/2, so we sign with that one.
_P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P256_HALF_ORDER: Final = _P256_ORDER // 2
_ECDSA_SHA256: Final = ec.ECDSA(hashes.SHA256())
_PKCS1V15: Final = padding.PKCS1v15()

PublicKeyObject = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey
PrivateKeyObject = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class PublicKey:
    """A verification key: its URL `kid`, its one algorithm, and its public JWK."""

    kid: str
    alg: str
    jwk: Mapping[str, Any]
    _key: PublicKeyObject = field(repr=False, compare=False)

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        """True when `signature` is this key's JWS signature (RFC 7518) over `signing_input`."""
        try:
            if self.alg == "ES256":
                if len(signature) != 64:
                    return False
                r = int.from_bytes(signature[:32], "big")
                s = int.from_bytes(signature[32:], "big")
                assert isinstance(self._key, ec.EllipticCurvePublicKey)
                self._key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
            elif self.alg == "EdDSA":
                assert isinstance(self._key, ed25519.Ed25519PublicKey)
                self._key.verify(signature, signing_input)
            elif self.alg == "RS256":
                assert isinstance(self._key, rsa.RSAPublicKey)
                self._key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
            else:
                return False
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class GeneratedKey:
    """A fresh key pair: the public JWK (no `kid` yet) and the encrypted private key blob."""

    alg: str
    thumbprint: str
    public_jwk: dict[str, Any]
    encrypted_private_key: bytes


class SigningKey:
    """The private half of a key, decrypted in memory; signs compact JWTs."""

    __slots__ = ("_headers", "_private", "public")

    def __init__(self, private: PrivateKeyObject, public: PublicKey) -> None:
        self._private = private
        self.public = public
        self._headers: dict[str | None, str] = {}  # encoded header by typ (no extra headers)

    @property
    def kid(self) -> str:
        return self.public.kid

    @property
    def alg(self) -> str:
        return self.public.alg

    def sign(
        self, claims: Mapping[str, Any], *, typ: str | None, extra_headers: Mapping[str, str] | None = None
    ) -> str:
        """Sign `claims` as a compact JWS with header `alg`, `kid` and (if given) `typ`.

        RFC 7515 §7.1 serialisation, as PyJWT writes it: compact JSON, header members sorted.
        The payload is UTF-8, so a string with a lone surrogate (no UTF-8 form) raises ValueError.
        """
        if extra_headers:
            encoded_header = self._encode_header(typ, extra_headers)
        else:
            encoded_header = self._headers.get(typ) or self._headers.setdefault(typ, self._encode_header(typ, None))
        payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        signing_input = f"{encoded_header}.{b64url_encode(payload)}"
        return f"{signing_input}.{b64url_encode(self._signature(signing_input.encode('ascii')))}"

    def _encode_header(self, typ: str | None, extra_headers: Mapping[str, str] | None) -> str:
        header: dict[str, Any] = {"alg": self.alg, "kid": self.kid}
        if typ is not None:
            header["typ"] = typ
        if extra_headers:
            if "alg" in extra_headers:
                raise ValueError("the algorithm is the key's own; extra headers cannot name another")
            header.update(extra_headers)
        return b64url_encode(json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8"))

    def _signature(self, signing_input: bytes) -> bytes:
        """The JWS signature (RFC 7518 §3): raw r||s with low s for ES256."""
        private = self._private
        if isinstance(private, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(private.sign(signing_input, _ECDSA_SHA256))
            if s > _P256_HALF_ORDER:
                s = _P256_ORDER - s
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if isinstance(private, ed25519.Ed25519PrivateKey):
            return private.sign(signing_input)
        return private.sign(signing_input, _PKCS1V15, hashes.SHA256())

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, alg={self.alg!r})"


def _public_jwk(public: PublicKeyObject, alg: str) -> dict[str, Any]:
    if isinstance(public, ec.EllipticCurvePublicKey):
        numbers = public.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(32, "big")),
            "y": b64url_encode(numbers.y.to_bytes(32, "big")),
        }
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    rsa_numbers = public.public_numbers()
    n_len = (rsa_numbers.n.bit_length() + 7) // 8
    return {
        "kty": "RSA",
        "n": b64url_encode(rsa_numbers.n.to_bytes(n_len, "big")),
        "e": b64url_encode(rsa_numbers.e.to_bytes((rsa_numbers.e.bit_length() + 7) // 8, "big")),
    }


def _generate_private(alg: str) -> PrivateKeyObject:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise UnsupportedAlgorithm(f"unsupported signing algorithm {alg!r}; use one of {SUPPORTED_ALGORITHMS}")


def _derive(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=8, p=1).derive(passphrase.encode("utf-8"))


def generate_key(alg: str, passphrase: str) -> GeneratedKey:
    """Generate a key pair for `alg` and encrypt its private key with `passphrase`."""
    if not passphrase:
        raise KeyDecryptionError("a key passphrase is required to store private keys")
    private = _generate_private(alg)
    public_jwk = _public_jwk(private.public_key(), alg)
    thumbprint = jwk_thumbprint(public_jwk)
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    salt = os.urandom(_SALT_LEN)
    nonce = os.urandom(_NONCE_LEN)
    sealed = AESGCM(_derive(passphrase, salt)).encrypt(nonce, der, thumbprint.encode("ascii"))
    return GeneratedKey(alg, thumbprint, public_jwk, _BLOB_MAGIC + salt + nonce + sealed)


def public_key_from_jwk(jwk: Mapping[str, Any], *, kid: str, alg: str) -> PublicKey:
    """Build a verification key from a public JWK; refuses private members and alg mismatches."""
    if alg not in SUPPORTED_ALGORITHMS:
        raise UnsupportedAlgorithm(f"unsupported algorithm {alg!r}")
    if any(member in jwk for member in ("d", "p", "q", "dp", "dq", "qi", "k")):
        raise UnsupportedAlgorithm("a public JWK must not carry private or symmetric members")
    declared = jwk.get("alg")
    if declared is not None and declared != alg:
        raise UnsupportedAlgorithm(f"JWK alg {declared!r} does not match {alg!r}")
    try:
        key_obj: PublicKeyObject
        kty, crv = jwk.get("kty"), jwk.get("crv")
        if alg == "ES256" and kty == "EC" and crv == "P-256":
            x = int.from_bytes(b64url_decode(str(jwk["x"])), "big")
            y = int.from_bytes(b64url_decode(str(jwk["y"])), "big")
            key_obj = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        elif alg == "EdDSA" and kty == "OKP" and crv == "Ed25519":
            key_obj = ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(str(jwk["x"])))
        elif alg == "RS256" and kty == "RSA":
            n = int.from_bytes(b64url_decode(str(jwk["n"])), "big")
            e = int.from_bytes(b64url_decode(str(jwk["e"])), "big")
            if n.bit_length() < 2048:
                raise UnsupportedAlgorithm("RSA keys shorter than 2048 bits are refused")
            key_obj = rsa.RSAPublicNumbers(e, n).public_key()
        else:
            raise UnsupportedAlgorithm(f"JWK (kty={kty!r}, crv={crv!r}) cannot be used with {alg}")
    except (KeyError, ValueError, TypeError) as exc:
        raise UnsupportedAlgorithm(f"invalid public JWK: {exc.__class__.__name__}") from exc
    return PublicKey(kid=kid, alg=alg, jwk=publishable_jwk(jwk, kid=kid, alg=alg), _key=key_obj)


def publishable_jwk(jwk: Mapping[str, Any], *, kid: str, alg: str) -> dict[str, Any]:
    """The public JWK as we publish it: key members plus `kid`, `alg` and `use: sig`."""
    members = {k: jwk[k] for k in ("kty", "crv", "x", "y", "n", "e") if k in jwk}
    return {**members, "kid": kid, "alg": alg, "use": "sig"}


def load_signing_key(
    encrypted_private_key: bytes, passphrase: str, *, public_jwk: Mapping[str, Any], kid: str, alg: str
) -> SigningKey:
    """Decrypt a stored private key. Raises KeyDecryptionError for a wrong passphrase."""
    blob = encrypted_private_key
    header = len(_BLOB_MAGIC) + _SALT_LEN + _NONCE_LEN
    if not blob.startswith(_BLOB_MAGIC) or len(blob) <= header:
        raise KeyDecryptionError("stored private key is damaged")
    salt = blob[len(_BLOB_MAGIC) : len(_BLOB_MAGIC) + _SALT_LEN]
    nonce = blob[len(_BLOB_MAGIC) + _SALT_LEN : header]
    thumbprint = jwk_thumbprint(dict(public_jwk))
    try:
        der = AESGCM(_derive(passphrase, salt)).decrypt(nonce, blob[header:], thumbprint.encode("ascii"))
    except InvalidTag:
        raise KeyDecryptionError(
            "the key passphrase does not open the stored signing key (CERTMANAGER_KEY_PASSPHRASE)"
        ) from None
    private = serialization.load_der_private_key(der, password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        raise KeyDecryptionError("stored private key has an unsupported type")
    if jwk_thumbprint(_public_jwk(private.public_key(), alg)) != thumbprint:
        raise KeyDecryptionError("stored private key does not match its public key")
    public = public_key_from_jwk(public_jwk, kid=kid, alg=alg)
    return SigningKey(private, public)
