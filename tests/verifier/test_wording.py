"""Plain words for people (`verifier.wording.plain_words`) and the verdict partial that shows them
with the technical detail folded away."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import pytest

from keys import KeyRing, KeyState
from tests.verifier.tokens import (
    BASE,
    CRED_URL,
    ISSUER,
    NOW,
    STATUS_INDEX,
    DictDetails,
    IssuerKey,
    credential_payload,
    forge,
    header,
    make_key,
    make_verifier,
    sign_raw,
    status_list,
)
from verifier import InMemoryKeySource, InMemoryStatusSource, RevocationInfo, VerificationResult, Verifier
from verifier.errors import StatusUnavailable
from verifier.result import Check
from verifier.wording import FAILED, PASSED, plain_words

TEMPLATES = Path(__file__).resolve().parents[2] / "verifier" / "templates"
EXPIRY = datetime(2029, 10, 19, 23, 59, 59, tzinfo=UTC)


@pytest.fixture(scope="module")
def es() -> IssuerKey:
    return make_key("ES256")


@pytest.fixture(scope="module")
def verifier(es: IssuerKey) -> Verifier:
    return make_verifier(es.entry())


def words(result: VerificationResult, name: str) -> str:
    found = [c for c in result.checks if c.check == name]
    assert found, result.checks
    return plain_words(result, found[-1])


def failed_words(result: VerificationResult) -> list[str]:
    return [plain_words(result, c) for c in result.checks if not c.ok]


# --------------------------------------------------------------------------- failures


def test_garbage_is_not_a_credential_we_can_read(verifier: Verifier) -> None:
    result = verifier.verify("this is not a token", now=NOW)
    assert result.status == "malformed"
    assert result.checks[-1].detail.startswith("a compact JWS")  # the API keeps the technical detail
    assert failed_words(result) == [
        "This is not a credential we can read. Check that you copied all of it, or scan the QR code again."
    ]


def test_bad_base64_reads_the_same_for_people(verifier: Verifier) -> None:
    result = verifier.verify("a.b.c=", now=NOW)
    assert result.checks[-1].detail == "a segment is not canonical unpadded base64url"
    assert failed_words(result) == [FAILED["malformed"]]


def test_invalid_signature(verifier: Verifier, es: IssuerKey) -> None:
    result = verifier.verify(forge(header(es), credential_payload(), bytes(64)), now=NOW)
    assert result.status == "invalid_signature"
    assert failed_words(result) == [
        "The credential was changed after it was signed, or it was not signed by this issuer."
    ]


@pytest.mark.parametrize(
    "make,status",
    [
        (lambda es: forge(header(es, alg="none"), credential_payload()), "unsupported"),
        (lambda es: forge(header(es, kid=f"{BASE}/keys/nope"), credential_payload(), bytes(64)), "unknown_key"),
        (
            lambda es: forge(header(es), credential_payload(issuer="https://evil.example/issuer"), bytes(64)),
            "untrusted_issuer",
        ),
    ],
    ids=["unsupported", "unknown_key", "untrusted_issuer"],
)
def test_refusals_before_the_signature(verifier: Verifier, es: IssuerKey, make: Any, status: str) -> None:
    result = verifier.verify(make(es), now=NOW)
    assert result.status == status
    assert failed_words(result) == [FAILED[status]]


def test_key_compromised(es: IssuerKey) -> None:
    result = make_verifier(es.entry(KeyState.COMPROMISED)).verify(es.sign(credential_payload()), now=NOW)
    assert result.status == "key_compromised"
    assert failed_words(result) == [FAILED["key_compromised"]]


def test_revoked_with_and_without_a_date(es: IssuerKey) -> None:
    lists = {c: status_list(STATUS_INDEX) for c in (credential_payload()["credentialStatus"]["statusListCredential"],)}
    bare = make_verifier(es.entry(), lists=lists).verify(es.sign(credential_payload()), now=NOW)
    assert bare.status == "revoked"
    assert failed_words(bare) == ["The issuer has revoked this credential."]
    details = DictDetails({CRED_URL: RevocationInfo("withdrawn", datetime(2026, 11, 26, 9, tzinfo=UTC))})
    dated = make_verifier(es.entry(), lists=lists, details=details).verify(es.sign(credential_payload()), now=NOW)
    assert failed_words(dated) == ["The issuer revoked this credential on 26 November 2026."]


def test_superseded(es: IssuerKey) -> None:
    lists = {credential_payload()["credentialStatus"]["statusListCredential"]: status_list(STATUS_INDEX)}
    info = RevocationInfo("superseded", datetime(2026, 11, 27, tzinfo=UTC), f"{BASE}/c/Newer")
    result = make_verifier(es.entry(), lists=lists, details=DictDetails({CRED_URL: info})).verify(
        es.sign(credential_payload()), now=NOW
    )
    assert result.status == "superseded"
    assert failed_words(result) == ["The issuer replaced this credential with a newer one on 27 November 2026."]


def test_suspended(es: IssuerKey) -> None:
    payload = credential_payload()
    payload["credentialStatus"]["statusPurpose"] = "suspension"
    url = payload["credentialStatus"]["statusListCredential"]
    v = make_verifier(es.entry(), lists={url: status_list(STATUS_INDEX, purposes=("suspension",))})
    result = v.verify(es.sign(payload), now=NOW)
    assert result.status == "suspended"
    assert failed_words(result) == [FAILED["suspended"]]


def test_expired_names_the_signed_date(verifier: Verifier, es: IssuerKey) -> None:
    token = es.sign(credential_payload(valid_from=EXPIRY - timedelta(days=700), valid_until=EXPIRY))
    result = verifier.verify(token, now=EXPIRY + timedelta(days=3))
    assert result.status == "expired"
    assert failed_words(result) == ["It expired on 19 October 2029."]


def test_expired_without_a_verified_signature_names_no_date() -> None:
    """The dates are the credential's own words: without a verified signature they are not used."""
    result = VerificationResult(status="expired", checked_at=NOW)
    result.checks.append(Check("validity_period", False, "expired on 19 October 2029", code="expired"))
    assert result.credential is None
    assert plain_words(result, result.checks[0]) == "It has expired."


def test_not_yet_valid_names_the_signed_date(verifier: Verifier, es: IssuerKey) -> None:
    start = NOW + timedelta(days=10)
    result = verifier.verify(
        es.sign(credential_payload(valid_from=start, valid_until=start + timedelta(days=9))), now=NOW
    )
    assert result.status == "not_yet_valid"
    assert failed_words(result) == ["It is not valid until 8 December 2026."]


def test_status_unavailable(es: IssuerKey) -> None:
    result = make_verifier(es.entry(), lists={}).verify(es.sign(credential_payload()), now=NOW)
    assert result.status == "status_unavailable"
    assert failed_words(result) == [FAILED["status_unavailable"]]
    assert "Try again" in failed_words(result)[0]


def test_key_set_unavailable_says_so(es: IssuerKey) -> None:
    class Down:
        def resolve(self, issuer: str, kid: str) -> Any:
            raise StatusUnavailable(f"the issuer's key set cannot be fetched: {issuer} {kid}")

    result = Verifier(Down(), InMemoryStatusSource()).verify(es.sign(credential_payload()), now=NOW)
    assert result.status == "status_unavailable"
    assert failed_words(result) == [FAILED["key_set_unavailable"]]
    assert ISSUER not in result.checks[-1].detail  # the key source echoed the unsigned issuer id


def test_a_hosts_check_without_a_code_reads_as_the_result_status() -> None:
    """verifier.http's 503 answer builds its own status check."""
    result = VerificationResult(status="status_unavailable", checked_at=NOW, checks=[Check("status", False, "db down")])
    assert plain_words(result, result.checks[0]) == FAILED["status_unavailable"]


# --------------------------------------------------------------------------- passes


def test_every_check_of_a_valid_credential_has_words(es: IssuerKey) -> None:
    keys = InMemoryKeySource(ISSUER, KeyRing([es.entry()]))
    token = es.sign(credential_payload(valid_until=EXPIRY))
    result = Verifier(
        keys, InMemoryStatusSource({credential_payload()["credentialStatus"]["statusListCredential"]: status_list()})
    ).verify(token, now=NOW)
    assert result.status == "valid"
    assert {c.check: plain_words(result, c) for c in result.checks} == {
        "format": PASSED["well_formed"],
        "signature": "It was signed by the issuer and has not been changed since.",
        "issuer": "It was issued by CertManager Test Issuer.",
        "validity_period": "It is valid until 19 October 2029.",
        "status": "The issuer has not revoked it.",
    }


def test_no_end_date_and_no_status_list(verifier: Verifier, es: IssuerKey) -> None:
    result = verifier.verify(es.sign(credential_payload(valid_until=None, status_index=None)), now=NOW)
    assert result.status == "valid"
    assert words(result, "validity_period") == "It has no expiry date."
    assert words(result, "status") == PASSED["no_status_list"]


def test_well_formed_but_forged_says_only_that_it_could_be_read(verifier: Verifier, es: IssuerKey) -> None:
    result = verifier.verify(forge(header(es), credential_payload(), bytes(64)), now=NOW)
    assert [plain_words(result, c) for c in result.checks if c.ok] == ["We could read the credential."]


def test_every_code_core_writes_has_words(es: IssuerKey) -> None:
    """No check the verifier records falls back to the generic sentence."""
    from verifier.errors import PRIORITY

    assert set(PRIORITY) <= set(FAILED)
    cases = [
        make_verifier(es.entry()).verify(t, now=NOW)
        for t in (
            es.sign(credential_payload()),
            es.sign(credential_payload(valid_until=None, status_index=None)),
            "x",
            sign_raw(es, header(es, typ="at+jwt"), credential_payload()),
        )
    ]
    for result in cases:
        for check in result.checks:
            assert check.code, check
            assert check.code in FAILED or check.code in PASSED, check


# --------------------------------------------------------------------------- the verdict partial


def render_checks(result: VerificationResult, *, register: bool = True) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    env.globals["check_label"] = lambda name: {"format": "Format", "signature": "Signature"}.get(name, name)
    if register:
        env.globals["plain_words"] = plain_words
    page = env.from_string('{% import "verifier/_verdict.html" as verdict %}{{ verdict.checks(result) }}')
    return page.render(result=result)


def test_checks_show_plain_words_with_the_detail_folded_away(verifier: Verifier) -> None:
    result = verifier.verify("a.b.c=", now=NOW)
    html = render_checks(result)
    item = re.search(r"<li class=\"fail\">(.*?)</li>", html, re.S)
    assert item is not None, html
    text = item.group(1)
    main, _, folded = text.partition("<details>")
    assert FAILED["malformed"] in main
    assert "base64url" not in main
    assert re.fullmatch(
        r'<summary class="muted">Technical detail</summary><div class="code">a segment is not canonical unpadded '
        r"base64url</div></details>\s*",
        folded,
    ), folded
    assert "<script" not in html  # works without JS


def test_technical_detail_is_escaped() -> None:
    result = VerificationResult(status="malformed", checked_at=NOW)
    result.checks.append(Check("format", False, '<img src=x onerror="alert(1)"> & co', code="malformed"))
    html = render_checks(result)
    assert "<img" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; co" in html


def test_checks_fall_back_to_the_detail_until_plain_words_is_registered(verifier: Verifier) -> None:
    html = render_checks(verifier.verify("a.b.c=", now=NOW), register=False)
    assert "a segment is not canonical unpadded base64url" in html
    assert "<details>" not in html


def render_details(result: VerificationResult) -> str:
    from verifier.pages import long_date_filter

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    env.filters["long_date"] = long_date_filter
    page = env.from_string('{% import "verifier/_verdict.html" as verdict %}{{ verdict.details(result) }}')
    return page.render(result=result.to_dict())


def test_a_transcript_shows_each_certification_with_its_own_expiry(verifier: Verifier, es: IssuerKey) -> None:
    """An employer sees which listed certification has expired (SPEC §5.4); names and remarks
    are isolated (<bdi>) so right-to-left text cannot reorder the words around them."""
    payload = credential_payload()
    payload["type"] = ["VerifiableCredential", "ClrCredential"]
    payload["credentialSubject"] = {
        "id": payload["credentialSubject"]["id"],
        "identifier": [{"type": "IdentityObject", "identityType": "name", "hashed": False, "identityHash": "مريم"}],
        "remarks": "For ACME",
        "verifiableCredential": [
            {
                "validUntil": "2026-11-01T23:59:59Z",
                "credentialSubject": {"achievement": {"humanCode": "OLD-1", "name": "Old One"}},
            },
            {
                "validUntil": "2029-06-30T23:59:59Z",
                "credentialSubject": {"achievement": {"humanCode": "NEW-1", "name": "New One"}},
            },
        ],
    }
    html = render_details(verifier.verify(sign_raw(es, header(es), payload), now=NOW))
    old, new = html.split("Old One")[1].split("New One")
    assert "Expired" in old and "1 November 2026" in old
    assert "Expired" not in new and "valid until 30 June 2029" in new
    assert "<bdi>مريم</bdi>" in html and "<bdi>For ACME</bdi>" in html
