"""Logging in (SPEC §5.1): by CertManager ID or e-mail address and password, each attempt
audited; a hash made with older Argon2 parameters is upgraded on a successful login."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from issuer import inputs
from issuer.db import unit_of_work
from issuer.models import Candidate
from issuer.services import audit
from issuer.services.accounts.errors import InvalidCredentials
from issuer.services.accounts.passwords import hash_password, hasher, verify_password
from issuer.services.candidates import find_by_email

CERTMANAGER_ID = re.compile(r"JPR[0-9]{9}")


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
    session: Session, identifier: str, password: str, now: datetime, *, client_ip: str | None = None
) -> Candidate:
    """The candidate whose CertManager ID or e-mail and password match (one unit of work: audit,
    hash upgrade, last login); raises InvalidCredentials otherwise."""
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


def record_throttled(session: Session, identifier: str, now: datetime, *, client_ip: str | None = None) -> None:
    """Audit a login attempt refused by throttling (before any password check)."""
    candidate = find_by_identifier(session, identifier)
    with unit_of_work(session):
        audit.record(
            session, actor="anonymous", action="auth.login_failed", target=target(candidate), now=now,
            reason="throttled", ip=client_ip,
        )  # fmt: skip
