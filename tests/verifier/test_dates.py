"""Date-times from outside (credential and status-list members) that exist with their offset but
not in UTC: `9999-12-31T23:59:59-23:59` is 10000-01-01 in UTC, `0001-01-01T00:00:00+23:59` is
year 0. `parse_datetime` is the one boundary: it answers aware UTC or raises ValueError, so
`verify` reports `malformed` (or `status_unavailable` for a list) and never raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from keys import KeyRing
from tests.verifier.tokens import (
    HOLDER,
    ISSUER,
    NOW,
    STATUS_INDEX,
    STATUS_URL,
    VCDM1_CONTEXT,
    IssuerKey,
    TokenStatusSource,
    credential_payload,
    header,
    iso,
    make_key,
    make_verifier,
    sign_raw,
    status_entry,
    status_list_payload,
    ts,
)
from verifier import InMemoryKeySource, Verifier
from verifier.timeutil import format_datetime, parse_datetime

BEYOND_MAX = "9999-12-31T23:59:59-23:59"  # 10000-01-01T23:58:59Z
BEFORE_MIN = "0001-01-01T00:00:00+23:59"  # 0000-12-31T00:01:00Z
UNREPRESENTABLE = [BEYOND_MAX, BEFORE_MIN, "9999-12-31T23:00:00-01:00", "0001-01-01T00:30:00+01:00"]


@pytest.fixture(scope="module")
def es() -> IssuerKey:
    return make_key("ES256")


@pytest.fixture(scope="module")
def verifier(es: IssuerKey) -> Verifier:
    return make_verifier(es.entry())


def _encodes(result: Any) -> None:
    json.dumps(result.to_dict(), ensure_ascii=False).encode("utf-8")


# --------------------------------------------------------------------------- the boundary


@pytest.mark.parametrize("value", UNREPRESENTABLE)
def test_parse_datetime_refuses_what_utc_cannot_represent(value: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(value)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2026-11-28T12:00:00Z", datetime(2026, 11, 28, 12, tzinfo=UTC)),
        ("2026-11-28T07:00:00-05:00", datetime(2026, 11, 28, 12, tzinfo=UTC)),
        ("9999-12-31T23:59:59Z", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("9999-12-31T23:59:59+23:59", datetime(9999, 12, 31, 0, 0, 59, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
        ("0001-01-01T00:00:00-23:59", datetime(1, 1, 1, 23, 59, tzinfo=UTC)),
    ],
)
def test_parse_datetime_answers_aware_utc(value: str, expected: datetime) -> None:
    parsed = parse_datetime(value)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)
    format_datetime(parsed)  # and it formats


@pytest.mark.parametrize("value", ["2026-11-28T12:00:00", "2026-11-28", "", "not a date", "2026-13-01T00:00:00Z"])
def test_parse_datetime_refuses_values_without_an_offset_or_unparseable(value: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(value)


# --------------------------------------------------------------------------- credential dates


def _vcdm2(name: str, value: str) -> dict[str, Any]:
    payload = credential_payload(valid_from=NOW - timedelta(days=1), valid_until=None)
    if name == "validFrom":
        del payload["nbf"]
    payload[name] = value
    return payload


def _vcdm11(name: str, value: str) -> dict[str, Any]:
    vc = {
        "@context": [VCDM1_CONTEXT],
        "id": "urn:uuid:91a1f7a4-4b7f-4bb3-9b8e-6b2a2b8f0c11",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": ISSUER, "name": "Issuer"},
        "issuanceDate": iso(NOW - timedelta(days=1)),
        "credentialSubject": {"id": HOLDER, "achievement": {"humanCode": "X", "name": "X"}},
        "credentialStatus": status_entry(STATUS_INDEX),
    }
    vc[name] = value
    return {"iss": ISSUER, "jti": vc["id"], "sub": HOLDER, "vc": vc}


DATE_CASES = [
    (shape, name, value)
    for shape, names in (("vcdm2", ("validUntil", "validFrom")), ("vcdm11", ("expirationDate", "issuanceDate")))
    for name in names
    for value in (BEYOND_MAX, BEFORE_MIN)
]


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "bad-signature"])
@pytest.mark.parametrize("shape,name,value", DATE_CASES)
def test_unrepresentable_credential_date_is_malformed(
    verifier: Verifier, es: IssuerKey, shape: str, name: str, value: str, signed: bool
) -> None:
    payload = (_vcdm2 if shape == "vcdm2" else _vcdm11)(name, value)
    token = sign_raw(es, header(es), payload)
    if not signed:  # anyone can send this: the dates are read before the signature is checked
        token = token.rsplit(".", 1)[0] + "." + "A" * 86
    result = verifier.verify(token, now=NOW)
    assert result.status == "malformed", result.checks
    assert result.credential is None
    _encodes(result)


@pytest.mark.parametrize("value", [BEYOND_MAX, BEFORE_MIN])
def test_unrepresentable_nested_transcript_date_is_dropped(verifier: Verifier, es: IssuerKey, value: str) -> None:
    """A transcript's per-certification `validUntil` is informational: unreadable means unknown."""
    payload = credential_payload()
    payload["type"] = ["VerifiableCredential", "ClrCredential"]
    payload["credentialSubject"] = {
        "id": HOLDER,
        "type": ["ClrSubject"],
        "verifiableCredential": [
            {"validUntil": value, "credentialSubject": {"achievement": {"humanCode": "A", "name": "A"}}},
            {"validUntil": "2029-06-30T23:59:59-02:00", "credentialSubject": {"achievement": {"humanCode": "B"}}},
        ],
    }
    result = verifier.verify(sign_raw(es, header(es), payload), now=NOW)
    assert result.status == "valid", result.checks
    assert result.credential is not None
    assert [c["valid_until"] for c in result.credential["certifications"]] == [None, "2029-07-01T01:59:59Z"]
    _encodes(result)


def test_offset_dates_are_reported_in_utc(verifier: Verifier, es: IssuerKey) -> None:
    until = (NOW + timedelta(days=10)).astimezone(timezone(timedelta(hours=-23, minutes=-59)))
    payload = credential_payload(valid_until=None)
    payload["validUntil"], payload["exp"] = until.isoformat(), ts(until)
    result = verifier.verify(sign_raw(es, header(es), payload), now=NOW)
    assert result.status == "valid", result.checks
    assert result.credential is not None and result.credential["valid_until"] == iso(NOW + timedelta(days=10))


def test_far_offset_future_valid_from_is_not_yet_valid_not_a_crash(verifier: Verifier, es: IssuerKey) -> None:
    """9999-12-31T23:59:59+23:59 is representable in UTC: a date in the far future, never valid yet."""
    payload = _vcdm2("validFrom", "9999-12-31T23:59:59+23:59")
    result = verifier.verify(sign_raw(es, header(es), payload), now=NOW)
    assert result.status == "not_yet_valid", result.checks
    _encodes(result)


# --------------------------------------------------------------------------- status-list dates


@pytest.mark.parametrize("name", ["validFrom", "validUntil"])
@pytest.mark.parametrize("value", [BEYOND_MAX, BEFORE_MIN])
def test_unrepresentable_status_list_date_is_status_unavailable(es: IssuerKey, name: str, value: str) -> None:
    keys = InMemoryKeySource(ISSUER, KeyRing([es.entry()]))
    list_payload = status_list_payload()
    list_payload[name] = value
    source = TokenStatusSource({STATUS_URL: sign_raw(es, header(es, typ="vc+jwt"), list_payload)}, keys, [])
    result = Verifier(keys, source).verify(es.sign(credential_payload()), now=NOW)
    assert result.status == "status_unavailable", result.checks
    assert source.calls == [STATUS_URL]
    _encodes(result)


@pytest.mark.parametrize(
    "moment,text",
    [
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00Z"),
        (datetime(999, 5, 1, 7, 8, 9, 500, tzinfo=UTC), "0999-05-01T07:08:09Z"),
        (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "9999-12-31T23:59:59Z"),
    ],
)
def test_format_datetime_writes_four_digit_years_that_parse_back(moment: datetime, text: str) -> None:
    """strftime('%Y') writes year 1 as '1', which is not ISO 8601 (and the pages parse it back)."""
    assert format_datetime(moment) == text
    assert parse_datetime(text) == moment.replace(microsecond=0)


def test_year_one_valid_from_round_trips_through_the_result(verifier: Verifier, es: IssuerKey) -> None:
    payload = credential_payload(valid_from=None)
    payload["validFrom"] = "0001-01-01T00:00:00+00:00"
    result = verifier.verify(sign_raw(es, header(es), payload), now=NOW)
    assert result.status == "valid", result.checks
    assert result.credential is not None
    assert parse_datetime(result.credential["valid_from"]) == datetime(1, 1, 1, tzinfo=UTC)
