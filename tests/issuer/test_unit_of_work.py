"""The unit of work (issuer/db.py): it commits once or not at all, refuses to start over writes
made outside it, nests as a savepoint, and is the only way to change state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select

from issuer.db import UnitOfWorkMisuse, get_session, unit_of_work
from issuer.models import AuditEvent, Candidate, Certification, CredentialRecord, StatusListRecord
from issuer.services import audit, candidates, certifications, issuance, keyring


class Injected(Exception):
    """A failure injected in the middle of a use case."""


def _counts(session: Any) -> dict[str, int]:
    return {
        model.__tablename__: session.execute(select(func.count()).select_from(model)).scalar_one()
        for model in (Candidate, Certification, CredentialRecord, AuditEvent)
    }


def _lists(session: Any) -> list[tuple[str, int, str]]:
    return list(session.execute(select(StatusListRecord.id, StatusListRecord.allocated, StatusListRecord.etag)))


def test_a_failure_after_a_flush_leaves_the_database_exactly_as_before(app: Any, ctx: Any, clock: Any) -> None:
    with app.app_context():
        session = get_session()
        before, lists_before = _counts(session), _lists(session)
        with pytest.raises(Injected), unit_of_work(session):
            now = clock()
            candidate = candidates.create_candidate(
                session, email="flushed@example.org", first_name="Ada", last_name="Lovelace", now=now
            )
            certifications.grant(session, ctx, candidate, "CNA-ENT", (now - timedelta(days=2)).date(), now=now)
            session.flush()  # the rows are in the database's transaction now
            assert session.execute(select(func.count()).select_from(CredentialRecord)).scalar_one() == 1
            raise Injected("after the flush")
        assert _counts(session) == before
        assert _lists(session) == lists_before  # no slot allocated, no list re-signed


def test_it_commits_once_at_the_end(app: Any, clock: Any) -> None:
    with app.app_context():
        session = get_session()
        commits: list[int] = []
        event.listen(session, "after_commit", lambda s: commits.append(1))
        with unit_of_work(session):
            audit.record(session, actor="test", action="a", target="t", now=clock())
            session.flush()
            audit.record(session, actor="test", action="b", target="t", now=clock())
        assert commits == [1]
        actions = session.execute(select(AuditEvent.action).where(AuditEvent.actor == "test")).scalars().all()
        assert sorted(actions) == ["a", "b"]


def test_writes_outside_a_unit_of_work_are_refused(app: Any, clock: Any) -> None:
    with app.app_context():
        session = get_session()
        audit.record(session, actor="test", action="stray", target="t", now=clock())
        with pytest.raises(UnitOfWorkMisuse):
            session.flush()
        session.rollback()
        with pytest.raises(UnitOfWorkMisuse):
            session.execute(insert(AuditEvent).values(at=clock(), actor="test", action="x", target="t", details={}))
        session.rollback()
        assert session.execute(select(func.count()).where(AuditEvent.actor == "test")).scalar_one() == 0


def test_it_refuses_to_start_over_pending_changes(app: Any, clock: Any) -> None:
    with app.app_context():
        session = get_session()
        session.add(AuditEvent(at=clock(), actor="test", action="pending", target="t", details={}))
        with pytest.raises(UnitOfWorkMisuse), unit_of_work(session):
            pass
        session.rollback()
        assert session.execute(select(func.count()).where(AuditEvent.actor == "test")).scalar_one() == 0


def test_reads_before_it_are_fine(app: Any, clock: Any) -> None:
    with app.app_context():
        session = get_session()
        active = keyring.active_key(session)  # a read transaction is open
        assert session.in_transaction() and active is not None
        with unit_of_work(session):
            audit.record(session, actor="test", action="after-read", target=active.thumbprint, now=clock())
        assert active.thumbprint  # loaded objects stay usable
        assert session.execute(select(func.count()).where(AuditEvent.actor == "test")).scalar_one() == 1


def test_a_nested_unit_is_a_savepoint(app: Any, clock: Any) -> None:
    with app.app_context():
        session = get_session()
        with unit_of_work(session):
            audit.record(session, actor="test", action="outer", target="t", now=clock())
            with pytest.raises(Injected), unit_of_work(session):
                audit.record(session, actor="test", action="inner", target="t", now=clock())
                session.flush()
                raise Injected("inner part fails")
            with unit_of_work(session):
                audit.record(session, actor="test", action="inner-ok", target="t", now=clock())
        actions = session.execute(select(AuditEvent.action).where(AuditEvent.actor == "test")).scalars().all()
        assert sorted(actions) == ["inner-ok", "outer"]


def test_issuance_happens_only_inside_a_unit_of_work(app: Any, ctx: Any, clock: Any, factory: Any) -> None:
    record = factory.certified()
    with app.app_context():
        session = get_session()
        old = session.get(CredentialRecord, record.id)
        with pytest.raises(UnitOfWorkMisuse):
            issuance.issue(session, ctx, issuance.grants_for(session, [old]), now=clock())
        session.rollback()
        assert session.execute(select(func.count()).select_from(CredentialRecord)).scalar_one() == 1


def test_objects_loaded_before_it_are_read_afresh_inside_it(app: Any, clock: Any, factory: Any) -> None:
    """A use case decides on what the database holds when its unit starts, not on rows loaded
    earlier in the request that another worker has changed since."""
    record = factory.certified()
    database = app.extensions["certmanager.db"]
    with app.app_context():
        session = get_session()
        loaded = session.get(CredentialRecord, record.id)
        assert loaded is not None and loaded.revoked_at is None
        with database.session() as other, unit_of_work(other):
            row = other.get(CredentialRecord, record.id)
            assert row is not None
            row.revoked_at, row.revocation_reason = clock(), "withdrawn"
        with unit_of_work(session):
            assert loaded.revoked_at is not None and loaded.revocation_reason == "withdrawn"
