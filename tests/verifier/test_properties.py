"""Properties of the token parser and `Verifier.verify` over generated input (hypothesis):
arbitrary text, arbitrary JSON header/payload objects (signed or not), and mutations of a valid
signed credential. For every input: `verify` returns (never raises), the SPEC §3.6 answer is
JSON and encodes as UTF-8, nothing unsigned is repeated in a check detail, and no token changed
after signing is `verified`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from keys import KeyRing, b64url_decode
from tests.verifier.tokens import (
    ISSUER,
    NOW,
    STATUS_URL,
    IssuerKey,
    TokenStatusSource,
    b64,
    credential_payload,
    header,
    make_key,
    make_verifier,
    sign_raw,
    status_list_payload,
)
from verifier import InMemoryKeySource, VerificationResult, Verifier
from verifier.errors import Malformed
from verifier.jws import parse_compact

MARK = "Zq7MARK"  # put into every generated string, so a detail repeating token text is caught
SETTINGS = settings(
    max_examples=250,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

KEY: IssuerKey = make_key("ES256")
VERIFIER: Verifier = make_verifier(KEY.entry())
LEGIT_PAYLOAD = credential_payload()
LEGIT = KEY.sign(LEGIT_PAYLOAD)
B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def answer_of(token: str) -> VerificationResult:
    """Verify, and check what every answer must be: JSON, UTF-8, verified only when valid."""
    result = VERIFIER.verify(token, now=NOW)
    out = result.to_dict()
    text = json.dumps(out, ensure_ascii=False)
    text.encode("utf-8")
    json.dumps(out).encode("utf-8")
    assert json.loads(text)["verified"] is (result.status == "valid") is result.verified
    assert result.checks, "every answer says what was checked"
    if not result.verified:
        assert any(not c.ok for c in result.checks)
    return result


def assert_nothing_unsigned_shown(result: VerificationResult) -> None:
    """Before (or without) a verified signature, no check passes but `format`, and no detail
    repeats text from the token."""
    assert result.credential is None
    for check in result.checks:
        assert MARK not in check.detail, check
        assert check.ok is False or check.check == "format", check


# --------------------------------------------------------------------------- strategies

any_char = st.characters(exclude_categories=())  # surrogates included
marked_text = st.text(any_char, max_size=12).map(lambda s: MARK + s)
json_scalar = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | marked_text
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(marked_text, inner, max_size=4),
    max_leaves=24,
)
json_object = st.dictionaries(marked_text, json_value, max_size=6)

# Member names the verifier reads, so generated objects reach past the first checks.
HEADER_NAMES = ["alg", "kid", "typ", "cty", "crit", "jku", "x5u", "x5c", "jwk", "b64"]
PAYLOAD_NAMES = [
    "iss", "sub", "jti", "nbf", "exp", "iat", "vc", "@context", "id", "type", "issuer", "validFrom", "validUntil",
    "issuanceDate", "expirationDate", "credentialSubject", "credentialStatus", "name",
]  # fmt: skip


def overrides(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(names), json_value, max_size=5)


# Date-times: representable or not once in UTC, odd offsets, edges of the calendar.
offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(lambda m: timedelta(minutes=m))
edge_moments = st.sampled_from(
    [datetime(1, 1, 1), datetime(1, 1, 1, 23, 59), datetime(9999, 12, 31, 23, 59, 59), datetime(9999, 12, 31)]
)
date_text = st.one_of(
    st.tuples(st.datetimes() | edge_moments, offsets).map(lambda p: p[0].replace(tzinfo=timezone(p[1])).isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),  # no offset
    st.sampled_from(["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2026-02-30T00:00:00Z", ""]),
    marked_text,
)
numeric_date = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 253_402_300_799, 253_402_300_800, 2**63, -(2**63)]),
    st.floats(allow_nan=False),
    st.text(st.sampled_from("0123456789"), min_size=1, max_size=25),
)


# --------------------------------------------------------------------------- the parser


@SETTINGS
@given(st.text(any_char, max_size=300))
def test_parse_compact_only_ever_raises_malformed(text: str) -> None:
    try:
        parse_compact(text)
    except Malformed:
        pass


@SETTINGS
@given(json_object, json_object, st.binary(max_size=80))
def test_parse_compact_of_any_json_objects_returns_or_is_malformed(
    hdr: dict[str, Any], payload: dict[str, Any], signature: bytes
) -> None:
    token = f"{b64(json.dumps(hdr))}.{b64(json.dumps(payload))}.{b64(signature)}"
    try:
        parsed = parse_compact(token)
    except Malformed:
        return
    # What it returns can be answered with: every string encodes as UTF-8.
    json.dumps(parsed.unverified_header, ensure_ascii=False).encode("utf-8")
    json.dumps(parsed.unverified_payload, ensure_ascii=False).encode("utf-8")


# --------------------------------------------------------------------------- verify: arbitrary input


@SETTINGS
@given(st.text(any_char, max_size=300))
def test_verify_any_text(text: str) -> None:
    result = answer_of(text)
    assert not result.verified
    assert_nothing_unsigned_shown(result)


@SETTINGS
@given(st.lists(st.text(st.sampled_from(B64_ALPHABET + "=+/. "), max_size=60), min_size=1, max_size=5))
def test_verify_any_dotted_base64ish_text(segments: list[str]) -> None:
    result = answer_of(".".join(segments))
    assert not result.verified


@SETTINGS
@given(overrides(HEADER_NAMES), json_object, overrides(PAYLOAD_NAMES), json_object, st.binary(max_size=80))
def test_verify_any_json_objects_unsigned(
    hdr_over: dict[str, Any], hdr_extra: dict[str, Any], over: dict[str, Any], extra: dict[str, Any], sig: bytes
) -> None:
    hdr = {**hdr_extra, **header(KEY), **hdr_over}
    payload = {**extra, **LEGIT_PAYLOAD, **over}
    result = answer_of(f"{b64(json.dumps(hdr))}.{b64(json.dumps(payload))}.{b64(sig)}")
    assert not result.verified
    assert_nothing_unsigned_shown(result)


@SETTINGS
@given(overrides(PAYLOAD_NAMES), json_object, st.sampled_from([None, "JWT", "vc+jwt"]))
def test_verify_any_payload_validly_signed(over: dict[str, Any], extra: dict[str, Any], typ: str | None) -> None:
    """Signed by the trusted key, any payload gets an answer; only the signed text may show."""
    payload = {**extra, **LEGIT_PAYLOAD, **over}
    result = answer_of(sign_raw(KEY, header(KEY, typ=typ), json.dumps(payload)))
    if result.credential is None:  # refused before the signature was checked
        assert_nothing_unsigned_shown(result)


# --------------------------------------------------------------------------- verify: mutations of a signed token


@SETTINGS
@given(st.data())
def test_a_flipped_character_is_never_verified(data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(LEGIT) - 1))
    replacement = data.draw(st.sampled_from(B64_ALPHABET + ".=+/ \u00e9\udfff"))
    assume(LEGIT[position] != replacement)
    result = answer_of(LEGIT[:position] + replacement + LEGIT[position + 1 :])
    assert not result.verified


@SETTINGS
@given(st.integers(min_value=0, max_value=len(LEGIT) - 1), st.booleans())
def test_a_truncated_token_is_never_verified(cut: int, from_the_end: bool) -> None:
    result = answer_of(LEGIT[:cut] if from_the_end else LEGIT[-cut:] if cut else "")
    assert not result.verified


@SETTINGS
@given(st.data())
def test_a_surrogate_escape_inserted_anywhere_is_never_verified(data: st.DataObject) -> None:
    hdr_b64, payload_b64, sig_b64 = LEGIT.split(".")
    text = b64url_decode(payload_b64).decode("utf-8")
    quotes = [i for i, c in enumerate(text) if c == '"']
    at = data.draw(st.sampled_from(quotes))
    escape = data.draw(st.sampled_from(["\\udfff", "\\uD800", "\\ud83d", "\\ude00\\ud83d", "\\ud83d\\ude00"]))
    mutated = text[: at + 1] + escape + text[at + 1 :]
    resign = data.draw(st.booleans())
    token = sign_raw(KEY, header(KEY), mutated) if resign else f"{hdr_b64}.{b64(mutated)}.{sig_b64}"
    result = answer_of(token)
    if not resign:
        assert not result.verified
    if escape != "\\ud83d\\ude00":  # a lone surrogate, even validly signed, is not a credential
        assert result.status == "malformed"


@SETTINGS
@given(
    st.dictionaries(st.sampled_from(["validFrom", "validUntil"]), date_text, max_size=2),
    st.dictionaries(st.sampled_from(["nbf", "exp", "iat"]), numeric_date, max_size=3),
    st.booleans(),
)
def test_any_dates_get_an_answer(dates: dict[str, str], numeric: dict[str, Any], resign: bool) -> None:
    payload = {**LEGIT_PAYLOAD, **dates, **numeric}
    if resign:
        answer_of(sign_raw(KEY, header(KEY), json.dumps(payload)))
    else:  # json.dumps spaces its separators: never the signed bytes, even with no change
        hdr_b64, _, sig_b64 = LEGIT.split(".")
        result = answer_of(f"{hdr_b64}.{b64(json.dumps(payload))}.{sig_b64}")
        assert not result.verified
        assert_nothing_unsigned_shown(result)


@SETTINGS
@given(
    st.sampled_from(["validFrom", "validUntil", "issuanceDate", "expirationDate"]),
    date_text,
    st.sampled_from(["vcdm2", "vcdm11", "transcript"]),
)
def test_any_date_anywhere_in_a_signed_credential_gets_an_answer(name: str, value: str, shape: str) -> None:
    payload: dict[str, Any] = json.loads(json.dumps(LEGIT_PAYLOAD))
    if shape == "vcdm11":
        vc = {
            k: v for k, v in payload.items() if k not in ("iss", "jti", "sub", "nbf", "exp", "validFrom", "validUntil")
        }
        vc["@context"] = ["https://www.w3.org/2018/credentials/v1"]
        vc["issuanceDate"] = "2026-01-01T00:00:00Z"
        vc[name] = value
        payload = {"iss": ISSUER, "jti": payload["jti"], "sub": payload["sub"], "vc": vc}
    elif shape == "transcript":
        payload["type"] = ["VerifiableCredential", "ClrCredential"]
        entry = {name: value, "credentialSubject": {"achievement": {"name": "A"}}}
        payload["credentialSubject"]["verifiableCredential"] = [entry]
    else:
        del payload["nbf"], payload["exp"]
        payload[name] = value
    answer_of(sign_raw(KEY, header(KEY), json.dumps(payload)))


@SETTINGS
@given(
    st.dictionaries(st.sampled_from(["validFrom", "validUntil"]), date_text, max_size=2),
    st.dictionaries(st.sampled_from(["nbf", "exp"]), numeric_date, max_size=2),
)
def test_any_status_list_dates_get_an_answer(dates: dict[str, str], numeric: dict[str, Any]) -> None:
    """The list is fetched and verified after the credential's signature: its dates are signed
    by the issuer, and still must not crash the verifier."""
    keys = InMemoryKeySource(ISSUER, KeyRing([KEY.entry()]))
    list_payload = {**status_list_payload(), **dates, **numeric}
    source = TokenStatusSource(
        {STATUS_URL: sign_raw(KEY, header(KEY, typ="vc+jwt"), json.dumps(list_payload))}, keys, []
    )
    result = Verifier(keys, source).verify(LEGIT, now=NOW)
    json.dumps(result.to_dict(), ensure_ascii=False).encode("utf-8")
    assert result.status in ("valid", "status_unavailable")


@SETTINGS
@given(
    st.integers(min_value=1, max_value=40_000),
    st.sampled_from(["[", '{"a":', '{"":']),
    st.booleans(),
    st.sampled_from(["header", "payload"]),
    st.booleans(),
)
def test_deep_nesting_gets_an_answer(depth: int, opener: str, closed: bool, part: str, resign: bool) -> None:
    closer = "]" if opener == "[" else "}"
    deep = opener * depth + "0" + (closer * depth if closed else "")
    hdr_json, payload_json = json.dumps(header(KEY)), json.dumps(LEGIT_PAYLOAD)
    if part == "header":
        hdr_json = hdr_json[:-1] + f',"deep":{deep}}}'
    else:
        payload_json = payload_json[:-1] + f',"deep":{deep}}}'
    if resign:
        token = sign_raw(KEY, hdr_json, payload_json)
    else:
        token = f"{b64(hdr_json)}.{b64(payload_json)}.{LEGIT.split('.')[2]}"
    result = answer_of(token)
    if not resign:
        assert not result.verified
    if not closed:
        assert result.status == "malformed"


def test_the_legit_token_is_valid() -> None:
    """Guard for the properties above: the token they mutate is verified as it is."""
    assert answer_of(LEGIT).verified


@pytest.mark.parametrize("token", ["", " ", ".", "..", "a.b.c", LEGIT + "."])
def test_small_cases_by_hand(token: str) -> None:
    assert not answer_of(token).verified
