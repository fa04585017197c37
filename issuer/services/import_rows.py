"""What every feed import shares: the report, the all-or-nothing application of one row, and
the parsing of a results row."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import begin_write
from issuer.services import audit, feeds
from issuer.services.feeds import FeedRow, RowRejected

_RETRIES = 3


@dataclass
class ImportReport:
    kind: str
    rows_read: int = 0
    rows_applied: int = 0
    rows_unchanged: int = 0  # already imported with the same data
    accounts_created: int = 0
    registrations_created: int = 0
    results_imported: int = 0
    certifications_granted: int = 0
    certifications_recertified: int = 0
    grants_held: int = 0
    credentials_issued: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, code, reason)

    @property
    def rows_rejected(self) -> int:
        return len(self.rejected)


Progress = Callable[[int], None]


Progress = Callable[[int], None]


RowApplier = Callable[[Session, IssuerContext, FeedRow, ImportReport, datetime, str], None]


def apply_one(
    session: Session,
    ctx: IssuerContext,
    row: FeedRow,
    report: ImportReport,
    apply: RowApplier,
    *,
    now: datetime,
    actor: str,
) -> None:
    """One row, all or nothing (a savepoint); a conflict with a concurrent import is retried
    against what is committed then."""
    report.rows_read += 1
    for _attempt in range(_RETRIES):
        try:
            with session.begin_nested():
                if "__error__" in row.values:
                    raise RowRejected(row.values.get("__code__", "malformed_row"), row.values["__error__"])
                apply(session, ctx, row, report, now, actor)
            return
        except RowRejected as exc:
            report.rejected.append((row.line, exc.code, exc.reason))
            return
        except (IntegrityError, OperationalError):
            # Another import got there first (or a lock conflict): release what this batch holds.
            session.commit()
            begin_write(session)
    report.rejected.append((row.line, "concurrent_update", "the row conflicted with another import; import it again"))


def finish(session: Session, report: ImportReport, *, now: datetime, actor: str) -> None:
    report.rejected.sort()  # chunks settle some rows early: report in file order
    audit.record(
        session, actor=actor, action=f"import.{report.kind}", target=report.kind, now=now,
        rows=report.rows_read, rejected=report.rows_rejected, credentials=report.credentials_issued,
    )  # fmt: skip
    session.commit()


@dataclass(frozen=True)
class ParsedResult:
    registration_id: str
    exam_code: str
    exam_date: date
    score: int
    passing_score: int
    passed: bool


def parse_result(values: dict[str, str], exams: Mapping[str, str], now: datetime) -> ParsedResult:
    """Validate a results row by itself (no database). Raises RowRejected."""
    if "__error__" in values:
        raise RowRejected(values.get("__code__", "malformed_row"), values["__error__"])
    reg_id = feeds.registration_id(values)
    exam_code = feeds.required(values, "exam_code")
    exam_date = feeds.iso_date(values, "exam_date")
    assert exam_date is not None
    score, passing = feeds.integer(values, "score"), feeds.integer(values, "passing_score")
    outcome = feeds.required(values, "result").lower()
    if outcome not in ("pass", "fail"):
        raise RowRejected("bad_result", f"result must be pass or fail, not {values['result']!r}")
    if exam_code not in exams:
        raise RowRejected("unknown_exam", f"exam {exam_code!r} is not in the catalog")
    if (outcome == "pass") != (score >= passing):
        raise RowRejected("inconsistent_result", f"a score of {score} against {passing} is not a {outcome}")
    if exam_date > now.date() + timedelta(days=1):
        raise RowRejected("bad_date", f"exam_date {exam_date.isoformat()} is in the future")
    return ParsedResult(reg_id, exam_code, exam_date, score, passing, outcome == "pass")
