"""Key material at rest and JWKs: sealing with a passphrase, RFC 7638 thumbprints, and public JWKs
that must stay public."""

from __future__ import annotations

from typing import Any

import pytest
from jwcrypto import jwk as jwcrypto_jwk

from keys import (
    KeyDecryptionError,
    KeyError_,
    UnsupportedAlgorithm,
    generate_key,
    jwk_thumbprint,
    load_signing_key,
    public_key_from_jwk,
)

PASSPHRASE = "keys-test-passphrase-0123456789"

# RFC 7638 §3.1: the example RSA key and its SHA-256 thumbprint.
RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWK"
        "RXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMic"
        "AtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3"
        "XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.fixture(scope="module", params=["ES256", "EdDSA"])
def generated(request: pytest.FixtureRequest) -> Any:
    return generate_key(request.param, PASSPHRASE)


def _load(generated: Any, passphrase: str, blob: bytes | None = None) -> Any:
    return load_signing_key(
        blob if blob is not None else generated.encrypted_private_key,
        passphrase,
        public_jwk=generated.public_jwk,
        kid=f"https://cm.example/keys/{generated.thumbprint}",
        alg=generated.alg,
    )


# --------------------------------------------------------------------------- sealing


def test_sealed_key_opens_with_its_passphrase(generated: Any) -> None:
    key = _load(generated, PASSPHRASE)
    assert key.alg == generated.alg and key.kid.endswith(generated.thumbprint)
    assert b"PRIVATE" not in generated.encrypted_private_key  # never stored in the clear


@pytest.mark.parametrize("passphrase", ["wrong-passphrase", PASSPHRASE + " ", PASSPHRASE[:-1], ""])
def test_wrong_passphrase_raises_key_decryption_error(generated: Any, passphrase: str) -> None:
    with pytest.raises(KeyDecryptionError) as caught:
        _load(generated, passphrase)
    assert isinstance(caught.value, KeyError_) and caught.value.code == "key_decryption_failed"
    assert caught.value.__cause__ is None  # the library's InvalidTag is not leaked


@pytest.mark.parametrize(
    "damage",
    [
        lambda blob: blob[:-1] + bytes([blob[-1] ^ 1]),  # ciphertext/tag
        lambda blob: blob[:10] + bytes([blob[10] ^ 1]) + blob[11:],  # salt
        lambda blob: b"cmk0" + blob[4:],  # magic
        lambda blob: blob[:32],  # truncated to the header
        lambda blob: b"",
    ],
    ids=["tag", "salt", "magic", "truncated", "empty"],
)
def test_damaged_blob_raises_key_decryption_error(generated: Any, damage: Any) -> None:
    with pytest.raises(KeyDecryptionError):
        _load(generated, PASSPHRASE, damage(generated.encrypted_private_key))


def test_sealed_key_is_bound_to_its_own_public_key() -> None:
    """The thumbprint is the AEAD's associated data: a blob moved onto another key does not open."""
    one, two = generate_key("ES256", PASSPHRASE), generate_key("ES256", PASSPHRASE)
    with pytest.raises(KeyDecryptionError):
        load_signing_key(
            one.encrypted_private_key,
            PASSPHRASE,
            public_jwk=two.public_jwk,
            kid="https://cm.example/keys/x",
            alg="ES256",
        )


def test_generating_without_a_passphrase_is_refused() -> None:
    with pytest.raises(KeyDecryptionError):
        generate_key("ES256", "")


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(UnsupportedAlgorithm):
        generate_key("HS256", PASSPHRASE)


# --------------------------------------------------------------------------- thumbprints


def test_rfc7638_example_thumbprint() -> None:
    assert jwk_thumbprint(RFC7638_JWK) == RFC7638_THUMBPRINT
    assert jwcrypto_jwk.JWK(**RFC7638_JWK).thumbprint() == RFC7638_THUMBPRINT  # the vector, independently


def test_thumbprint_ignores_non_required_members_and_their_order() -> None:
    reordered = {k: RFC7638_JWK[k] for k in ("kid", "e", "alg", "n", "kty")} | {"use": "sig"}
    assert jwk_thumbprint(reordered) == RFC7638_THUMBPRINT


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_generated_thumbprint_matches_jwcrypto(alg: str) -> None:
    generated = generate_key(alg, PASSPHRASE)
    assert generated.thumbprint == jwcrypto_jwk.JWK(**generated.public_jwk).thumbprint()


def test_thumbprint_of_an_unknown_kty_is_refused() -> None:
    with pytest.raises(ValueError):
        jwk_thumbprint({"kty": "oct", "k": "c2VjcmV0"})


# --------------------------------------------------------------------------- public JWKs


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "k"])
def test_public_key_from_jwk_refuses_private_members(member: str) -> None:
    generated = generate_key("ES256", PASSPHRASE)
    with pytest.raises(UnsupportedAlgorithm):
        public_key_from_jwk({**generated.public_jwk, member: "AAAA"}, kid="https://cm.example/keys/x", alg="ES256")


def test_public_key_from_a_real_private_jwk_is_refused() -> None:
    private = jwcrypto_jwk.JWK.generate(kty="EC", crv="P-256")
    with pytest.raises(UnsupportedAlgorithm):
        public_key_from_jwk(private.export(private_key=True, as_dict=True), kid="k", alg="ES256")
    public = public_key_from_jwk(private.export(private_key=False, as_dict=True), kid="k", alg="ES256")
    assert set(public.jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}


@pytest.mark.parametrize("generated_alg,alg", [("EdDSA", "ES256"), ("ES256", "EdDSA"), ("ES256", "RS256")])
def test_public_key_from_jwk_refuses_a_key_of_another_algorithm(generated_alg: str, alg: str) -> None:
    generated = generate_key(generated_alg, PASSPHRASE)
    with pytest.raises(UnsupportedAlgorithm):
        public_key_from_jwk(generated.public_jwk, kid="k", alg=alg)


def test_short_rsa_keys_are_refused() -> None:
    short = jwcrypto_jwk.JWK.generate(kty="RSA", size=1024).export(private_key=False, as_dict=True)
    with pytest.raises(UnsupportedAlgorithm):
        public_key_from_jwk(short, kid="k", alg="RS256")
