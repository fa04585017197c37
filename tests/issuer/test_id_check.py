"""'Check a CertManager ID' (SPEC §3.4 `POST /c/<id>/check-id`, §4): only "matches" or "does
not match", only for a credential that is not revoked, limited per client (IPv6 by /64) and per
credential in storage every worker shares, and nothing about the query kept but the throttle's
expiring counters. The credential itself carries no CertManager ID."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from issuer import runtime
from issuer.db import get_session
from issuer.models import AuditEvent, CredentialRecord, ThrottleHit
from issuer.services import id_check, revocation
from issuer.throttle import Throttle
from tests.conftest import make_app

PROBLEM = "application/problem+json"
MATCHES = "This CertManager ID matches the holder of this credential."
NO_MATCH = "This CertManager ID does not match the holder of this credential."
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("JPR0123456789", "ＪＰＲ０１２３４５６７８９")
JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def holder_id(app: Any, record: Any) -> str:
    with app.app_context():
        stored = get_session().get(CredentialRecord, record.id)
        assert stored is not None
        certmanager_id: str = stored.candidate.certmanager_id
        return certmanager_id


def check(client: Any, cred_id: str, typed: str | None, *, addr: str = "203.0.113.7", json_: bool = True) -> Any:
    data = {} if typed is None else {"certmanager_id": typed}
    return client.post(
        f"/c/{cred_id}/check-id", data=data, headers=JSON if json_ else HTML, environ_base={"REMOTE_ADDR": addr}
    )


def matches(response: Any) -> bool:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    body = json.loads(response.get_data(as_text=True))
    assert set(body) == {"matches"}
    assert isinstance(body["matches"], bool)
    return bool(body["matches"])


def problem_code(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == PROBLEM
    body = json.loads(response.get_data(as_text=True))
    assert body["status"] == status
    assert "matches" not in body
    code: str = body["code"]
    return code


def keys_of(value: Any) -> Iterator[str]:
    """Every member name in a JSON document, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from keys_of(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys_of(item)


def revoke(app: Any, clock: Any, record: Any, reason: str) -> None:
    with app.app_context():
        revocation.revoke_credential(
            get_session(), runtime.of(app).ctx, record.id, reason=reason, note=None, actor="test", now=clock()
        )


@pytest.fixture
def second_app(app_env: dict[str, str], clock: Any, app: Any) -> Iterator[Any]:
    """Another worker: its own app, engine and throttle on the same database."""
    other = make_app(app_env, clock)
    yield other
    other.extensions["certmanager.db"].dispose()


# --- the answer ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["exact", "lower", "mixed", "spaces", "tabs_newline"])
def test_the_holders_id_matches_in_any_case_with_surrounding_spaces(
    app: Any, client: Any, factory: Any, shape: str
) -> None:
    record = factory.certified()
    real = holder_id(app, record)
    typed = {
        "exact": real,
        "lower": real.lower(),
        "mixed": "jPr" + real[3:],
        "spaces": f"   {real}  ",
        "tabs_newline": f"\t{real.lower()}\r\n",
    }[shape]
    assert matches(check(client, record.id, typed)) is True


@pytest.mark.parametrize(
    "shape",
    [
        "other_candidate",
        "empty",
        "blank",
        "garbage",
        "ten_kb",
        "arabic_indic_digits",
        "fullwidth",
        "inner_space",
        "too_short",
        "too_long",
        "prefix_only",
        "nul",
    ],
)
def test_anything_else_does_not_match(app: Any, client: Any, factory: Any, shape: str) -> None:
    record = factory.certified()
    other = factory.certified(first="Grace", last="Hopper")
    real = holder_id(app, record)
    typed = {
        "other_candidate": holder_id(app, other),
        "empty": "",
        "blank": "   ",
        "garbage": "'; DROP TABLE candidates; --",
        "ten_kb": "x" * 10_000 + real + "y" * 240,
        "arabic_indic_digits": real[:3] + real[3:].translate(ARABIC_INDIC),  # int('٣') == 3
        "fullwidth": real.translate(FULLWIDTH),
        "inner_space": f"{real[:3]} {real[3:]}",
        "too_short": real[:-1],
        "too_long": real + "0",
        "prefix_only": "JPR",
        "nul": real + "\x00",
    }[shape]
    assert matches(check(client, record.id, typed)) is False


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("JPR012345678", "JPR012345678"),
        (" jpr012345678\n", "JPR012345678"),
        ("JPR01234567", None),
        ("JPR0123456789", None),
        ("JPR٠١٢٣٤٥٦٧٨", None),
        ("ＪＰＲ012345678", None),
        ("JPR-012345678", None),
        ("", None),
    ],
)
def test_normalize(typed: str, expected: str | None) -> None:
    assert id_check.normalize(typed) == expected


def test_json_answer_is_public_uncached_and_sets_no_cookie(app: Any, client: Any, factory: Any) -> None:
    record = factory.certified()
    response = check(client, record.id, holder_id(app, record))
    assert matches(response) is True
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Accept" in response.headers.get("Vary", "")
    assert "Set-Cookie" not in response.headers


def test_html_answer_says_so_in_plain_words_and_echoes_nothing(app: Any, client: Any, factory: Any) -> None:
    record = factory.certified()
    other = factory.certified(first="Grace", last="Hopper")
    real, others = holder_id(app, record), holder_id(app, other)

    yes = check(client, record.id, f"  {real.lower()} ", json_=False)
    assert yes.status_code == 200
    assert yes.mimetype == "text/html"
    page = yes.get_data(as_text=True)
    assert MATCHES in page
    assert NO_MATCH not in page
    assert real not in page.upper()  # neither the real ID nor the typed value, in any case
    assert "Ada Lovelace" in page  # the credential page again, with the answer
    assert yes.headers["Cache-Control"] == "no-store"
    assert yes.headers["Access-Control-Allow-Origin"] == "*"
    assert "Set-Cookie" not in yes.headers

    no = check(client, record.id, others, json_=False)
    assert no.status_code == 200
    page = no.get_data(as_text=True)
    assert NO_MATCH in page
    assert MATCHES not in page
    assert others not in page.upper()
    assert real not in page.upper()


def test_credential_page_has_the_form(app: Any, client: Any, factory: Any) -> None:
    record = factory.certified()
    response = client.get(f"/c/{record.id}", headers=HTML)
    page = response.get_data(as_text=True)
    assert "Check a CertManager ID" in page
    assert f'action="/c/{record.id}/check-id#check-id"' in page
    assert '<label for="certmanager-id">CertManager ID</label>' in page
    assert 'name="certmanager_id"' in page
    assert 'autocomplete="off"' in page
    assert 'inputmode="text"' in page
    assert ">Check</button>" in page
    assert "We only answer whether it matches." in page
    assert 'name="csrf_token"' not in page  # public: no token, no cookie
    assert "Set-Cookie" not in response.headers
    assert holder_id(app, record) not in page


def test_an_expired_credential_still_answers(app: Any, client: Any, factory: Any, clock: Any) -> None:
    record = factory.certified()
    clock.advance(days=365 * 12)
    page = client.get(f"/c/{record.id}", headers=HTML).get_data(as_text=True)
    assert "Expired" in page or "expired" in page
    assert "Check a CertManager ID" in page
    assert matches(check(client, record.id, holder_id(app, record))) is True


def test_missing_field_is_400(client: Any, factory: Any) -> None:
    record = factory.certified()
    assert problem_code(check(client, record.id, None), 400) == "missing_field"
    page = check(client, record.id, None, json_=False)
    assert page.status_code == 400
    assert page.mimetype == "text/html"


# --- no answer -------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["withdrawn", "superseded"])
def test_revoked_or_superseded_gives_410_and_no_answer(
    app: Any, client: Any, factory: Any, clock: Any, reason: str
) -> None:
    record = factory.certified()
    real = holder_id(app, record)
    revoke(app, clock, record, reason)
    for typed in (real, "JPR000000000"):
        response = check(client, record.id, typed)
        assert problem_code(response, 410) == "credential_revoked"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Cache-Control"] == "no-store"
        page = check(client, record.id, typed, json_=False)
        assert page.status_code == 410
        text = page.get_data(as_text=True)
        assert MATCHES not in text
        assert NO_MATCH not in text
    credential_page = client.get(f"/c/{record.id}", headers=HTML).get_data(as_text=True)
    assert "Check a CertManager ID" not in credential_page
    assert "check-id" not in credential_page
    with app.app_context():
        assert get_session().execute(select(ThrottleHit)).first() is None  # nothing counted either


@pytest.mark.parametrize("ref", ["Z" * 22, "not-an-id"])
def test_unknown_credential_is_404_problem_json(client: Any, ref: str) -> None:
    response = check(client, ref, "JPR000000000")
    assert problem_code(response, 404) == "credential_not_found"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    page = check(client, ref, "JPR000000000", json_=False)
    assert page.status_code == 404
    assert page.mimetype == "text/html"


# --- rate limits -----------------------------------------------------------------------------


def assert_throttled(response: Any, max_wait: int) -> None:
    assert problem_code(response, 429) == "rate_limited"
    assert 0 < int(response.headers["Retry-After"]) <= max_wait
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_per_client_limit_is_shared_by_two_workers(app: Any, client: Any, factory: Any, second_app: Any) -> None:
    first, second = factory.certified(), factory.certified(first="Grace", last="Hopper")
    for _ in range(id_check.PER_CLIENT.limit):
        assert matches(check(client, first.id, "JPR000000000")) is False
    other_worker = second_app.test_client()
    assert_throttled(check(other_worker, second.id, holder_id(app, second)), 3600)
    assert_throttled(check(client, second.id, holder_id(app, second)), 3600)
    # People get the credential page saying why, with no answer.
    page = check(other_worker, second.id, holder_id(app, second), json_=False)
    assert page.status_code == 429
    assert "Retry-After" in page.headers
    text = page.get_data(as_text=True)
    assert "Too many CertManager ID checks" in text
    assert MATCHES not in text
    # Another client is not affected.
    assert matches(check(other_worker, second.id, holder_id(app, second), addr="198.51.100.9")) is True


def test_per_credential_limit_counts_every_client(app: Any, client: Any, factory: Any, second_app: Any) -> None:
    record, other = factory.certified(), factory.certified(first="Grace", last="Hopper")
    clients = [client, second_app.test_client()]
    for n in range(id_check.PER_CREDENTIAL.limit):
        assert matches(check(clients[n % 2], record.id, "JPR000000000", addr=f"192.0.2.{n + 1}")) is False
    assert_throttled(check(client, record.id, holder_id(app, record), addr="192.0.2.200"), 24 * 3600)
    # The limit is this credential's: the same new client checks another one.
    assert matches(check(client, other.id, holder_id(app, other), addr="192.0.2.200")) is True


def test_ipv6_clients_in_one_64_share_a_limit(app: Any, client: Any, factory: Any) -> None:
    record = factory.certified()
    real = holder_id(app, record)
    for n in range(id_check.PER_CLIENT.limit):
        assert matches(check(client, record.id, "JPR000000000", addr=f"2001:db8:1:2::{n + 1:x}")) is False
    assert_throttled(check(client, record.id, real, addr="2001:db8:1:2:ffff:ffff:ffff:fffe"), 3600)
    assert matches(check(client, record.id, real, addr="2001:db8:1:3::1")) is True


def test_limits_reset_after_their_window(app: Any, client: Any, factory: Any, clock: Any) -> None:
    record = factory.certified()
    real = holder_id(app, record)
    for _ in range(id_check.PER_CLIENT.limit):
        check(client, record.id, "JPR000000000")
    assert_throttled(check(client, record.id, real), 3600)
    clock.advance(hours=2)
    assert matches(check(client, record.id, real)) is True

    for n in range(id_check.PER_CREDENTIAL.limit - id_check.PER_CLIENT.limit - 1):
        check(client, record.id, "JPR000000000", addr=f"192.0.2.{n + 1}")
    assert_throttled(check(client, record.id, real, addr="198.51.100.1"), 24 * 3600)
    clock.advance(hours=23)  # the first ten checks, 25 hours ago, have left the day
    assert matches(check(client, record.id, real, addr="198.51.100.1")) is True


def test_a_refused_check_uses_up_nothing(app: Any, client: Any, factory: Any, clock: Any) -> None:
    record = factory.certified()
    for _ in range(id_check.PER_CLIENT.limit):
        check(client, record.id, "JPR000000000")
    for _ in range(5):
        assert_throttled(check(client, record.id, "JPR000000000"), 3600)
    with app.app_context():
        count = len(get_session().execute(select(ThrottleHit)).all())
    assert count == 2 * id_check.PER_CLIENT.limit  # one per rule per answered check


# --- nothing kept ----------------------------------------------------------------------------


def test_nothing_about_the_query_is_stored_or_logged(
    app: Any, client: Any, factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    record = factory.certified()
    other = factory.certified(first="Grace", last="Hopper")
    real, others = holder_id(app, record), holder_id(app, other)
    with app.app_context():
        audit_before = [
            (e.id, e.action, e.target, e.details) for e in get_session().execute(select(AuditEvent)).scalars()
        ]
    caplog.set_level(logging.DEBUG)
    typed_values = [real, real.lower(), others, "JPR424242424"]
    for typed in typed_values:
        check(client, record.id, typed)
        check(client, record.id, typed, json_=False)
    with app.app_context():
        session = get_session()
        audit_after = [(e.id, e.action, e.target, e.details) for e in session.execute(select(AuditEvent)).scalars()]
        hits = list(session.execute(select(ThrottleHit)).scalars())
    assert audit_after == audit_before  # no audit row at all
    # The only trace: expiring counters under two hashed keys (this client, this credential).
    assert {h.key for h in hits} == {
        Throttle.key(id_check.PER_CLIENT, "203.0.113.7"),
        Throttle.key(id_check.PER_CREDENTIAL, record.id),
    }
    assert all(h.expires_at > h.at for h in hits)
    stored = json.dumps(
        [[h.key, str(h.at), str(h.expires_at)] for h in hits] + [list(map(str, r)) for r in audit_after]
    )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for value in [*typed_values, real[3:], others[3:], "424242424"]:
        assert value not in stored
        assert value.upper() not in logged.upper()


def test_the_credential_carries_no_certmanager_id(app: Any, client: Any, factory: Any) -> None:
    record = factory.certified()
    real = holder_id(app, record)
    header, payload, _signature = record.jwt.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    text = json.dumps(claims) + base64.urlsafe_b64decode(header + "==").decode()
    assert real[3:] not in text
    assert real not in text.upper()
    digests = set()
    for form in (real, real.lower(), real[3:]):
        raw = hashlib.sha256(form.encode()).digest()
        digests |= {raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    assert not any(d in text for d in digests)
    assert not {"salt", "certmanager_id", "certmanagerId"} & set(keys_of(claims))
    subject = claims.get("vc", claims).get("credentialSubject", claims.get("credentialSubject"))
    identifiers = subject.get("identifier", [])
    for identity in identifiers if isinstance(identifiers, list) else [identifiers]:
        assert identity["identityType"] == "name"
        assert identity["hashed"] is False
    # Nor does anything else the page serves about the credential.
    for accept in (HTML, JSON):
        assert real not in client.get(f"/c/{record.id}", headers=accept).get_data(as_text=True)
