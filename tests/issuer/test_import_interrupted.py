"""An import the database gives up on part-way (connection lost, deadlocks past every retry):
the chunks before it stay committed, the failing chunk leaves nothing, and the operator is told
which rows were rejected so far, from which line nothing was applied, and that running the import
again is safe — then it is, and the end state is that of one clean import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from issuer.services import imports
from tests.issuer.feeds_support import REG_HEADER, registration, write
from tests.issuer.test_feed_bad_values import cli, codes, everything_stored, registration_ids


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    rows = [registration(f"R{n}", f"r{n}@example.org", "EX-ENT-101", first="Ada", last=f"Row{n}") for n in range(6)]
    rows[1] = registration("BAD", "not-an-address", "EX-ENT-101")  # rejected in the first chunk
    return write(tmp_path / "reg.csv", REG_HEADER, rows)


def failing_second_chunk(monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """Chunks of two rows; the second chunk (lines 4-5) is written, then the database fails it
    `times` times. Returns the list of failures so far."""
    monkeypatch.setattr(imports, "CHUNK", 2)
    monkeypatch.setattr(imports, "RETRY_PAUSE", 0.0)
    real = imports.apply_registrations
    failures: list[int] = []

    def flaky(session: Any, ctx: Any, chunk: list[Any], report: Any, *, now: Any) -> None:
        real(session, ctx, chunk, report, now=now)
        session.flush()  # written, not committed
        if chunk[0].line == 4 and len(failures) < times:
            failures.append(1)
            raise OperationalError("INSERT", None, Exception("deadlock detected"))

    monkeypatch.setattr(imports, "apply_registrations", flaky)
    return failures


def test_a_chunk_that_keeps_failing_stops_the_import_with_a_report_and_a_rerun_finishes_it(
    app: Any, feed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = imports.apply_registrations
    failures = failing_second_chunk(monkeypatch, times=imports.RETRIES)
    outcome = cli("import", "registrations", str(feed))
    assert outcome.exit_code == 1, outcome.output
    assert len(failures) == imports.RETRIES
    assert codes(outcome) == [(3, "malformed_email")]  # what was found before it stopped
    assert "line 4" in outcome.stderr and "again" in outcome.stderr
    assert "Traceback" not in outcome.output
    assert registration_ids(app) == ["R0"]  # the first chunk only; nothing of the failing one

    monkeypatch.setattr(imports, "apply_registrations", real)
    again = cli("import", "registrations", str(feed))
    assert again.exit_code == 3, again.output
    assert registration_ids(app) == ["R0", "R2", "R3", "R4", "R5"]
    assert "1 unchanged" in again.stderr
    stored = everything_stored(app)
    assert stored.count("r0@example.org") == stored.count("r5@example.org")  # no row doubled


def test_a_chunk_that_fails_once_is_retried_and_the_import_completes(
    app: Any, feed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = failing_second_chunk(monkeypatch, times=1)
    outcome = cli("import", "registrations", str(feed))
    assert outcome.exit_code == 3, outcome.output
    assert failures == [1] and registration_ids(app) == ["R0", "R2", "R3", "R4", "R5"]
    assert "5 applied" in outcome.stderr
