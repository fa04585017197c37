"""The issuer generation counter: moves whenever keys or published status lists change, so
every process knows with one cheap read whether its caches are current."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from issuer.models import IssuerState


def bump_generation(session: Session) -> None:
    session.execute(update(IssuerState).where(IssuerState.id == 1).values(generation=IssuerState.generation + 1))


def current_generation(session: Session) -> int | None:
    return session.execute(select(IssuerState.generation).where(IssuerState.id == 1)).scalar_one_or_none()
