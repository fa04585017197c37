"""Server-side login sessions: the cookie holds a random token, the `web_sessions` table only its
SHA-256; a new token at every login; 30 minutes idle, 12 hours at most (SECURITY A4 #7)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from issuer.db import unit_of_work
from issuer.models import Candidate, WebSession
from issuer.services import audit
from issuer.services.accounts.login import target

SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=12)
SESSION_TOUCH = timedelta(minutes=1)  # last_seen_at is written at most this often


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def open_session(
    session: Session, candidate: Candidate, now: datetime, *, user_agent: str | None = None, replaces: str | None = None
) -> str:
    """A new server-side session; `replaces`, a session token the browser still held, is ended.
    Returns the token for the cookie (only its SHA-256 is stored)."""
    token = secrets.token_urlsafe(32)
    with unit_of_work(session):
        if replaces:
            session.execute(delete(WebSession).where(WebSession.id == digest(replaces)))
        session.add(
            WebSession(
                id=digest(token),
                candidate_id=candidate.id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + SESSION_ABSOLUTE,
                user_agent=(user_agent or "")[:300] or None,
            )
        )
    return token


def _web_session(session: Session, token: str) -> WebSession | None:
    if len(token) > 128:
        return None
    # Always read the row itself: another request may have ended or touched the session.
    query = select(WebSession).where(WebSession.id == digest(token)).execution_options(populate_existing=True)
    return session.execute(query).scalar_one_or_none()


def load_session(session: Session, token: str | None, now: datetime) -> Candidate | None:
    """The candidate of a live session, or None. Ending an idle or expired session, and noting
    activity (at most once a minute), are units of work of their own."""
    if not token:
        return None
    web = _web_session(session, token)
    if web is None:
        return None
    if now >= web.expires_at or now - web.last_seen_at >= SESSION_IDLE:
        with unit_of_work(session):
            session.execute(delete(WebSession).where(WebSession.id == web.id))
        return None
    candidate_id = web.candidate_id
    if now - web.last_seen_at >= SESSION_TOUCH:
        with unit_of_work(session):
            # A statement, not a flush: a concurrent logout may have deleted the row meanwhile.
            touch = update(WebSession).where(WebSession.id == web.id).values(last_seen_at=now)
            session.execute(touch, execution_options={"synchronize_session": False})
    return session.get(Candidate, candidate_id)


def end_session(session: Session, token: str, now: datetime, *, client_ip: str | None = None) -> None:
    """Logout: the session is deleted server-side, so its cookie is worthless from now on."""
    web = _web_session(session, token)
    if web is None:
        return
    candidate = session.get(Candidate, web.candidate_id)
    with unit_of_work(session):
        session.execute(delete(WebSession).where(WebSession.id == web.id))
        audit.record(
            session, actor=target(candidate), action="auth.logout", target=target(candidate), now=now, ip=client_ip
        )


def end_sessions(session: Session, candidate: Candidate, *, keep: str | None = None) -> int:
    """End every session of `candidate` but `keep` (in the caller's unit of work); returns how many."""
    query = delete(WebSession).where(WebSession.candidate_id == candidate.id)
    if keep:
        query = query.where(WebSession.id != digest(keep))
    return session.execute(query).rowcount or 0  # type: ignore[attr-defined]
