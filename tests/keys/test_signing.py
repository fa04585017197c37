"""`SigningKey.sign`: our own JWS compact serialisation (RFC 7515 §7.1), low-S ES256 signatures,
and tokens that independent libraries (PyJWT, jwcrypto) verify with the published JWK."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

from keys import SigningKey, generate_key, load_signing_key

PASSPHRASE = "keys-test-passphrase-0123456789"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
CLAIMS: dict[str, Any] = {
    "iss": "https://cm.example/issuer",
    "sub": "urn:uuid:6f1c2a7e-3b1d-4c55-9a0e-2f7b1d9c8e41",
    "nbf": 1_790_000_000,
    "exp": 1_890_000_000,
    "credentialSubject": {"name": "Zoé Nguyễn 😀", "n": [1, 2.5, True, None]},
}


def make_signing_key(alg: str) -> SigningKey:
    generated = generate_key(alg, PASSPHRASE)
    return load_signing_key(
        generated.encrypted_private_key,
        PASSPHRASE,
        public_jwk=generated.public_jwk,
        kid=f"https://cm.example/keys/{generated.thumbprint}",
        alg=alg,
    )


@pytest.fixture(scope="module", params=["ES256", "EdDSA", "RS256"])
def key(request: pytest.FixtureRequest) -> SigningKey:
    return make_signing_key(request.param)


@pytest.fixture(scope="module")
def es256() -> SigningKey:
    return make_signing_key("ES256")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict[str, Any], bytes, bytes]:
    header, payload, signature = token.split(".")
    return json.loads(b64url_decode(header)), b64url_decode(payload), b64url_decode(signature)


# --------------------------------------------------------------------------- ES256 low-S


def test_es256_signatures_are_always_low_s(es256: SigningKey) -> None:
    """Half of all ECDSA signatures have s > n/2; every one we produce must have s <= n/2."""
    high = []
    for i in range(200):
        _, _, signature = parts(es256.sign({**CLAIMS, "jti": f"urn:x:{i}"}, typ="JWT"))
        assert len(signature) == 64
        s = int.from_bytes(signature[32:], "big")
        assert 0 < s < P256_ORDER
        if s > P256_ORDER // 2:
            high.append(i)
    assert high == []


def test_low_s_signatures_still_verify_everywhere(es256: SigningKey) -> None:
    public_jwk = dict(es256.public.jwk)
    jwcrypto_key = jwcrypto_jwk.JWK(**public_jwk)
    pyjwt_key = jwt.PyJWK(public_jwk).key
    raw_key = pyjwt_key
    assert isinstance(raw_key, ec.EllipticCurvePublicKey)
    for i in range(200):
        claims = {**CLAIMS, "jti": f"urn:x:{i}"}
        token = es256.sign(claims, typ="JWT")
        signing_input, _, encoded_signature = token.rpartition(".")
        signature = b64url_decode(encoded_signature)
        assert es256.public.verify(signing_input.encode("ascii"), signature)
        assert jwt.decode(token, pyjwt_key, algorithms=["ES256"]) == claims
        verified = jwcrypto_jws.JWS()
        verified.deserialize(token)
        verified.verify(jwcrypto_key, alg="ES256")
        assert json.loads(verified.payload) == claims
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        raw_key.verify(encode_dss_signature(r, s), signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))


# --------------------------------------------------------------------------- the serialisation


def test_every_algorithm_verifies_with_pyjwt_jwcrypto_and_our_public_key(key: SigningKey) -> None:
    token = key.sign(CLAIMS, typ="vc+jwt")
    assert jwt.decode(token, jwt.PyJWK(dict(key.public.jwk)).key, algorithms=[key.alg]) == CLAIMS
    verified = jwcrypto_jws.JWS()
    verified.deserialize(token)
    verified.verify(jwcrypto_jwk.JWK(**dict(key.public.jwk)), alg=key.alg)
    signing_input, _, signature = token.rpartition(".")
    assert key.public.verify(signing_input.encode("ascii"), b64url_decode(signature))


def test_header_members_are_alg_kid_and_typ_as_before(key: SigningKey) -> None:
    header, _, _ = parts(key.sign(CLAIMS, typ="JWT"))
    assert header == {"alg": key.alg, "kid": key.kid, "typ": "JWT"}
    raw_header = key.sign(CLAIMS, typ="vc+jwt").split(".")[0]
    assert b64url_decode(raw_header) == json.dumps(
        {"alg": key.alg, "kid": key.kid, "typ": "vc+jwt"}, separators=(",", ":"), sort_keys=True
    ).encode("ascii")


def test_extra_headers_are_kept(es256: SigningKey) -> None:
    header, _, _ = parts(es256.sign(CLAIMS, typ="dc+sd-jwt", extra_headers={"x5t#S256": "abc", "cty": "vc"}))
    assert header == {"alg": "ES256", "kid": es256.kid, "typ": "dc+sd-jwt", "x5t#S256": "abc", "cty": "vc"}


def test_extra_headers_cannot_change_the_algorithm(es256: SigningKey) -> None:
    with pytest.raises(ValueError):
        es256.sign(CLAIMS, typ="JWT", extra_headers={"alg": "none"})


def test_without_typ_the_header_has_no_typ(es256: SigningKey) -> None:
    header, _, _ = parts(es256.sign(CLAIMS, typ=None))
    assert header == {"alg": "ES256", "kid": es256.kid}


def test_payload_is_compact_utf8_json_of_the_claims(key: SigningKey) -> None:
    _, payload, _ = parts(key.sign(CLAIMS, typ="JWT"))
    assert payload == json.dumps(CLAIMS, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert json.loads(payload) == CLAIMS


def test_eddsa_token_is_byte_for_byte_what_pyjwt_wrote_for_ascii_claims() -> None:
    """Ed25519 is deterministic, so the old `jwt.encode` path can be compared exactly."""
    key = make_signing_key("EdDSA")
    claims = {k: v for k, v in CLAIMS.items() if k != "credentialSubject"} | {"name": "Ada Lovelace"}
    old = jwt.encode(claims, key._private, algorithm="EdDSA", headers={"kid": key.kid, "typ": "JWT"})  # noqa: SLF001
    assert key.sign(claims, typ="JWT") == old


def test_a_lone_surrogate_is_refused_at_signing(es256: SigningKey) -> None:
    """A token our verifier would refuse is never signed."""
    with pytest.raises(ValueError):
        es256.sign({**CLAIMS, "name": "bad \udfff"}, typ="JWT")
