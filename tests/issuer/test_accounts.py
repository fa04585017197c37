"""The accounts service (SPEC §5.1, §6; SECURITY A4): Argon2id hashing and rehash, the password
policy and its shipped list, authentication without enumeration, single-use e-mailed links,
server-side sessions, the profile, and an audit log free of secrets."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from argon2 import Parameters, PasswordHasher, Type, profiles
from sqlalchemy import select

from issuer.db import get_session, unit_of_work
from issuer.models import AuditEvent, AuthToken, Candidate, MailMessage, WebSession
from issuer.services import accounts, candidates
from issuer.services.accounts import passwords

PASSWORD = "correct horse battery staple"
# Cheap Argon2id for everything but the format test: the policy and flows are what is tested here.
FAST = Parameters(type=Type.ID, version=19, salt_len=16, hash_len=32, time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "PASSWORD_PARAMETERS", FAST)


@pytest.fixture
def db(app: Any) -> Any:
    with app.app_context():
        yield get_session()


def new_candidate(db: Any, clock: Any, *, password: str | None = PASSWORD, email: str | None = None) -> Candidate:
    n = db.execute(select(Candidate.id)).all()
    with unit_of_work(db):
        candidate = candidates.create_candidate(
            db, email=email or f"Ada.Lovelace{len(n)}@Example.org", first_name="Ada", last_name="Lovelace", now=clock()
        )
        if password is not None:
            accounts.set_password(candidate, password, clock())
    return candidate


def outbox(db: Any, kind: str | None = None) -> list[MailMessage]:
    query = select(MailMessage).order_by(MailMessage.id)
    if kind is not None:
        query = query.where(MailMessage.kind == kind)
    return list(db.execute(query).scalars())


def link_token(message: MailMessage) -> str:
    match = re.search(r"/reset/([A-Za-z0-9_-]+)", message.body_text)
    assert match is not None, message.body_text
    return match.group(1)


# --- hashing and policy ----------------------------------------------------------------------


def test_hash_is_argon2id_with_the_rfc9106_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "PASSWORD_PARAMETERS", profiles.RFC_9106_LOW_MEMORY)
    stored = accounts.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)
    assert accounts.hash_password(PASSWORD) != stored  # salted


def test_login_upgrades_a_hash_made_with_old_parameters(db: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock, password=None)
    old = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(PASSWORD)
    with unit_of_work(db):
        candidate.password_hash = old
    accounts.authenticate(db, candidate.certmanager_id, PASSWORD, clock())
    db.refresh(candidate)
    assert candidate.password_hash != old
    assert candidate.password_hash.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert not PasswordHasher.from_parameters(FAST).check_needs_rehash(candidate.password_hash)
    accounts.authenticate(db, candidate.certmanager_id, PASSWORD, clock())  # the new hash verifies


def test_the_shipped_list_is_large_and_lower_case() -> None:
    common = accounts.common_passwords()
    assert len(common) >= 10_000
    assert all(word == word.lower() for word in common)
    assert {"password", "baseball", "iloveyou", "trustno1"} <= common


@pytest.mark.parametrize(
    ("password", "error", "reason"),
    [
        ("short12", accounts.WeakPassword, "too_short"),
        ("x" * 129, accounts.WeakPassword, "too_long"),
        ("baseball", accounts.BreachedPassword, "common"),
        ("PassWord1", accounts.BreachedPassword, "common"),
        ("TrustNo1", accounts.BreachedPassword, "common"),
        ("my jpr123456789 secret", accounts.WeakPassword, "contains_identity"),
        ("I am ada.lovelace here", accounts.WeakPassword, "contains_identity"),
    ],
)
def test_policy_refusals(password: str, error: type[Exception], reason: str) -> None:
    with pytest.raises(error) as raised:
        accounts.check_password_policy(password, certmanager_id="JPR123456789", email="ada.lovelace@example.org")
    assert raised.value.reason == reason  # type: ignore[attr-defined]
    assert raised.value.code in ("weak_password", "breached_password")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "password",
    [
        "abcdefgh" + "z",  # 9 characters, no composition rules
        "x" * 64,
        "ü" * 128,
        "Ünïcödé pässphrase ☃ with spaces",
        "ALLUPPERCASEWITHOUTDIGITS",
    ],
)
def test_policy_accepts(password: str) -> None:
    accounts.check_password_policy(password, certmanager_id="JPR123456789", email="ada.lovelace@example.org")


def test_passwords_are_unicode_normalized(db: Any, clock: Any) -> None:
    composed = "caf\u00e9 au lait du matin"
    candidate = new_candidate(db, clock, password=composed)
    decomposed = "cafe\u0301 au lait du matin"
    assert accounts.authenticate(db, candidate.email, decomposed, clock()).id == candidate.id


# --- authentication --------------------------------------------------------------------------


def test_authenticate_by_id_or_email_in_any_case(db: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    for identifier in (candidate.certmanager_id, candidate.certmanager_id.lower(), f"  {candidate.email.upper()} "):
        assert accounts.authenticate(db, identifier, PASSWORD, clock()).id == candidate.id
    db.refresh(candidate)
    assert candidate.last_login_at == clock()


def test_failures_look_the_same_and_cost_one_hash_check(db: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    known = new_candidate(db, clock)
    no_password = new_candidate(db, clock, password=None)
    calls: list[str] = []
    real_verify = PasswordHasher.verify

    def spy(self: PasswordHasher, stored: str, password: str) -> bool:
        calls.append(stored)
        return real_verify(self, stored, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    messages, reasons = set(), []
    for identifier, password in [
        (known.certmanager_id, "wrong password 123"),
        ("JPR000000000", PASSWORD),
        ("nobody@example.org", PASSWORD),
        ("not an identifier", PASSWORD),
        (no_password.email, PASSWORD),
        (known.email, "x" * 10_000),
    ]:
        calls.clear()
        with pytest.raises(accounts.InvalidCredentials) as raised:
            accounts.authenticate(db, identifier, password, clock())
        assert len(calls) == 1  # unknown accounts are checked against a dummy hash too
        messages.add((raised.value.code, raised.value.message, raised.value.http_status))
        reasons.append(raised.value.reason)
    assert len(messages) == 1
    assert reasons == ["wrong_password", "unknown_account", "unknown_account", "unknown_account", "no_password",
                       "wrong_password"]  # fmt: skip
    failed = db.execute(select(AuditEvent).where(AuditEvent.action == "auth.login_failed")).scalars().all()
    assert [event.details["reason"] for event in failed] == reasons


# --- e-mailed links --------------------------------------------------------------------------


def test_first_login_mails_a_single_use_link_storing_only_its_hash(db: Any, ctx: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock, password=None)
    accounts.start_first_login(db, ctx, candidate.email.upper(), clock())
    [message] = outbox(db, "first_login")
    assert message.to_addr == candidate.email
    assert candidate.certmanager_id in message.body_text
    token = link_token(message)
    assert len(token) >= 43  # 32 random bytes
    rows = db.execute(select(AuthToken)).scalars().all()
    assert [row.token_hash for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert rows[0].expires_at == clock() + timedelta(minutes=15)
    assert rows[0].purpose == "first_login"

    accounts.complete_token(db, ctx, token, PASSWORD, clock(), confirm=PASSWORD)
    assert accounts.authenticate(db, candidate.email, PASSWORD, clock()).id == candidate.id
    with pytest.raises(accounts.TokenInvalid):
        accounts.complete_token(db, ctx, token, "another long password", clock())
    [notice] = outbox(db, "password_changed")
    assert notice.to_addr == candidate.email
    assert token not in notice.body_text


def test_unknown_address_sends_nothing(db: Any, ctx: Any, clock: Any) -> None:
    accounts.start_first_login(db, ctx, "nobody@example.org", clock())
    accounts.start_reset(db, ctx, "nobody@example.org", clock())
    accounts.start_reset(db, ctx, "not an address", clock())
    assert outbox(db) == []
    assert db.execute(select(AuthToken)).first() is None
    events = db.execute(select(AuditEvent.action).where(AuditEvent.action.like("auth.%"))).scalars().all()
    assert events == ["auth.link_requested"] * 3


def test_reset_mail_carries_the_id_and_first_login_with_a_password_is_a_reset(db: Any, ctx: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    accounts.start_reset(db, ctx, candidate.email, clock())
    accounts.start_first_login(db, ctx, candidate.email, clock())
    messages = outbox(db)
    assert [m.kind for m in messages] == ["password_reset", "password_reset"]
    assert all(candidate.certmanager_id in m.body_text and candidate.certmanager_id in m.body_html for m in messages)
    # And the other way round: 'Forgot…' for an account that never had a password sends a first-login link.
    fresh = new_candidate(db, clock, password=None)
    accounts.start_reset(db, ctx, fresh.email, clock())
    assert outbox(db)[-1].kind == "first_login"


def test_link_expires_after_15_minutes(db: Any, ctx: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    accounts.start_reset(db, ctx, candidate.email, clock())
    token = link_token(outbox(db)[-1])
    clock.advance(minutes=14, seconds=59)
    assert accounts.token_candidate(db, token, clock()).id == candidate.id
    clock.advance(seconds=1)
    with pytest.raises(accounts.TokenInvalid) as raised:
        accounts.complete_token(db, ctx, token, "a brand new passphrase", clock())
    assert raised.value.code == "token_invalid"


def test_a_newer_link_invalidates_older_ones(db: Any, ctx: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    accounts.start_reset(db, ctx, candidate.email, clock())
    older = link_token(outbox(db)[-1])
    clock.advance(minutes=1)
    accounts.start_reset(db, ctx, candidate.email, clock())
    newer = link_token(outbox(db)[-1])
    with pytest.raises(accounts.TokenInvalid):
        accounts.token_candidate(db, older, clock())
    accounts.complete_token(db, ctx, newer, "a brand new passphrase", clock())


def test_completing_a_link_ends_every_session_and_checks_the_policy(db: Any, ctx: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    first = accounts.open_session(db, candidate, clock())
    second = accounts.open_session(db, candidate, clock())
    accounts.start_reset(db, ctx, candidate.email, clock())
    token = link_token(outbox(db)[-1])
    with pytest.raises(accounts.BreachedPassword):
        accounts.complete_token(db, ctx, token, "iloveyou", clock())
    with pytest.raises(accounts.PasswordMismatch):
        accounts.complete_token(db, ctx, token, "a brand new passphrase", clock(), confirm="a brand new passphrase!")
    assert accounts.load_session(db, first, clock()) is not None  # refusals change nothing
    accounts.complete_token(db, ctx, token, "a brand new passphrase", clock())
    assert accounts.load_session(db, first, clock()) is None
    assert accounts.load_session(db, second, clock()) is None
    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate(db, candidate.email, PASSWORD, clock())


# --- sessions --------------------------------------------------------------------------------


def test_sessions_store_only_a_hash_and_time_out(db: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    token = accounts.open_session(db, candidate, clock(), user_agent="pytest")
    assert len(token) >= 43
    [row] = db.execute(select(WebSession)).scalars().all()
    assert row.id == hashlib.sha256(token.encode()).hexdigest()
    clock.advance(minutes=29)
    assert accounts.load_session(db, token, clock()).id == candidate.id
    clock.advance(minutes=29)  # idle 29 minutes since the last request: still alive
    assert accounts.load_session(db, token, clock()) is not None
    clock.advance(minutes=30)
    assert accounts.load_session(db, token, clock()) is None
    assert db.execute(select(WebSession)).first() is None  # expired sessions are deleted


def test_absolute_session_lifetime_is_12_hours(db: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    token = accounts.open_session(db, candidate, clock())
    for _ in range(28):  # active every 25 minutes: 11 h 40 min
        clock.advance(minutes=25)
        assert accounts.load_session(db, token, clock()) is not None
    clock.advance(minutes=20)
    assert accounts.load_session(db, token, clock()) is None


def test_end_session_and_replaced_sessions(db: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    old = accounts.open_session(db, candidate, clock())
    new = accounts.open_session(db, candidate, clock(), replaces=old)
    assert new != old
    assert accounts.load_session(db, old, clock()) is None
    accounts.end_session(db, new, clock())
    assert accounts.load_session(db, new, clock()) is None
    assert accounts.load_session(db, "", clock()) is None
    assert accounts.load_session(db, "x" * 5000, clock()) is None


# --- profile ---------------------------------------------------------------------------------


def test_profile_update_never_touches_the_name(db: Any, ctx: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    form = {"phone": "+41 44 555 01 23", "company": "  Acme   AG ", "country": "ch", "first_name": "Mallory"}
    changed = accounts.update_profile(db, ctx, candidate, form, clock())
    assert sorted(changed) == ["company", "country", "phone"]
    db.expire_all()
    stored = db.get(Candidate, candidate.id)
    assert (stored.phone, stored.company, stored.country) == ("+41 44 555 01 23", "Acme AG", "CH")
    assert (stored.first_name, stored.last_name) == ("Ada", "Lovelace")
    event = db.execute(select(AuditEvent).where(AuditEvent.action == "profile.changed")).scalar_one()
    assert sorted(event.details["fields"]) == ["company", "country", "phone"]


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"country": "XX"}, "country"),
        ({"phone": "call me maybe"}, "phone"),
        ({"city": "x" * 121}, "city"),
        ({"company": "Acme\x00"}, "company"),
        ({"company": "Acme \u202eevil"}, "company"),  # a bidi override would reorder the text
        ({"job_title": "Boss\u200b"}, "job_title"),  # zero-width space
        ({"address": "Main St\u2066 1\u2069"}, "address"),  # bidi isolate
        ({"city": "Paris\u2028Lyon"}, "city"),  # a line separator in a one-line field
    ],
)
def test_profile_refuses_bad_values_without_writing(
    db: Any, ctx: Any, clock: Any, form: dict[str, str], field: str
) -> None:
    candidate = new_candidate(db, clock)
    with pytest.raises(accounts.InvalidProfile) as raised:
        accounts.update_profile(db, ctx, candidate, {"company": "Saved?", **form}, clock())
    assert field in raised.value.errors
    db.expire_all()
    assert db.get(Candidate, candidate.id).company is None


def confirm_token(message: MailMessage) -> str:
    match = re.search(r"/confirm-email/([A-Za-z0-9_-]+)", message.body_text)
    assert match is not None, message.body_text
    return match.group(1)


def test_email_change_needs_the_current_password(db: Any, ctx: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    with pytest.raises(accounts.CurrentPasswordIncorrect):
        accounts.update_profile(db, ctx, candidate, {}, clock(), email="new@example.org")
    with pytest.raises(accounts.CurrentPasswordIncorrect):
        accounts.update_profile(db, ctx, candidate, {}, clock(), email="new@example.org", current_password="nope")
    other = new_candidate(db, clock)
    with pytest.raises(accounts.EmailUnavailable):
        accounts.update_profile(db, ctx, candidate, {}, clock(), email=other.email, current_password=PASSWORD)
    assert outbox(db) == []


def test_a_new_email_takes_effect_only_when_the_link_sent_to_it_is_followed(db: Any, ctx: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    old = candidate.email
    changed = accounts.update_profile(
        db, ctx, candidate, {"company": "Acme"}, clock(), email=" New@Example.org ", current_password=PASSWORD
    )
    assert changed == ["company", "email_requested"]
    db.expire_all()
    assert db.get(Candidate, candidate.id).email == old  # not yet
    assert accounts.find_by_identifier(db, "new@example.org") is None
    [link] = outbox(db, "email_confirmation")
    assert link.to_addr == "new@example.org" and outbox(db, "email_changed") == []
    assert accounts.pending_email(db, candidate, clock()) == ("new@example.org", clock() + accounts.EMAIL_LINK_LIFETIME)
    token = confirm_token(link)
    assert accounts.email_confirmation(db, token, clock()).address == "new@example.org"

    clock.advance(hours=1)
    assert accounts.confirm_email_change(db, ctx, token, clock()).email == "new@example.org"
    db.expire_all()
    assert db.get(Candidate, candidate.id).email == "new@example.org"
    [notice] = outbox(db, "email_changed")
    assert notice.to_addr == old  # the old address is told, with the new one masked
    assert "n…@example.org" in notice.body_text and "new@example.org" not in notice.body_text
    assert accounts.pending_email(db, candidate, clock()) is None
    with pytest.raises(accounts.TokenInvalid):  # single use
        accounts.confirm_email_change(db, ctx, token, clock())
    assert {"profile.email_change_requested", "profile.email_changed"} <= {
        event.action for event in db.execute(select(AuditEvent)).scalars()
    }


def test_an_email_link_is_not_a_password_link_nor_the_reverse(db: Any, ctx: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    accounts.update_profile(db, ctx, candidate, {}, clock(), email="new@example.org", current_password=PASSWORD)
    email_token = confirm_token(outbox(db, "email_confirmation")[-1])
    with pytest.raises(accounts.TokenInvalid):
        accounts.token_candidate(db, email_token, clock())
    with pytest.raises(accounts.TokenInvalid):
        accounts.complete_token(db, ctx, email_token, "a brand new passphrase", clock())
    accounts.start_reset(db, ctx, candidate.email, clock())
    reset_token = link_token(outbox(db, "password_reset")[-1])
    with pytest.raises(accounts.TokenInvalid):
        accounts.confirm_email_change(db, ctx, reset_token, clock())
    db.expire_all()
    assert db.get(Candidate, candidate.id).email == candidate.email


def assert_address_unchanged(db: Any, candidate: Any) -> None:
    """The account keeps its old address and nobody was told of a change."""
    db.expire_all()
    assert db.get(Candidate, candidate.id).email == candidate.email
    assert outbox(db, "email_changed") == []


def test_an_email_link_expires_and_a_newer_request_replaces_it(db: Any, ctx: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    accounts.update_profile(db, ctx, candidate, {}, clock(), email="first@example.org", current_password=PASSWORD)
    first = confirm_token(outbox(db, "email_confirmation")[-1])
    accounts.update_profile(db, ctx, candidate, {}, clock(), email="second@example.org", current_password=PASSWORD)
    second = confirm_token(outbox(db, "email_confirmation")[-1])
    with pytest.raises(accounts.TokenInvalid) as replaced:
        accounts.confirm_email_change(db, ctx, first, clock())
    assert "24 hours" in replaced.value.message
    assert accounts.pending_email(db, candidate, clock()).address == "second@example.org"  # type: ignore[union-attr]
    clock.advance(hours=24)
    with pytest.raises(accounts.TokenInvalid):
        accounts.confirm_email_change(db, ctx, second, clock())
    assert_address_unchanged(db, candidate)


def test_an_address_taken_before_the_link_is_followed_is_refused(db: Any, ctx: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    accounts.update_profile(db, ctx, candidate, {}, clock(), email="wanted@example.org", current_password=PASSWORD)
    token = confirm_token(outbox(db, "email_confirmation")[-1])
    new_candidate(db, clock, email="wanted@example.org")  # e.g. a registration imported meanwhile
    with pytest.raises(accounts.EmailUnavailable):
        accounts.confirm_email_change(db, ctx, token, clock())
    assert_address_unchanged(db, candidate)


def test_email_change_requests_are_throttled(db: Any, ctx: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    for n in range(5):
        accounts.update_profile(db, ctx, candidate, {}, clock(), email=f"n{n}@example.org", current_password=PASSWORD)
    with pytest.raises(accounts.LoginThrottled):
        accounts.update_profile(db, ctx, candidate, {}, clock(), email="n9@example.org", current_password=PASSWORD)
    assert len(outbox(db, "email_confirmation")) == 5
    clock.advance(hours=1, minutes=1)
    accounts.update_profile(db, ctx, candidate, {}, clock(), email="n9@example.org", current_password=PASSWORD)


def test_audit_log_never_holds_passwords_or_tokens(db: Any, ctx: Any, clock: Any) -> None:
    candidate = new_candidate(db, clock)
    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate(db, candidate.email, "wrong but secret 123", clock())
    session_token = accounts.open_session(db, accounts.authenticate(db, candidate.email, PASSWORD, clock()), clock())
    accounts.start_reset(db, ctx, candidate.email, clock())
    token = link_token(outbox(db)[-1])
    accounts.complete_token(db, ctx, token, "the newest passphrase", clock())
    events = db.execute(select(AuditEvent)).scalars().all()
    actions = {event.action for event in events}
    assert {
        "auth.login_failed",
        "auth.login_ok",
        "auth.token_issued",
        "auth.token_used",
        "auth.password_changed",
    } <= actions
    dump = repr([(e.actor, e.action, e.target, e.details) for e in events])
    for secret in (PASSWORD, "wrong but secret 123", "the newest passphrase", token, session_token):
        assert secret not in dump
