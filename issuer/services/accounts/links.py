"""The e-mailed single-use links of 'Never logged in before?' and 'Forgot Password or CertManager
ID' (SPEC §5.1): 32 random bytes, only their SHA-256 stored, 15 minutes, once; the two pages
answer the same whether or not the address is known (ASVS 6.3.8)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from issuer import inputs
from issuer.context import IssuerContext
from issuer.db import unit_of_work
from issuer.models import AuthToken, Candidate
from issuer.services import audit, mail, notices
from issuer.services.accounts.errors import LoginThrottled, PasswordMismatch, TokenInvalid
from issuer.services.accounts.login import target
from issuer.services.accounts.passwords import check_password_policy, hash_password
from issuer.services.accounts.sessions import digest, end_sessions
from issuer.services.candidates import find_by_email
from issuer.throttle import Rule, Throttled

TOKEN_LIFETIME = timedelta(minutes=15)
FIRST_LOGIN = "first_login"
RESET = "reset"
LINKS_PER_ADDRESS = Rule("link-address", 3, timedelta(minutes=15))
LINKS_PER_CLIENT = Rule("link-client", 20, timedelta(hours=1))
_THROTTLED = "Too many requests for links. Wait 15 minutes and try again."


def new_token(
    session: Session, candidate: Candidate, purpose: str, now: datetime, *, lifetime: timedelta = TOKEN_LIFETIME,
    new_email: str | None = None,
) -> str:  # fmt: skip
    """A fresh single-use link token of `purpose` for `candidate` (only its SHA-256 is stored);
    the candidate's older unused links of that purpose become worthless."""
    session.execute(
        update(AuthToken)
        .where(
            AuthToken.candidate_id == candidate.id,
            AuthToken.purpose == purpose,
            AuthToken.used_at.is_(None),
            AuthToken.expires_at > now,
        )
        .values(expires_at=now),
        execution_options={"synchronize_session": False},
    )
    token = secrets.token_urlsafe(32)
    session.add(
        AuthToken(
            token_hash=digest(token),
            candidate_id=candidate.id,
            purpose=purpose,
            new_email=new_email,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    audit.record(
        session, actor="anonymous", action="auth.token_issued", target=target(candidate), now=now, purpose=purpose
    )
    return token


def _issue_link(session: Session, ctx: IssuerContext, candidate: Candidate, purpose: str, now: datetime) -> None:
    token = new_token(session, candidate, purpose, now)
    kind = "first_login" if purpose == FIRST_LOGIN else "password_reset"
    link = f"{ctx.settings.base_url}/reset/{token}"
    minutes = int(TOKEN_LIFETIME.total_seconds() // 60)
    mail.enqueue(session, notices.account_link(ctx, candidate, kind, link, minutes), now=now)


def _request_link(
    session: Session, ctx: IssuerContext, email: str, now: datetime, wanted: str, client: str, client_ip: str | None
) -> None:
    try:
        address: str | None = inputs.clean_email(email)
    except inputs.InvalidInput:
        address = None
    limits = (LINKS_PER_CLIENT, (client,)), (LINKS_PER_ADDRESS, (address or email.strip().casefold(),))
    try:
        ctx.throttle.take(session, *limits, now=now)
    except Throttled as exc:
        raise LoginThrottled(_THROTTLED, exc.retry_after) from None
    with unit_of_work(session):
        candidate = find_by_email(session, address) if address else None
        if candidate is None:
            # Same work shape as a known address (a write and a commit), and nothing sent.
            audit.record(
                session, actor="anonymous", action="auth.link_requested", target="unknown", now=now,
                purpose=wanted, ip=client_ip,
            )  # fmt: skip
        else:
            # Without a password a reset is a first login; with one, a first-login request is a reset.
            _issue_link(session, ctx, candidate, FIRST_LOGIN if candidate.password_hash is None else RESET, now)


def start_first_login(
    session: Session, ctx: IssuerContext, email: str, now: datetime, *, client: str = "", client_ip: str | None = None
) -> None:
    """'Never logged in before?' → 'By email address': e-mail a link to set the first password.
    Does nothing visible for an unknown address. Raises LoginThrottled past the limits."""
    _request_link(session, ctx, email, now, FIRST_LOGIN, client or client_ip or "", client_ip)


def start_reset(
    session: Session, ctx: IssuerContext, email: str, now: datetime, *, client: str = "", client_ip: str | None = None
) -> None:
    """'Forgot Password or CertManager ID': e-mail the CertManager ID and a reset link.
    Does nothing visible for an unknown address. Raises LoginThrottled past the limits."""
    _request_link(session, ctx, email, now, RESET, client or client_ip or "", client_ip)


def usable_token(
    session: Session, token: str, now: datetime, *, purposes: tuple[str, ...] = (FIRST_LOGIN, RESET),
    lock: bool = False, invalid: TokenInvalid | None = None,
) -> AuthToken:  # fmt: skip
    """The unused, unexpired link `token` of one of `purposes`; raises `invalid` (TokenInvalid)."""
    if not token or len(token) > 128:
        raise invalid or TokenInvalid()
    query = select(AuthToken).where(AuthToken.token_hash == digest(token))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.execute(query).scalar_one_or_none()
    if row is None or row.purpose not in purposes or row.used_at is not None or now >= row.expires_at:
        raise invalid or TokenInvalid()
    return row


def token_candidate(session: Session, token: str, now: datetime) -> Candidate:
    """The candidate a still-usable link belongs to (without using it); raises TokenInvalid."""
    row = usable_token(session, token, now)
    candidate = session.get(Candidate, row.candidate_id)
    assert candidate is not None
    return candidate


def complete_token(
    session: Session,
    ctx: IssuerContext,
    token: str,
    password: str,
    now: datetime,
    *,
    confirm: str | None = None,
    client_ip: str | None = None,
) -> Candidate:
    """Set the password through an e-mailed link: the link is used up, every session of the
    candidate ends, other open links die, and a 'password changed' notice is e-mailed."""
    if confirm is not None and confirm != password:
        raise PasswordMismatch()
    candidate = token_candidate(session, token, now)
    check_password_policy(password, certmanager_id=candidate.certmanager_id, email=candidate.email)
    new_hash = hash_password(password)  # slow: outside the write lock
    with unit_of_work(session):
        row = usable_token(session, token, now, lock=True)  # re-checked under the lock: single use
        row.used_at = now
        session.execute(
            update(AuthToken)
            .where(AuthToken.candidate_id == candidate.id, AuthToken.used_at.is_(None), AuthToken.id != row.id)
            .values(expires_at=now),
            execution_options={"synchronize_session": False},
        )
        first = candidate.password_hash is None
        candidate.password_hash = new_hash
        candidate.password_changed_at = now
        ended = end_sessions(session, candidate)
        who = target(candidate)
        audit.record(
            session, actor=who, action="auth.token_used", target=who, now=now, purpose=row.purpose, ip=client_ip
        )
        audit.record(session, actor=who, action="auth.password_changed", target=who, now=now, sessions_ended=ended)
        change = "password_set" if first else "password"
        mail.enqueue(
            session, notices.account_changed(ctx, candidate, to=candidate.email, change=change, now=now), now=now
        )
    return candidate
