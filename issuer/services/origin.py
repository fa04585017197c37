"""The pinned public origin (SPEC §3.2). Every credential carries `CERTMANAGER_BASE_URL` (`iss`,
`kid`, ids, status lists), so the database records the origin it was initialised with and every
command and instance refuses to run with another one — before anything is written — instead of
issuing credentials the other instances cannot verify. Moving is explicit (`init --move-origin`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import unit_of_work
from issuer.errors import IssuerError
from issuer.models import CredentialRecord, IssuerState
from issuer.services import audit
from verifier.settings import SettingsError, normalize_origin


class OriginMismatch(IssuerError):
    code = "origin_mismatch"
    http_status = 503
    exit_code = 2

    def __init__(self, pinned: str, ours: str) -> None:
        super().__init__(
            f"this database belongs to {pinned}, but CERTMANAGER_BASE_URL is {ours}. Every credential "
            f"carries its origin, so nothing was done. Set CERTMANAGER_BASE_URL={pinned}, use another "
            "database (CERTMANAGER_INSTANCE_DIR or CERTMANAGER_DATABASE_URL), or move this deployment "
            "with `certmanager init --move-origin`."
        )
        self.pinned = pinned
        self.ours = ours


@dataclass(frozen=True)
class Pinned:
    origin: str
    previous: str | None = None  # set when the origin moved
    valid_with_previous: int = 0  # valid credentials that carry the previous origin


def pinned(session: Session) -> str | None:
    """The origin this database was initialised with, if recorded."""
    return session.execute(select(IssuerState.base_url).where(IssuerState.id == 1)).scalar_one_or_none()


def _same(stored: str, ours: str) -> bool:
    try:
        return normalize_origin(stored) == ours
    except SettingsError:
        return False


def check(session: Session, ctx: IssuerContext) -> None:
    """Raise OriginMismatch unless this process's origin is the pinned one (or none is pinned yet)."""
    stored = pinned(session)
    if stored is not None and not _same(stored, ctx.settings.base_url):
        raise OriginMismatch(stored, ctx.settings.base_url)


def pin(session: Session, ctx: IssuerContext, *, now: datetime, actor: str, move: bool = False) -> Pinned:
    """Record the origin when none is (in the caller's unit of work); with `move`, re-pin a
    database that belongs to another origin. Raises OriginMismatch otherwise."""
    ours = ctx.settings.base_url
    stored = pinned(session)
    if stored is not None and _same(stored, ours):
        return Pinned(ours)
    if stored is not None and not move:
        raise OriginMismatch(stored, ours)
    valid = 0
    if stored is not None:
        valid = session.execute(
            select(func.count()).where(
                CredentialRecord.revoked_at.is_(None),
                or_(CredentialRecord.valid_until.is_(None), CredentialRecord.valid_until > now),
            )
        ).scalar_one()
    session.execute(update(IssuerState).where(IssuerState.id == 1).values(base_url=ours))
    audit.record(session, actor=actor, action="origin.pin", target=ours, now=now, previous=stored, valid=valid)
    return Pinned(ours, stored, valid)


def move(session: Session, ctx: IssuerContext, *, now: datetime, actor: str) -> Pinned:
    """`init --move-origin`: re-pin to this process's origin (one unit of work)."""
    with unit_of_work(session):
        return pin(session, ctx, now=now, actor=actor, move=True)
