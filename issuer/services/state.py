"""The issuer generation counter: moves whenever keys or published status lists change, so
every process knows with one cheap read whether its caches are current."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from issuer.models import IssuerState


def bump_generation(session: Session) -> None:
    session.execute(update(IssuerState).where(IssuerState.id == 1).values(generation=IssuerState.generation + 1))


def current_generation(session: Session) -> int | None:
    """One primary-key read on the session's own connection. This runs on every verification,
    so it goes straight to the driver: the ORM would cost more than the signature check."""
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute("SELECT generation FROM issuer_state WHERE id = 1")
        row = cursor.fetchone()
    finally:
        cursor.close()
    return int(row[0]) if row is not None else None
