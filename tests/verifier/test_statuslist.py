"""W3C Bitstring Status List: encoding, decompression limits, verification of the list JWT
(SPEC §4 'Status list'), and what a credential gets when its list cannot be used."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from keys import KeyRing, KeyState
from tests.verifier.tokens import (
    BASE,
    ISSUER,
    LIST_BYTES,
    NOW,
    STATUS_INDEX,
    STATUS_URL,
    IssuerKey,
    TokenStatusSource,
    b64,
    bits_with,
    check_ok,
    credential_payload,
    forge,
    gzip_stream,
    header,
    make_key,
    make_verifier,
    sign_raw,
    status_list,
    status_list_payload,
)
from verifier import (
    MIN_ENTRIES,
    InMemoryKeySource,
    StatusList,
    Verifier,
    decode_list,
    encode_list,
    verify_status_list,
)
from verifier.errors import StatusUnavailable

W3C_EXAMPLE = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def es() -> IssuerKey:
    return make_key("ES256")


@pytest.fixture(scope="module")
def other() -> IssuerKey:
    """A key of the same issuer base that is not in the ring."""
    return make_key("ES256")


@pytest.fixture(scope="module")
def keys(es: IssuerKey) -> InMemoryKeySource:
    return InMemoryKeySource(ISSUER, KeyRing([es.entry()]))


@pytest.fixture(scope="module")
def bomb() -> str:
    """100 MiB of zeros, gzipped (~100 KB) and multibase-encoded."""
    return "u" + b64(gzip_stream(100 * MIB))


def _verify(token: str, keys: InMemoryKeySource, purpose: str = "revocation") -> StatusList:
    return verify_status_list(token, url=STATUS_URL, issuer=ISSUER, purpose=purpose, keys=keys, now=NOW)


# --------------------------------------------------------------------------- encoding


@pytest.mark.parametrize(
    "bits",
    [
        bytes(LIST_BYTES),
        bits_with(0, 7, 8, STATUS_INDEX, MIN_ENTRIES - 1),
        os.urandom(LIST_BYTES),
        bytes(8 * LIST_BYTES),
    ],
    ids=["zeros", "some-bits", "random", "1M-entries"],
)
def test_encode_decode_round_trip(bits: bytes) -> None:
    encoded = encode_list(bits)
    assert encoded.startswith("u")
    assert "=" not in encoded and "+" not in encoded and "/" not in encoded
    assert decode_list(encoded) == bits
    # It is plain GZIP (RFC 1952) under the multibase prefix.
    assert gzip.decompress(_unb64(encoded[1:])) == bits


def _unb64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_encoding_is_deterministic() -> None:
    """The published list (and so its ETag) only changes when a bit changes."""
    bits = bits_with(1, 2, 3)
    assert encode_list(bits) == encode_list(bytes(bits))


def test_w3c_specification_example_decodes_to_16384_zero_bytes() -> None:
    assert decode_list(W3C_EXAMPLE) == bytes(16384)


def test_gzip_bomb_is_refused(bomb: str) -> None:
    assert len(bomb) < 200_000
    with pytest.raises(ValueError):
        decode_list(bomb)


def test_decode_limit_is_exact() -> None:
    data = bytes(64 * 1024)
    assert decode_list(encode_list(data), max_bytes=len(data)) == data
    with pytest.raises(ValueError):
        decode_list(encode_list(data + b"\x00"), max_bytes=len(data))


@pytest.mark.parametrize(
    "encoded",
    [
        W3C_EXAMPLE[1:],  # no multibase prefix
        "z" + W3C_EXAMPLE[1:],  # base58btc prefix
        "u" + b64(b"not gzip at all"),
        "u" + b64(gzip.compress(bytes(16384))[:-12]),  # truncated
        W3C_EXAMPLE + "==",  # padded
        "u" + b64(gzip.compress(bytes(16384))).replace("-", "+").replace("_", "/") + "+/",
        "",
    ],
    ids=["no-prefix", "base58-prefix", "not-gzip", "truncated", "padded", "std-base64", "empty"],
)
def test_bad_encodings_are_refused(encoded: str) -> None:
    with pytest.raises(ValueError):
        decode_list(encoded)


def test_status_list_lookup_uses_msb_first() -> None:
    lst = StatusList(
        url=STATUS_URL, purposes=frozenset({"revocation"}), bits=bytes([0x80, 0x01]) + bytes(16382), ttl_ms=None
    )
    assert lst.size == MIN_ENTRIES
    assert [i for i in range(16) if lst.is_set(i)] == [0, 15]
    with pytest.raises(StatusUnavailable):
        lst.is_set(MIN_ENTRIES)


# --------------------------------------------------------------------------- verify_status_list


def test_valid_list_verifies(es: IssuerKey, keys: InMemoryKeySource) -> None:
    token = es.sign(status_list_payload(bits_with(STATUS_INDEX)), typ="vc+jwt")
    result = _verify(token, keys)
    assert result.url == STATUS_URL
    assert result.purposes == frozenset({"revocation"})
    assert result.size == MIN_ENTRIES
    assert result.is_set(STATUS_INDEX) and not result.is_set(STATUS_INDEX + 1)
    assert result.ttl_ms == 300000


@pytest.mark.parametrize("typ", [None, "JWT", "vc+jwt", "application/vc+jwt"], ids=str)
def test_list_typ_absent_jwt_or_vc_jwt_is_accepted(es: IssuerKey, keys: InMemoryKeySource, typ: str | None) -> None:
    token = sign_raw(es, header(es, typ=typ) if typ else header(es, typ=None), status_list_payload())
    assert _verify(token, keys).size == MIN_ENTRIES


def test_list_with_several_purposes_serves_each(es: IssuerKey, keys: InMemoryKeySource) -> None:
    token = es.sign(status_list_payload(purpose=["revocation", "suspension"]), typ="vc+jwt")
    assert _verify(token, keys, "suspension").purposes == frozenset({"revocation", "suspension"})


def _sign(key: IssuerKey, payload: dict[str, Any], **hdr: Any) -> str:
    return sign_raw(key, header(key, **({"typ": "vc+jwt"} | hdr)), payload)


REJECTED: dict[str, Callable[[IssuerKey, IssuerKey], str]] = {
    "wrong-purpose": lambda es, o: _sign(es, status_list_payload(purpose="suspension")),
    "purpose-missing": lambda es, o: _sign(
        es,
        {
            **status_list_payload(),
            "credentialSubject": {
                k: v for k, v in status_list_payload()["credentialSubject"].items() if k != "statusPurpose"
            },
        },
    ),
    "too-short-131064": lambda es, o: _sign(es, status_list_payload(bytes(LIST_BYTES - 1))),
    "too-short-16kbit": lambda es, o: _sign(es, status_list_payload(bytes(2048))),
    "empty-list": lambda es, o: _sign(es, status_list_payload(b"")),
    "nbf-and-validFrom-future": lambda es, o: _sign(es, status_list_payload(valid_from=NOW + timedelta(hours=1))),
    "nbf-future-only": lambda es, o: _sign(
        es, {k: v for k, v in (status_list_payload(valid_from=NOW + timedelta(hours=1))).items() if k != "validFrom"}
    ),
    "validFrom-future-only": lambda es, o: _sign(
        es,
        {
            k: v
            for k, v in (status_list_payload(valid_from=NOW + timedelta(hours=1))).items()
            if k not in ("nbf", "iat")
        },
    ),
    "nbf-future-validFrom-past": lambda es, o: _sign(
        es, {**status_list_payload(), "nbf": int((NOW + timedelta(hours=1)).timestamp())}
    ),
    "exp-and-validUntil-past": lambda es, o: _sign(
        es, status_list_payload(valid_from=NOW - timedelta(days=2), valid_until=NOW - timedelta(hours=1))
    ),
    "exp-past-only": lambda es, o: _sign(
        es, {**status_list_payload(), "exp": int((NOW - timedelta(hours=1)).timestamp())}
    ),
    "validUntil-past-only": lambda es, o: _sign(es, {**status_list_payload(), "validUntil": "2026-11-28T10:00:00Z"}),
    "exp-past-validUntil-future": lambda es, o: _sign(
        es,
        {
            **status_list_payload(),
            "exp": int((NOW - timedelta(hours=1)).timestamp()),
            "validUntil": "2027-01-01T00:00:00Z",
        },
    ),
    "signed-by-other-key-with-our-kid": lambda es, o: sign_raw(o, header(es, typ="vc+jwt"), status_list_payload()),
    "signed-by-other-key-own-kid": lambda es, o: _sign(o, status_list_payload()),
    "typ-at+jwt": lambda es, o: _sign(es, status_list_payload(), typ="at+jwt"),
    "typ-statuslist+jwt": lambda es, o: _sign(es, status_list_payload(), typ="statuslist+jwt"),
    "missing-BitstringStatusListCredential-type": lambda es, o: _sign(
        es, status_list_payload(types=["VerifiableCredential"])
    ),
    "type-missing": lambda es, o: _sign(es, {k: v for k, v in status_list_payload().items() if k != "type"}),
    "alg-none": lambda es, o: forge(header(es, alg="none", typ="vc+jwt"), status_list_payload()),
    "alg-not-the-key": lambda es, o: _sign(es, status_list_payload(), alg="EdDSA"),
    "crit": lambda es, o: _sign(es, status_list_payload(), crit=["x"]),
    "iss-foreign": lambda es, o: _sign(es, {**status_list_payload(), "iss": "https://evil.example/issuer"}),
    "issuer-foreign": lambda es, o: _sign(es, {**status_list_payload(), "issuer": "https://evil.example/issuer"}),
    "issuer-object-foreign": lambda es, o: _sign(
        es, {**status_list_payload(), "issuer": {"id": "https://evil.example/issuer"}}
    ),
    "encodedList-garbage": lambda es, o: _sign(es, status_list_payload(encoded="u!!!")),
    "encodedList-not-gzip": lambda es, o: _sign(es, status_list_payload(encoded="u" + b64(bytes(LIST_BYTES)))),
    "encodedList-truncated-gzip": lambda es, o: _sign(
        es, status_list_payload(encoded="u" + b64(gzip.compress(bytes(LIST_BYTES))[:-12]))
    ),
    "encodedList-missing": lambda es, o: _sign(
        es,
        {
            **status_list_payload(),
            "credentialSubject": {
                "id": f"{STATUS_URL}#list",
                "type": "BitstringStatusList",
                "statusPurpose": "revocation",
            },
        },
    ),
    "nbf-string": lambda es, o: _sign(es, {**status_list_payload(), "nbf": "1795000000"}),
    "duplicate-member": lambda es, o: sign_raw(
        es, header(es, typ="vc+jwt"), json.dumps(status_list_payload())[:-1] + ',"iss":"x"}'
    ),
    "tampered": lambda es, o: ".".join(
        [
            _sign(es, status_list_payload()).split(".")[0],
            b64(json.dumps(status_list_payload(bits_with(1)))),
            _sign(es, status_list_payload()).split(".")[2],
        ]
    ),
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_bad_status_list_is_status_unavailable(
    es: IssuerKey, other: IssuerKey, keys: InMemoryKeySource, case: str
) -> None:
    token = REJECTED[case](es, other)
    with pytest.raises(StatusUnavailable):
        _verify(token, keys)


def test_status_list_gzip_bomb_is_status_unavailable(es: IssuerKey, keys: InMemoryKeySource, bomb: str) -> None:
    token = _sign(es, status_list_payload(encoded=bomb))
    with pytest.raises(StatusUnavailable):
        _verify(token, keys)


def test_status_list_signed_by_a_compromised_key_is_status_unavailable(es: IssuerKey) -> None:
    keys = InMemoryKeySource(ISSUER, KeyRing([es.entry(KeyState.COMPROMISED)]))
    with pytest.raises(StatusUnavailable):
        _verify(es.sign(status_list_payload(), typ="vc+jwt"), keys)


def test_status_list_of_an_untrusted_issuer_is_status_unavailable(es: IssuerKey, keys: InMemoryKeySource) -> None:
    token = es.sign(status_list_payload(issuer="https://evil.example/issuer"), typ="vc+jwt")
    with pytest.raises(StatusUnavailable):
        verify_status_list(
            token, url=STATUS_URL, issuer="https://evil.example/issuer", purpose="revocation", keys=keys, now=NOW
        )


def test_status_list_within_leeway_still_verifies(es: IssuerKey, keys: InMemoryKeySource) -> None:
    token = es.sign(status_list_payload(valid_from=NOW + timedelta(seconds=59)), typ="vc+jwt")
    assert _verify(token, keys).size == MIN_ENTRIES


# --------------------------------------------------------------------------- credential whose list is unusable


def _credential(es: IssuerKey, **kwargs: Any) -> str:
    return es.sign(credential_payload(**kwargs))


def test_missing_status_list_is_status_unavailable(es: IssuerKey) -> None:
    result = make_verifier(es.entry(), lists={}).verify(_credential(es), now=NOW)
    assert result.status == "status_unavailable" and result.verified is False
    assert result.credential is not None  # signature verified, so it is shown
    assert check_ok(result, "status") is False


def test_list_for_another_purpose_is_status_unavailable(es: IssuerKey) -> None:
    lists = {STATUS_URL: status_list(purposes=("suspension",))}
    result = make_verifier(es.entry(), lists=lists).verify(_credential(es), now=NOW)
    assert result.status == "status_unavailable" and not result.verified


def test_index_beyond_the_list_is_status_unavailable(es: IssuerKey) -> None:
    result = make_verifier(es.entry()).verify(_credential(es, status_index=MIN_ENTRIES), now=NOW)
    assert result.status == "status_unavailable" and not result.verified


def test_one_unavailable_list_among_several_is_status_unavailable(es: IssuerKey) -> None:
    payload = credential_payload()
    other_url = f"{BASE}/status/other"
    payload["credentialStatus"] = [
        payload["credentialStatus"],
        {**payload["credentialStatus"], "id": f"{other_url}#1", "statusListCredential": other_url},
    ]
    result = make_verifier(es.entry()).verify(es.sign(payload), now=NOW)
    assert result.status == "status_unavailable" and not result.verified


@pytest.mark.parametrize(
    "case",
    [
        "wrong-purpose",
        "too-short-131064",
        "nbf-and-validFrom-future",
        "nbf-future-validFrom-past",
        "exp-and-validUntil-past",
        "exp-past-validUntil-future",
        "signed-by-other-key-with-our-kid",
        "typ-at+jwt",
        "missing-BitstringStatusListCredential-type",
        "encodedList-garbage",
        "encodedList-not-gzip",
    ],
)
def test_credential_with_a_list_that_does_not_verify_is_status_unavailable(
    es: IssuerKey, other: IssuerKey, case: str
) -> None:
    """End to end: the host fetched the list JWT, verify_status_list refuses it, the credential
    is reported status_unavailable (never valid)."""
    keys = InMemoryKeySource(ISSUER, KeyRing([es.entry()]))
    source = TokenStatusSource({STATUS_URL: REJECTED[case](es, other)}, keys, [])
    result = Verifier(keys, source).verify(_credential(es), now=NOW)
    assert source.calls == [STATUS_URL]
    assert result.status == "status_unavailable", [(c.check, c.ok, c.detail) for c in result.checks]
    assert result.verified is False


def test_credential_with_a_good_fetched_list(es: IssuerKey) -> None:
    keys = InMemoryKeySource(ISSUER, KeyRing([es.entry()]))
    good = es.sign(status_list_payload(), typ="vc+jwt")
    revoked = es.sign(status_list_payload(bits_with(STATUS_INDEX)), typ="vc+jwt")
    assert (
        Verifier(keys, TokenStatusSource({STATUS_URL: good}, keys, [])).verify(_credential(es), now=NOW).status
        == "valid"
    )
    result = Verifier(keys, TokenStatusSource({STATUS_URL: revoked}, keys, [])).verify(_credential(es), now=NOW)
    assert result.status == "revoked"


def test_credential_without_status_entry_cannot_be_revoked(es: IssuerKey) -> None:
    result = make_verifier(es.entry(), lists={}).verify(_credential(es, status_index=None), now=NOW)
    assert result.status == "valid"
    assert check_ok(result, "status") is True
