"""Two imports of different files running at once (real processes) lose and duplicate nothing
(SPEC §7). On PostgreSQL rows interleave under row locks; on SQLite batches take turns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from issuer.db import get_session
from issuer.models import Candidate, CredentialRecord, ExamResult, MailMessage, Registration
from tests.issuer.feeds_support import REG_HEADER, RES_HEADER, registration, result, write

ROOT = Path(__file__).resolve().parents[2]


def run_together(app_env: dict[str, str], *argvs: list[str]) -> list[subprocess.CompletedProcess[str]]:
    env = {**os.environ, **app_env, "PYTHONPATH": str(ROOT)}
    code = "from issuer.cli import main; main()"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, *argv],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    return [subprocess.CompletedProcess(p.args, p.returncode, o, e) for p, (o, e) in zip(procs, outs, strict=True)]


def test_concurrent_imports_lose_and_duplicate_nothing(app, app_env, tmp_path):
    # 120 registrations per file; 40 e-mail addresses appear in both files.
    shared = [f"shared{i}@example.org" for i in range(40)]
    files = []
    for name in ("a", "b"):
        own = [f"{name}{i}@example.org" for i in range(80)]
        rows = [registration(f"{name.upper()}-{i}", email, "EX-ENT-101", first="Cand", last=f"{name}{i}")
                for i, email in enumerate(own + shared)]  # fmt: skip
        files.append(write(tmp_path / f"reg-{name}.csv", REG_HEADER, rows))
    outcomes = run_together(
        app_env, ["import", "registrations", str(files[0])], ["import", "registrations", str(files[1])]
    )
    for outcome in outcomes:
        assert outcome.returncode == 0, outcome.stderr[-2000:]

    results = []
    for name in ("a", "b"):
        rows = [
            result(f"{name.upper()}-{i}", "EX-ENT-101", "2026-10-15", score=800 if i % 4 else 600) for i in range(120)
        ]
        results.append(write(tmp_path / f"res-{name}.csv", RES_HEADER, rows))
    outcomes = run_together(app_env, ["import", "results", str(results[0])], ["import", "results", str(results[1])])
    for outcome in outcomes:
        assert outcome.returncode == 0, outcome.stderr[-2000:]

    with app.app_context():
        session = get_session()
        assert session.execute(select(func.count()).select_from(Registration)).scalar_one() == 240
        assert session.execute(select(func.count()).select_from(Candidate)).scalar_one() == 200  # 160 own + 40 shared
        assert session.execute(select(func.count(func.distinct(Candidate.email)))).scalar_one() == 200
        created = session.execute(select(func.count()).where(MailMessage.kind == "account_created")).scalar_one()
        assert created == 200  # one welcome each, none twice
        assert session.execute(select(func.count()).select_from(ExamResult)).scalar_one() == 240
        # A shared candidate passing in both files holds one certification, maybe recertified.
        creds = session.execute(select(CredentialRecord.status_list_id, CredentialRecord.status_index)).all()
        assert len(creds) == len(set(creds))
        valid = session.execute(select(func.count()).where(CredentialRecord.revoked_at.is_(None))).scalar_one()
        passers = {f"{n}{i}" for n in ("a", "b") for i in range(80) if i % 4} | {
            f"shared{i - 80}" for i in range(80, 120) if i % 4
        }
        assert valid == len(passers)
