"""The issuer generation counter: moves whenever keys or published status lists change, so
every process knows with one cheap read whether its caches are current."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from issuer.models import IssuerState


def bump_generation(session: Session) -> None:
    session.execute(update(IssuerState).where(IssuerState.id == 1).values(generation=IssuerState.generation + 1))


def lock_issuer_state(session: Session) -> None:
    """Take the issuer_state row's lock for the rest of the unit of work. Every unit that changes
    keys or status lists takes it first, before any status list row: such changes happen one
    after another, always locking in the same order (so they never deadlock), and two key
    rotations can never leave two active keys. The row is created with the schema."""
    session.execute(select(IssuerState.id).where(IssuerState.id == 1).with_for_update())


def current_generation(engine: Engine) -> int | None:
    """One primary-key read on a pooled connection of its own. This runs on every verification,
    so it goes straight to the driver: a Session would cost more than the signature check."""
    sql = "SELECT generation FROM issuer_state WHERE id = 1"
    try:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(sql)
            row = cursor.fetchone()
            cursor.close()
        finally:
            raw.close()  # back to the pool, which rolls back anything the driver began
    except engine.dialect.loaded_dbapi.Error as exc:  # the driver's own errors, as SQLAlchemy's
        raise OperationalError(sql, None, exc) from exc
    return int(row[0]) if row is not None else None
