"""Status-list slots under real concurrency: separate processes issuing at once never share a
(list, index), and full lists are closed and replaced (SPEC §4, §7). Runs on SQLite and, in the
PostgreSQL pass, on the real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select, update

from issuer import runtime
from issuer.db import get_session, unit_of_work
from issuer.models import AuditEvent, CredentialRecord, StatusListRecord
from issuer.services import revocation
from verifier import decode_list

ROOT = Path(__file__).resolve().parents[2]


def _run_workers(app_env, tmp_path, *, workers, count, index_range, capacity):
    flag = tmp_path / "go"
    env = {**os.environ, **app_env, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.issuer.issue_worker", str(flag), str(count), str(index_range), str(capacity)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    flag.touch()
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (out, errout) in zip(procs, results, strict=True):
        assert proc.returncode == 0, errout[-3000:]
        assert out.strip() == str(count)


def test_concurrent_processes_never_share_a_slot(app, app_env, tmp_path):
    # A small random range makes collisions between the processes near-certain.
    _run_workers(app_env, tmp_path, workers=2, count=120, index_range=400, capacity=380)
    with app.app_context():
        session = get_session()
        rows = session.execute(select(CredentialRecord.status_list_id, CredentialRecord.status_index)).all()
        assert len(rows) == 240
        assert len(set(rows)) == 240
        allocated = session.execute(select(func.sum(StatusListRecord.allocated))).scalar_one()
        assert allocated == 240


def test_full_lists_close_and_new_ones_open(app, app_env, tmp_path):
    with app.app_context():  # the list `init` made was sized by the default capacity
        session = get_session()
        with unit_of_work(session):
            session.execute(update(StatusListRecord).values(capacity=25))
    _run_workers(app_env, tmp_path, workers=2, count=60, index_range=131_072, capacity=25)
    with app.app_context():
        session = get_session()
        lists = session.execute(select(StatusListRecord)).scalars().all()
        assert len(lists) >= 5  # 120 credentials, at most 25 per list
        for record in lists:
            used = session.execute(
                select(func.count()).where(CredentialRecord.status_list_id == record.id)
            ).scalar_one()
            assert used == record.allocated <= record.capacity
            assert record.is_open == (record.allocated < record.capacity)
            # Every published list is a full-size list (herd privacy), not a short one.
            assert len(decode_list(_encoded(record.jwt))) * 8 >= 131_072


def _encoded(token: str) -> str:
    import base64
    import json

    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims["credentialSubject"]["encodedList"]


def test_concurrent_revocations_of_one_credential_change_it_once(app, factory, clock):
    """Support staff revoking the same credential at once (two windows, two reasons): one wins,
    one audit event, the other changes nothing."""
    record = factory.certified()
    ctx = runtime.of(app).ctx
    database = app.extensions["certmanager.db"]
    reasons = ["withdrawn", "misconduct", "issued_in_error", "withdrawn"] * 2
    start = threading.Barrier(len(reasons))

    def revoke(reason: str) -> bool:
        with database.session() as session:
            start.wait()
            _, changed = revocation.revoke_credential(
                session, ctx, record.id, reason=reason, note=None, actor="support:test", now=clock()
            )
            return changed

    with ThreadPoolExecutor(len(reasons)) as pool:
        outcomes = list(pool.map(revoke, reasons))
    assert outcomes.count(True) == 1
    with app.app_context():
        session = get_session()
        events = (
            session.execute(
                select(AuditEvent).where(AuditEvent.action == "credential.revoke", AuditEvent.target == record.id)
            )
            .scalars()
            .all()
        )
        assert len(events) == 1
        stored = session.get(CredentialRecord, record.id)
        assert stored is not None and stored.revocation_reason == reasons[outcomes.index(True)]
