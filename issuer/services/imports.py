"""Importing the vendor feeds (SPEC §3.5, §5.1–5.3): registrations create accounts; results grant
certifications and issue credentials.

A file streams through in chunks of `CHUNK` rows; each chunk is one unit of work: every good
row of it is applied and committed together, or — on a failure — none is. Bad rows are rejected
(reported as `line N: code: reason`) before anything is written, so no row is ever half-applied.
A chunk that collides with a concurrent import is rolled back and applied again against what is
committed then; imports are idempotent by `registration_id`, so nothing is lost or doubled."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from itertools import islice
from pathlib import Path

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import unit_of_work
from issuer.errors import IssuerError
from issuer.ids import new_credential_id
from issuer.services import audit, feeds
from issuer.services.feeds import FeedRow
from issuer.services.import_report import ImportReport, Progress
from issuer.services.registration_rows import apply_registrations
from issuer.services.result_rows import apply_results

CHUNK = 5000
RETRIES = 3
RETRY_PAUSE = 0.05  # seconds, times the attempt number


ChunkApplier = Callable[[Session, IssuerContext, list[FeedRow], ImportReport], None]


def count_rows(path: Path) -> int:
    """Lines after the header (an upper bound of the rows, for the progress bar)."""
    return max(0, feeds.check_encoding(path) - 1)


def _chunks(rows: Iterable[FeedRow]) -> Iterator[list[FeedRow]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk


class ImportInterrupted(IssuerError):
    """The database failed a chunk on every attempt. The chunks before it are committed, nothing of
    it is; `report` covers what was applied, and rows from `line` on were not."""

    code = "import_interrupted"
    http_status = 503

    def __init__(self, report: ImportReport, line: int, cause: Exception) -> None:
        super().__init__(
            f"the database failed at line {line} ({cause.__class__.__name__}), {RETRIES} times: rows from "
            f"line {line} on were not imported. Run the same import again when the database is back; "
            "rows already imported are recognised and left unchanged."
        )
        self.report, self.line = report, line


def _apply(
    session: Session, ctx: IssuerContext, chunk: list[FeedRow], apply: ChunkApplier, report: ImportReport
) -> None:
    """One chunk, one unit of work; retried from scratch after a collision with another import
    (a unique row written at the same moment, a deadlock, a serialization failure, a lost
    connection). Raises ImportInterrupted when every attempt failed."""
    for attempt in range(1, RETRIES + 1):
        part = ImportReport(kind=report.kind)
        try:
            with unit_of_work(session):
                apply(session, ctx, chunk, part)
        except (IntegrityError, OperationalError) as exc:
            if attempt == RETRIES:
                raise ImportInterrupted(report, chunk[0].line, exc) from exc
            time.sleep(RETRY_PAUSE * attempt)  # let the other transaction finish
            continue
        report.add(part)
        return


def _run(
    session: Session,
    ctx: IssuerContext,
    rows: Iterable[FeedRow],
    apply: ChunkApplier,
    report: ImportReport,
    *,
    now: datetime,
    actor: str,
    progress: Progress | None,
) -> ImportReport:
    for chunk in _chunks(rows):
        _apply(session, ctx, chunk, apply, report)
        if progress is not None:
            progress(report.rows_read)
    report.rejected.sort()
    with unit_of_work(session):
        audit.record(
            session, actor=actor, action=f"import.{report.kind}", target=report.kind, now=now,
            rows=report.rows_read, rejected=report.rows_rejected, credentials=report.credentials_issued,
        )  # fmt: skip
    return report


def import_registrations(
    session: Session, ctx: IssuerContext, path: Path, *, now: datetime, actor: str, progress: Progress | None = None
) -> ImportReport:
    """The registration feed: accounts for new e-mail addresses, a registration per row."""

    def apply(session: Session, ctx: IssuerContext, chunk: list[FeedRow], report: ImportReport) -> None:
        apply_registrations(session, ctx, chunk, report, now=now)

    rows = feeds.read_rows(path, feeds.REGISTRATION_COLUMNS, feeds.REGISTRATION_OPTIONAL)
    return _run(session, ctx, rows, apply, ImportReport("registrations"), now=now, actor=actor, progress=progress)


def import_results(
    session: Session, ctx: IssuerContext, path: Path, *, now: datetime, actor: str, progress: Progress | None = None
) -> ImportReport:
    """The results feed: results under Exams, certifications and their credentials by the rules,
    and one 'new results' e-mail per candidate and run."""
    run_id = new_credential_id()  # groups this run's e-mails: one per candidate

    def apply(session: Session, ctx: IssuerContext, chunk: list[FeedRow], report: ImportReport) -> None:
        apply_results(session, ctx, chunk, report, now=now, actor=actor, run_id=run_id)

    rows = feeds.read_rows(path, feeds.RESULT_COLUMNS)
    return _run(session, ctx, rows, apply, ImportReport("results"), now=now, actor=actor, progress=progress)
