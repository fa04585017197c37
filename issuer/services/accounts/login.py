"""Logging in (SPEC §5.1): by CertManager ID or e-mail address and password, each attempt
audited; a hash made with older Argon2 parameters is upgraded on a successful login.

Throttled (ASVS 6.1.1, 6.3.1) per account and client, and per client: the CertManager ID and
the e-mail address of one account count as one, and nobody can lock a candidate out from
another network. The counts live in shared storage (see `issuer.throttle`)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from issuer import inputs
from issuer.context import IssuerContext
from issuer.db import unit_of_work
from issuer.models import Candidate
from issuer.services import audit
from issuer.services.accounts.errors import CurrentPasswordIncorrect, InvalidCredentials, LoginThrottled
from issuer.services.accounts.passwords import hash_password, hasher, verify_password
from issuer.services.candidates import find_by_email
from issuer.throttle import Rule, Throttled

CERTMANAGER_ID = re.compile(r"JPR[0-9]{9}")
LOGIN_PER_ACCOUNT_AND_CLIENT = Rule("login-account-client", 5, timedelta(minutes=15))
LOGIN_PER_CLIENT = Rule("login-client", 50, timedelta(hours=1))
_ACCOUNT_THROTTLED = (
    "Too many failed logins for this account from your network. Wait 15 minutes and try again, "
    "or use 'Forgot Password or CertManager ID'."
)
_CLIENT_THROTTLED = "Too many failed logins from your network. Wait a while and try again."


def find_by_identifier(session: Session, identifier: str) -> Candidate | None:
    """The candidate with this CertManager ID (any case) or e-mail address."""
    value = identifier.strip()
    if CERTMANAGER_ID.fullmatch(value.upper()):
        query = select(Candidate).where(Candidate.certmanager_id == value.upper())
        return session.execute(query).scalar_one_or_none()
    try:
        address = inputs.clean_email(value)
    except inputs.InvalidInput:
        return None
    return find_by_email(session, address)


def target(candidate: Candidate | None) -> str:
    """How the audit log names an account."""
    return f"candidate:{candidate.certmanager_id}" if candidate is not None else "unknown"


def authenticate(
    session: Session, identifier: str, password: str, now: datetime, *, client_ip: str | None = None,
    candidate: Candidate | None = None,
) -> Candidate:  # fmt: skip
    """The candidate whose CertManager ID or e-mail and password match (one unit of work: audit,
    hash upgrade, last login); raises InvalidCredentials (audited) otherwise. `candidate` is the
    account `identifier` names, when the caller has looked it up already."""
    if candidate is None:
        candidate = find_by_identifier(session, identifier)
    stored = candidate.password_hash if candidate is not None else None
    if not verify_password(stored, password):
        reason = "unknown_account" if candidate is None else "no_password" if stored is None else "wrong_password"
        with unit_of_work(session):
            audit.record(
                session, actor="anonymous", action="auth.login_failed", target=target(candidate), now=now,
                reason=reason, ip=client_ip,
            )  # fmt: skip
        raise InvalidCredentials(reason)
    assert candidate is not None and stored is not None
    upgraded = hash_password(password) if hasher().check_needs_rehash(stored) else None
    with unit_of_work(session):
        if upgraded is not None:
            # Only over the hash just verified: a password reset committed meanwhile must win.
            upgrade = update(Candidate).where(Candidate.id == candidate.id, Candidate.password_hash == stored)
            session.execute(upgrade.values(password_hash=upgraded), execution_options={"synchronize_session": False})
        candidate.last_login_at = now
        audit.record(
            session, actor=target(candidate), action="auth.login_ok", target=target(candidate), now=now,
            ip=client_ip, rehashed=upgraded is not None,
        )  # fmt: skip
    return candidate


def account_key(candidate: Candidate | None, identifier: str) -> str:
    """Whom the login throttle counts: the account, whichever identifier was typed."""
    return f"account:{candidate.id}" if candidate is not None else f"unknown:{identifier.strip().casefold()}"


def log_in(
    session: Session, ctx: IssuerContext, identifier: str, password: str, now: datetime, *, client: str,
    client_ip: str | None = None,
) -> Candidate:  # fmt: skip
    """'Log in', throttled: raises LoginThrottled (before any password check) or InvalidCredentials.

    The attempt is counted before the password is checked, so parallel guesses cannot all slip
    under the limit; a good login then clears its account's count and takes back its own."""
    candidate = find_by_identifier(session, identifier)
    account = account_key(candidate, identifier)
    try:
        hits = ctx.throttle.take(
            session, (LOGIN_PER_ACCOUNT_AND_CLIENT, (account, client)), (LOGIN_PER_CLIENT, (client,)), now=now
        )
    except Throttled as exc:
        with unit_of_work(session):
            audit.record(
                session, actor="anonymous", action="auth.login_failed", target=target(candidate), now=now,
                reason="throttled", ip=client_ip,
            )  # fmt: skip
        message = _ACCOUNT_THROTTLED if exc.rule == LOGIN_PER_ACCOUNT_AND_CLIENT.name else _CLIENT_THROTTLED
        raise LoginThrottled(message, exc.retry_after) from None
    found = authenticate(session, identifier, password, now, client_ip=client_ip, candidate=candidate)
    ctx.throttle.clear(session, LOGIN_PER_ACCOUNT_AND_CLIENT, account, client)
    ctx.throttle.release(session, hits)
    return found


def confirm_password(
    session: Session, ctx: IssuerContext, candidate: Candidate, password: str, now: datetime, *, client: str
) -> None:
    """Re-authentication of a logged-in candidate (an e-mail or password change): throttled like a
    login, as it is a password guess too. Raises LoginThrottled or CurrentPasswordIncorrect."""
    try:
        hits = ctx.throttle.take(session, (LOGIN_PER_ACCOUNT_AND_CLIENT, (account_key(candidate, ""), client)), now=now)
    except Throttled as exc:
        raise LoginThrottled(_ACCOUNT_THROTTLED, exc.retry_after) from None
    if not verify_password(candidate.password_hash, password):
        raise CurrentPasswordIncorrect()
    ctx.throttle.release(session, hits)
