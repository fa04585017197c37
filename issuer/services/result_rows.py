"""One chunk of the results feed, in the caller's unit of work: every row is checked first (by
itself, then against the registrations and results already imported, in a few queries for the
whole chunk); the good ones are inserted in bulk, their passes go through the rules together,
and each candidate gets one 'new results' e-mail per run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import among, fast_insert, read_rows
from issuer.models import Candidate, ExamResult, Registration
from issuer.services import feeds, mail, notices, rules
from issuer.services.feeds import FeedRow, RowRejected
from issuer.services.import_report import ImportReport
from issuer.services.payloads import Holder


class ParsedResult(NamedTuple):
    registration_id: str
    exam_code: str
    exam_date: date
    score: int
    passing_score: int
    passed: bool

    def same_as(self, other: tuple[date, int, int, bool]) -> bool:
        return (self.exam_date, self.score, self.passing_score, self.passed) == other


def parse_result(values: dict[str, str], exams: Mapping[str, str], now: datetime) -> ParsedResult:
    """Check a results row by itself (no database). Raises RowRejected."""
    if "__error__" in values:
        raise RowRejected(values.get("__code__", "malformed_row"), values["__error__"])
    reg_id = feeds.registration_id(values)
    exam_code = feeds.required(values, "exam_code")
    exam_date = feeds.iso_date(values, "exam_date")
    assert exam_date is not None
    score, passing = feeds.integer(values, "score"), feeds.integer(values, "passing_score")
    outcome = feeds.required(values, "result").lower()
    if outcome not in ("pass", "fail"):
        raise RowRejected("bad_result", f"result must be pass or fail, not {values['result'][:20]!r}")
    if exam_code not in exams:
        raise RowRejected("unknown_exam", f"exam {exam_code[:40]!r} is not in the catalog")
    if (outcome == "pass") != (score >= passing):
        raise RowRejected("inconsistent_result", f"a score of {score} against {passing} is not a {outcome}")
    if exam_date > now.date() + timedelta(days=1):
        raise RowRejected("bad_date", f"exam_date {exam_date.isoformat()} is in the future")
    return ParsedResult(reg_id, exam_code, exam_date, score, passing, outcome == "pass")


def apply_results(
    session: Session,
    ctx: IssuerContext,
    rows: list[FeedRow],
    report: ImportReport,
    *,
    now: datetime,
    actor: str,
    run_id: str,
) -> None:
    parsed: list[tuple[FeedRow, ParsedResult]] = []
    for row in rows:
        try:
            parsed.append((row, parse_result(row.values, ctx.catalog.exams, now)))
        except RowRejected as exc:
            report.reject(row, exc)
    # The registrations these rows name and their candidates, in one query; the results already
    # imported for them (a re-import, a vendor correction) in a second, only if there are any.
    found = {
        r.registration_id: r
        for r in read_rows(
            session,
            select(
                Registration.id, Registration.registration_id, Registration.candidate_id, Registration.exam_code,
                Candidate.holder_id, Candidate.first_name, Candidate.last_name, Candidate.email,
                Candidate.certmanager_id, ExamResult.id.label("result_id"),
            )
            .join(Candidate, Candidate.id == Registration.candidate_id)
            .outerjoin(ExamResult, ExamResult.registration_id == Registration.id)
            .where(among(session, Registration.registration_id, {p.registration_id for _, p in parsed}))
        )
    }  # fmt: skip
    imported = _imported(session, [r.id for r in found.values() if r.result_id is not None])
    accepted: list[tuple[Any, ParsedResult]] = []
    for row, p in parsed:
        registration = found.get(p.registration_id)
        before = imported.get(registration.id) if registration is not None else None
        try:
            if registration is None:
                raise RowRejected("unknown_registration", f"registration {p.registration_id} has not been imported")
            if registration.exam_code != p.exam_code:
                raise RowRejected(
                    "conflicting_data",
                    f"registration {p.registration_id} is for {registration.exam_code}, not {p.exam_code}",
                )
            if before is not None and not p.same_as(before):
                raise RowRejected(
                    "conflicting_data", f"a different result for registration {p.registration_id} was imported before"
                )
        except RowRejected as exc:
            report.reject(row, exc)
            continue
        report.rows_read += 1
        if before is not None:
            report.rows_unchanged += 1
            continue
        imported[registration.id] = (p.exam_date, p.score, p.passing_score, p.passed)  # a repeat later in the chunk
        accepted.append((registration, p))
    if accepted:
        _apply_accepted(session, ctx, accepted, report, now=now, actor=actor, run_id=run_id)


def _imported(session: Session, registrations: list[int]) -> dict[int, tuple[date, int, int, bool]]:
    """What was imported before for these registrations: (exam date, score, passing score, passed)."""
    if not registrations:
        return {}
    query = select(
        ExamResult.registration_id, ExamResult.exam_date, ExamResult.score, ExamResult.passing_score, ExamResult.passed
    ).where(among(session, ExamResult.registration_id, registrations))
    return {
        row.registration_id: (row.exam_date, row.score, row.passing_score, row.passed)
        for row in read_rows(session, query)
    }


def _apply_accepted(
    session: Session,
    ctx: IssuerContext,
    accepted: list[tuple[Any, ParsedResult]],
    report: ImportReport,
    *,
    now: datetime,
    actor: str,
    run_id: str,
) -> None:
    fast_insert(
        session,
        ExamResult.__table__,  # type: ignore[arg-type]
        [
            {"registration_id": reg.id, "candidate_id": reg.candidate_id, "exam_code": p.exam_code,
             "exam_date": p.exam_date, "score": p.score, "passing_score": p.passing_score, "passed": p.passed,
             "imported_at": now}
            for reg, p in accepted
        ],
    )  # fmt: skip
    report.results_imported += len(accepted)
    report.rows_applied += len(accepted)

    passes = [
        rules.Pass(
            Holder(reg.candidate_id, reg.holder_id, reg.first_name, reg.last_name), p.exam_code, p.exam_date, reg.id
        )
        for reg, p in accepted
        if p.passed
    ]
    outcome = rules.apply_passes(session, ctx, passes, now=now, actor=actor)
    report.certifications_granted += outcome.granted
    report.certifications_recertified += outcome.recertified
    report.grants_held += outcome.held
    report.credentials_issued += outcome.credentials

    recipients = {
        reg.candidate_id: notices.Recipient(reg.candidate_id, reg.email, reg.first_name, reg.certmanager_id)
        for reg, _ in accepted
    }
    mail.enqueue_many(
        session, notices.results_imported(ctx, [recipients[c] for c in sorted(recipients)], run_id), now=now
    )
