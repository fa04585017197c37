"""Credential shapes the verifier reads (SPEC §4): our Open Badges 3.0 JWT, a third party's
VCDM 1.1 Open Badges JWT (credential inside `vc`), the consistency rules between JWT claims and
credential members, and the SPEC §3.6 result shape."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from keys import KeyState
from tests.verifier.tokens import (
    CRED_URL,
    HOLDER,
    ISSUER,
    NOW,
    OB3_CONTEXT,
    STATUS_URL,
    VALID_FROM,
    VALID_UNTIL,
    VCDM1_CONTEXT,
    VCDM2_CONTEXT,
    IssuerKey,
    check_ok,
    credential_payload,
    header,
    iso,
    make_key,
    make_verifier,
    sign_raw,
    status_entry,
    status_list,
    ts,
)
from verifier import Verifier

THIRD = "https://badges.example.edu"
THIRD_ISSUER = f"{THIRD}/issuer"
THIRD_STATUS = f"{THIRD}/status/3"
THIRD_ID = "urn:uuid:91a1f7a4-4b7f-4bb3-9b8e-6b2a2b8f0c11"
THIRD_HOLDER = "did:example:ebfeb1f712ebc6f1c276e12ec21"
ISSUED = datetime(2025, 3, 1, 9, 30, 0, tzinfo=UTC)
EXPIRES = datetime(2028, 3, 1, 9, 30, 0, tzinfo=UTC)
DECOMPOSED_NAME = "Zoe\u0301 Nguye\u0302\u0303n"  # 'Zoé Nguyễn' in NFD

CHECK_NAMES = {"format", "signature", "issuer", "validity_period", "status"}
STATUSES = {
    "valid",
    "expired",
    "not_yet_valid",
    "revoked",
    "superseded",
    "suspended",
    "invalid_signature",
    "unknown_key",
    "untrusted_issuer",
    "key_compromised",
    "malformed",
    "unsupported",
    "status_unavailable",
}


@pytest.fixture(scope="module")
def es() -> IssuerKey:
    return make_key("ES256")


@pytest.fixture(scope="module")
def third() -> IssuerKey:
    return make_key("EdDSA", base=THIRD)


@pytest.fixture(scope="module")
def ours(es: IssuerKey) -> Verifier:
    return make_verifier(es.entry())


@pytest.fixture(scope="module")
def theirs(third: IssuerKey) -> Verifier:
    return make_verifier(third.entry(), issuer=THIRD_ISSUER, lists={THIRD_STATUS: status_list(url=THIRD_STATUS)})


def vcdm11_payload(**changes: Any) -> dict[str, Any]:
    """An Open Badges JWT the pre-Final (VCDM 1.1) way, as another issuer would sign it."""
    vc: dict[str, Any] = {
        "@context": [VCDM1_CONTEXT, "https://purl.imsglobal.org/spec/ob/v3p0/context.json"],
        "id": THIRD_ID,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": THIRD_ISSUER, "type": "Profile", "name": "Example University"},
        "issuanceDate": iso(ISSUED),
        "expirationDate": iso(EXPIRES),
        "name": "Networking Fundamentals",
        "credentialSubject": {
            "id": THIRD_HOLDER,
            "type": "AchievementSubject",
            "identifier": [
                {"type": "IdentityObject", "identityType": "name", "hashed": False, "identityHash": DECOMPOSED_NAME}
            ],
            "achievement": {
                "id": f"{THIRD}/achievements/net-101",
                "type": "Achievement",
                "humanCode": "NET-101",
                "name": "Networking Fundamentals",
                "description": "Introductory networking.",
                "criteria": {"narrative": "Pass NET-101."},
            },
        },
        "credentialStatus": status_entry(77, THIRD_STATUS),
    }
    payload: dict[str, Any] = {
        "iss": THIRD_ISSUER,
        "jti": THIRD_ID,
        "sub": THIRD_HOLDER,
        "nbf": ts(ISSUED),
        "iat": ts(ISSUED),
        "exp": ts(EXPIRES),
        "vc": vc,
    }
    for path, value in changes.items():
        target, name = (vc, path[3:]) if path.startswith("vc_") else (payload, path)
        if value is _DROP:
            target.pop(name, None)
        else:
            target[name] = value
    return payload


_DROP = object()


def _signed(key: IssuerKey, payload: dict[str, Any]) -> str:
    return sign_raw(key, header(key), payload)


# --------------------------------------------------------------------------- VCDM 1.1 (third party)


def test_third_party_vcdm11_open_badge_is_valid(theirs: Verifier, third: IssuerKey) -> None:
    result = theirs.verify(_signed(third, vcdm11_payload()), now=NOW)
    assert result.status == "valid", [(c.check, c.ok, c.detail) for c in result.checks]
    assert result.verified
    cred = result.credential
    assert cred is not None
    assert cred["id"] == THIRD_ID
    assert cred["kind"] == "certification"
    assert cred["issuer"] == {"id": THIRD_ISSUER, "name": "Example University"}
    assert cred["subject_name"] == "Zoé Nguyễn"
    assert cred["subject_name"] == unicodedata.normalize("NFC", DECOMPOSED_NAME) != DECOMPOSED_NAME
    assert cred["certifications"] == [
        {"code": "NET-101", "name": "Networking Fundamentals", "valid_until": "2028-03-01T09:30:00Z", "expired": False}
    ]
    assert cred["valid_from"] == "2025-03-01T09:30:00Z"
    assert cred["valid_until"] == "2028-03-01T09:30:00Z"
    assert cred["remarks"] is None
    assert cred["disclosed"] == []


def test_third_party_vcdm11_with_typ_absent_and_issuer_as_url(theirs: Verifier, third: IssuerKey) -> None:
    payload = vcdm11_payload(vc_issuer=THIRD_ISSUER)
    result = theirs.verify(sign_raw(third, header(third, typ=None), payload), now=NOW)
    assert result.status == "valid"
    assert result.credential is not None and result.credential["issuer"]["id"] == THIRD_ISSUER


def test_third_party_vcdm11_expired_by_expiration_date(theirs: Verifier, third: IssuerKey) -> None:
    result = theirs.verify(_signed(third, vcdm11_payload()), now=EXPIRES + timedelta(minutes=5))
    assert result.status == "expired"


def test_third_party_vcdm11_revoked(third: IssuerKey) -> None:
    v = make_verifier(third.entry(), issuer=THIRD_ISSUER, lists={THIRD_STATUS: status_list(77, url=THIRD_STATUS)})
    assert v.verify(_signed(third, vcdm11_payload()), now=NOW).status == "revoked"


def test_third_party_credential_is_untrusted_by_our_verifier(ours: Verifier, third: IssuerKey) -> None:
    assert ours.verify(_signed(third, vcdm11_payload()), now=NOW).status == "untrusted_issuer"


@pytest.mark.parametrize(
    "changes",
    [
        {"nbf": ts(ISSUED) + 1},
        {"nbf": ts(ISSUED) - 3600},
        {"exp": ts(EXPIRES) + 86400},
        {"iss": f"{THIRD}/other-issuer"},
        {"vc_issuer": {"id": f"{THIRD}/other-issuer", "type": "Profile"}},
        {"jti": "urn:uuid:00000000-0000-4000-8000-000000000000"},
        {"vc_id": "urn:uuid:00000000-0000-4000-8000-000000000000"},
        {"sub": "did:example:someone-else"},
        {"vc_@context": [VCDM2_CONTEXT, OB3_CONTEXT]},  # a VCDM 2.0 credential inside `vc`
        {"vc_issuanceDate": "2025-03-01T09:30:00"},  # no offset
        {"vc_issuanceDate": _DROP, "nbf": _DROP},  # no issuance date at all
        {"vc_expirationDate": iso(ISSUED - timedelta(days=1)), "exp": ts(ISSUED - timedelta(days=1))},
        {"vc": "not an object"},
        {"vc_type": ["VerifiableCredential", 7]},
    ],
    ids=[
        "nbf+1s",
        "nbf-1h",
        "exp-mismatch",
        "iss-ne-issuer",
        "issuer-ne-iss",
        "jti-ne-id",
        "id-ne-jti",
        "sub-ne-subject",
        "vcdm2-context-in-vc",
        "date-without-offset",
        "no-issuance-date",
        "until-before-from",
        "vc-not-object",
        "type-not-strings",
    ],
)
def test_third_party_inconsistencies_are_malformed(theirs: Verifier, third: IssuerKey, changes: dict[str, Any]) -> None:
    payload = vcdm11_payload(**changes)
    result = theirs.verify(_signed(third, payload), now=NOW)
    assert result.status == "malformed", [(c.check, c.ok, c.detail) for c in result.checks]
    assert result.credential is None


# --------------------------------------------------------------------------- OB 3.0 (ours): claims vs members


def _ours(es: IssuerKey, **changes: Any) -> str:
    payload = credential_payload()
    for name, value in changes.items():
        if value is _DROP:
            payload.pop(name, None)
        else:
            payload[name] = value
    return _signed(es, payload)


@pytest.mark.parametrize(
    "changes",
    [
        {"nbf": ts(VALID_FROM) + 1},
        {"nbf": ts(VALID_FROM) - 86400},
        {"exp": ts(VALID_UNTIL) - 1},
        {"iss": "https://cm.example/issuer/"},
        {"issuer": {"id": "did:web:cm.example", "type": ["Profile"]}},
        {"issuer": _DROP},
        {"jti": "https://cm.example/c/AnotherCredential0123456"},
        {"id": "https://cm.example/c/AnotherCredential0123456"},
        {"sub": "urn:uuid:00000000-0000-4000-8000-000000000000"},
        {"validFrom": "2026-10-29"},
        {"validFrom": 1793275200},
        {"validUntil": iso(VALID_FROM - timedelta(days=1)), "exp": ts(VALID_FROM - timedelta(days=1))},
        {"@context": [VCDM1_CONTEXT, OB3_CONTEXT]},
        {"@context": [OB3_CONTEXT, VCDM2_CONTEXT]},
        {"type": ["OpenBadgeCredential"]},
        {"credentialSubject": "urn:uuid:x"},
        {"credentialStatus": {**status_entry(1), "statusListIndex": 1}},
        {"credentialStatus": {**status_entry(1), "statusListIndex": "-1"}},
        {"credentialStatus": {k: v for k, v in status_entry(1).items() if k != "statusListCredential"}},
    ],
    ids=[
        "nbf+1s",
        "nbf-1d",
        "exp-1s",
        "iss-trailing-slash",
        "issuer-did-web",
        "issuer-missing",
        "jti-ne-id",
        "id-ne-jti",
        "sub-ne-subject",
        "validFrom-date-only",
        "validFrom-number",
        "until-before-from",
        "vcdm1-context-top-level",
        "context-order",
        "no-VerifiableCredential",
        "subject-not-object",
        "index-number",
        "index-negative",
        "status-without-url",
    ],
)
def test_ob3_inconsistencies_are_malformed(ours: Verifier, es: IssuerKey, changes: dict[str, Any]) -> None:
    result = ours.verify(_ours(es, **changes), now=NOW)
    assert result.status == "malformed", [(c.check, c.ok, c.detail) for c in result.checks]
    assert result.credential is None


@pytest.mark.parametrize(
    "changes",
    [
        {"type": ["VerifiableCredential", "SomeOtherCredential"]},
        {"credentialStatus": {**status_entry(1), "type": "1EdTechRevocationList"}},
        {"credentialStatus": {**status_entry(1), "statusSize": 2}},
    ],
    ids=["unknown-credential-type", "other-status-method", "multi-bit-status"],
)
def test_ob3_unsupported_features(ours: Verifier, es: IssuerKey, changes: dict[str, Any]) -> None:
    assert ours.verify(_ours(es, **changes), now=NOW).status == "unsupported"


def test_nbf_matching_a_fractional_valid_from_is_accepted(ours: Verifier, es: IssuerKey) -> None:
    """nbf is the integer second of validFrom (NumericDate); a sub-second validFrom still agrees."""
    result = ours.verify(_ours(es, validFrom=iso(VALID_FROM)[:-1] + ".250Z"), now=NOW)
    assert result.status == "valid", [(c.check, c.ok, c.detail) for c in result.checks]


def test_offset_date_times_are_compared_as_instants(ours: Verifier, es: IssuerKey) -> None:
    for hours in (-5, 2, 5.5):
        value = VALID_FROM.astimezone(timezone(timedelta(hours=hours))).isoformat()
        assert not value.endswith(("Z", "+00:00"))
        result = ours.verify(_ours(es, validFrom=value), now=NOW)
        assert result.status == "valid", value
        assert result.credential is not None and result.credential["valid_from"] == iso(VALID_FROM)


# --------------------------------------------------------------------------- result shape (SPEC §3.6)


def test_result_dict_matches_spec_shape(ours: Verifier, es: IssuerKey) -> None:
    token = es.sign(credential_payload(first="Zoe\u0301", last="Ng"))
    out = ours.verify(token, now=NOW).to_dict()
    out = json.loads(json.dumps(out))  # JSON-serialisable as is
    assert set(out) == {"verified", "status", "checks", "credential", "checked_at"}
    assert out["verified"] is True and out["status"] == "valid"
    assert out["checked_at"] == "2026-11-28T12:00:00Z"
    assert datetime.fromisoformat(out["checked_at"]) == NOW

    assert isinstance(out["checks"], list) and out["checks"]
    for entry in out["checks"]:
        assert set(entry) == {"check", "ok", "detail"}
        assert entry["check"] in CHECK_NAMES
        assert isinstance(entry["ok"], bool) and entry["ok"] is True
        assert isinstance(entry["detail"], str) and entry["detail"]
    assert {c["check"] for c in out["checks"]} == CHECK_NAMES

    cred = out["credential"]
    assert set(cred) == {
        "id",
        "kind",
        "issuer",
        "subject_name",
        "certifications",
        "valid_from",
        "valid_until",
        "remarks",
        "disclosed",
    }
    assert cred["id"] == CRED_URL
    assert cred["kind"] == "certification"
    assert cred["issuer"] == {"id": ISSUER, "name": "CertManager Test Issuer"}
    assert cred["subject_name"] == "Zoé Ng" == unicodedata.normalize("NFC", cred["subject_name"])
    assert cred["certifications"] == [
        {
            "code": "CNA-ENT",
            "name": "Certified Network Associate - Enterprise",
            "valid_until": iso(VALID_UNTIL),
            "expired": False,
        }
    ]
    assert cred["valid_from"] == iso(VALID_FROM)
    assert cred["valid_until"] == iso(VALID_UNTIL)
    assert cred["remarks"] is None
    assert cred["disclosed"] == []


@pytest.mark.parametrize(
    "make,status",
    [
        (lambda es: "not-a-token", "malformed"),
        (
            lambda es: es.sign(
                credential_payload(valid_from=NOW - timedelta(days=900), valid_until=NOW - timedelta(days=1))
            ),
            "expired",
        ),
    ],
    ids=["malformed", "expired"],
)
def test_rejection_result_shape(ours: Verifier, es: IssuerKey, make: Any, status: str) -> None:
    out = json.loads(json.dumps(ours.verify(make(es), now=NOW).to_dict()))
    assert out["status"] == status and out["status"] in STATUSES
    assert out["verified"] is False
    assert {"verified", "status", "checks", "checked_at"} <= set(out)
    assert set(out) <= {"verified", "status", "checks", "checked_at", "credential", "revocation", "superseded_by"}
    assert any(c["ok"] is False for c in out["checks"])
    for entry in out["checks"]:
        assert set(entry) == {"check", "ok", "detail"} and entry["check"] in CHECK_NAMES
    # The credential is shown only when the signature verified.
    assert ("credential" in out) is (status == "expired")


def transcript_payload(assertions: list[dict[str, Any]], **subject: Any) -> dict[str, Any]:
    """A CLR-shaped transcript payload listing `assertions`."""
    payload = credential_payload()
    payload["type"] = ["VerifiableCredential", "ClrCredential"]
    payload["credentialSubject"] = {
        "id": HOLDER,
        "type": ["ClrSubject"],
        "identifier": payload["credentialSubject"]["identifier"],
        **subject,
        "verifiableCredential": assertions,
    }
    return payload


def test_transcript_shape(ours: Verifier, es: IssuerKey) -> None:
    """A CLR-shaped transcript: kind, remarks and one certification per assertion, each with
    its own expiry."""
    payload = transcript_payload(
        remarks="Prepared for ACME hiring.",
        assertions=[
            {
                "type": ["VerifiableCredential", "OpenBadgeCredential"],
                "validUntil": "2028-01-01T00:00:00Z",
                "credentialSubject": {"achievement": {"humanCode": "CNA-ENT", "name": "Network Associate"}},
            },
            {
                "type": ["VerifiableCredential", "OpenBadgeCredential"],
                "validUntil": "2029-06-30T00:00:00Z",
                "credentialSubject": {"achievement": {"humanCode": "CSP-SEC", "name": "Security Professional"}},
            },
        ],
    )
    result = ours.verify(_signed(es, payload), now=NOW)
    assert result.status == "valid", [(c.check, c.ok, c.detail) for c in result.checks]
    cred = result.credential
    assert cred is not None
    assert cred["kind"] == "transcript"
    assert cred["remarks"] == "Prepared for ACME hiring."
    assert cred["subject_name"] == "Ada Lovelace"
    assert cred["certifications"] == [
        {"code": "CNA-ENT", "name": "Network Associate", "valid_until": "2028-01-01T00:00:00Z", "expired": False},
        {"code": "CSP-SEC", "name": "Security Professional", "valid_until": "2029-06-30T00:00:00Z", "expired": False},
    ]
    assert set(cred) == {
        "id",
        "kind",
        "issuer",
        "subject_name",
        "certifications",
        "valid_from",
        "valid_until",
        "remarks",
        "disclosed",
    }


def test_key_states(es: IssuerKey) -> None:
    """A key rotated out (verify state) still verifies what it signed; a compromised one does not."""
    token = es.sign(credential_payload())
    assert make_verifier(es.entry(KeyState.VERIFY)).verify(token, now=NOW).status == "valid"
    assert make_verifier(es.entry(KeyState.COMPROMISED)).verify(token, now=NOW).status == "key_compromised"


def test_status_url_in_fixture_is_the_status_list(ours: Verifier, es: IssuerKey) -> None:
    """Guard for the fixtures: the credential's entry names the list the verifier holds."""
    payload = credential_payload()
    assert payload["credentialStatus"]["statusListCredential"] == STATUS_URL
    assert check_ok(ours.verify(es.sign(payload), now=NOW), "status") is True


def test_a_listed_certification_past_its_date_is_marked_expired(ours: Verifier, es: IssuerKey) -> None:
    """SPEC §3.6/§5.4: each certification a transcript lists carries `expired` as of the check."""
    payload = transcript_payload([
        {"validUntil": iso(NOW - timedelta(days=1)), "credentialSubject": {"achievement": {"humanCode": "OLD"}}},
        {"validUntil": iso(NOW + timedelta(days=1)), "credentialSubject": {"achievement": {"humanCode": "NEW"}}},
        {"credentialSubject": {"achievement": {"humanCode": "OPEN"}}},
    ])  # fmt: skip
    token = _signed(es, payload)
    result = ours.verify(token, now=NOW)
    assert result.status == "valid" and result.credential is not None
    assert [(c["code"], c["expired"]) for c in result.credential["certifications"]] == [
        ("OLD", True),
        ("NEW", False),
        ("OPEN", False),
    ]
    later = ours.verify(token, now=NOW + timedelta(days=2)).credential
    assert later is not None and [c["expired"] for c in later["certifications"]] == [True, True, False]


@pytest.mark.parametrize(
    "subject_change",
    [
        {"achievement": "CNA-ENT"},
        {"achievement": ["CNA-ENT"]},
        {"achievement": {"humanCode": 7, "name": "Network Associate"}},
        {"achievement": {"humanCode": "CNA-ENT", "name": {"en": "Network Associate"}}},
        {"identifier": "Ada Lovelace"},
        {"identifier": [["name", "Ada"]]},
    ],
    ids=[
        "achievement-string",
        "achievement-list",
        "code-number",
        "name-object",
        "identifier-string",
        "identifier-list",
    ],
)
def test_a_wrongly_typed_achievement_or_identifier_is_malformed(
    ours: Verifier, es: IssuerKey, subject_change: dict[str, Any]
) -> None:
    """Wrong claim types are `malformed` (SPEC §3.6), never read around or shown as empty."""
    payload = credential_payload()
    payload["credentialSubject"].update(subject_change)
    assert ours.verify(_signed(es, payload), now=NOW).status == "malformed"
