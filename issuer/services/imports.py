"""Importing the vendor feeds (SPEC §3.5, §5.1–5.3): registrations create accounts; results
grant certifications and issue credentials. Idempotent by `registration_id`; each row applied
completely or not at all (a savepoint per row, a commit per batch)."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import begin_write
from issuer.errors import NotInitialized
from issuer.ids import new_credential_id
from issuer.models import Candidate, ExamResult, Registration
from issuer.services import bulk_results, candidates, credential_signing, feeds, mail, rules, status_lists
from issuer.services.feeds import FeedRow, RowRejected
from issuer.services.import_rows import ImportReport, Progress, apply_one, finish, parse_result
from issuer.services.keyring import active_key

BATCH = 200


def count_rows(path: Path) -> int:
    """Lines after the header (an upper bound of the rows, for the progress bar)."""
    return max(0, feeds.check_encoding(path) - 1)


def import_registrations(
    session: Session, ctx: IssuerContext, path: Path, *, now: datetime, actor: str, progress: Progress | None = None
) -> ImportReport:
    report = ImportReport(kind="registrations")
    begin_write(session)
    for done, row in enumerate(feeds.read_rows(path, feeds.REGISTRATION_COLUMNS, feeds.REGISTRATION_OPTIONAL), 1):
        apply_one(session, ctx, row, report, _apply_registration, now=now, actor=actor)
        if done % BATCH == 0:
            session.commit()
            begin_write(session)
        if progress is not None:
            progress(done)
    finish(session, report, now=now, actor=actor)
    return report


def import_results(
    session: Session,
    ctx: IssuerContext,
    path: Path,
    *,
    now: datetime,
    actor: str,
    progress: Progress | None = None,
) -> ImportReport:
    """Rows go in chunks: the common cases (a first pass, a failure, a repeat) in bulk; anything
    that touches existing certifications or prerequisites row by row through the rules."""
    run_id = new_credential_id()  # groups this run's "new results" e-mails: one per candidate

    def one_by_one(
        session: Session, ctx: IssuerContext, row: FeedRow, report: ImportReport, now: datetime, actor: str
    ) -> None:
        _apply_result(session, ctx, row, report, now, actor, run_id)

    report = ImportReport(kind="results")
    used_slots = status_lists.UsedSlots()
    key = active_key(session)
    if key is None:
        raise NotInitialized("no active signing key: run `certmanager init`")
    signer = credential_signing.CredentialSigner(ctx, key)
    begin_write(session)
    chunk: list[FeedRow] = []

    def flush() -> None:
        bulk_results.apply_chunk(
            session, ctx, chunk, report, now=now, actor=actor, run_id=run_id, one_by_one=one_by_one,
            used_slots=used_slots, signer=signer,
        )  # fmt: skip
        chunk.clear()
        if progress is not None:
            progress(report.rows_read)

    for row in feeds.read_rows(path, feeds.RESULT_COLUMNS):
        chunk.append(row)
        if len(chunk) == bulk_results.CHUNK:
            flush()
    if chunk:
        flush()
    if progress is not None:
        progress(report.rows_read)
    finish(session, report, now=now, actor=actor)
    return report


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def _apply_registration(
    session: Session, ctx: IssuerContext, row: FeedRow, report: ImportReport, now: datetime, actor: str
) -> None:
    values = row.values
    reg_id = feeds.registration_id(values)
    address = feeds.email(values)
    first, last = _nfc(feeds.required(values, "first_name")), _nfc(feeds.required(values, "last_name"))
    exam_code = feeds.required(values, "exam_code")
    if exam_code not in ctx.catalog.exams:
        raise RowRejected("unknown_exam", f"exam {exam_code!r} is not in the catalog")
    registered_at = feeds.iso_datetime(values, "registered_at")
    exam_date = feeds.iso_date(values, "exam_date", optional=True)

    existing = session.execute(select(Registration).where(Registration.registration_id == reg_id)).scalar_one_or_none()
    if existing is not None:
        same = (
            existing.email == address
            and existing.first_name == first
            and existing.last_name == last
            and existing.exam_code == exam_code
            and existing.registered_at == registered_at
            and existing.exam_date == exam_date
        )
        if not same:
            raise RowRejected("conflicting_data", f"registration {reg_id} was imported before with different data")
        report.rows_unchanged += 1
        return

    candidate = candidates.find_by_email(session, address)
    if candidate is None:
        candidate = candidates.create_candidate(session, email=address, first_name=first, last_name=last, now=now)
        report.accounts_created += 1
        mail.enqueue_template(
            session,
            to=candidate.email,
            kind="account_created",
            subject=f"Your {ctx.settings.issuer_name} CertManager account",
            now=now,
            dedupe_key=f"account_created:{candidate.id}",
            candidate=candidate,
            login_url=f"{ctx.settings.base_url}/login",
            first_login_url=f"{ctx.settings.base_url}/first-login",
            issuer_name=ctx.settings.issuer_name,
        )
    session.add(
        Registration(
            registration_id=reg_id,
            candidate_id=candidate.id,
            email=address,
            first_name=first,
            last_name=last,
            exam_code=exam_code,
            registered_at=registered_at,
            exam_date=exam_date,
            imported_at=now,
        )
    )
    session.flush()
    report.registrations_created += 1
    report.rows_applied += 1


def _apply_result(
    session: Session, ctx: IssuerContext, row: FeedRow, report: ImportReport, now: datetime, actor: str, run_id: str
) -> None:
    parsed = parse_result(row.values, ctx.catalog.exams, now)
    reg_id, exam_code, exam_date = parsed.registration_id, parsed.exam_code, parsed.exam_date
    score, passing, outcome = parsed.score, parsed.passing_score, "pass" if parsed.passed else "fail"

    registration = session.execute(
        select(Registration).where(Registration.registration_id == reg_id)
    ).scalar_one_or_none()
    if registration is None:
        raise RowRejected("unknown_registration", f"registration {reg_id} has not been imported")
    if registration.exam_code != exam_code:
        raise RowRejected("conflicting_data", f"registration {reg_id} is for {registration.exam_code}, not {exam_code}")

    existing = session.execute(
        select(ExamResult).where(ExamResult.registration_id == registration.id)
    ).scalar_one_or_none()
    if existing is not None:
        same = (existing.exam_date, existing.score, existing.passing_score, existing.passed) == (
            exam_date, score, passing, outcome == "pass",
        )  # fmt: skip
        if not same:
            raise RowRejected("conflicting_data", f"a different result for registration {reg_id} was imported before")
        report.rows_unchanged += 1
        return

    candidate = session.get(Candidate, registration.candidate_id)
    assert candidate is not None
    result = ExamResult(
        registration_id=registration.id,
        candidate_id=candidate.id,
        exam_code=exam_code,
        exam_date=exam_date,
        score=score,
        passing_score=passing,
        passed=outcome == "pass",
        imported_at=now,
    )
    session.add(result)
    session.flush()
    report.results_imported += 1
    report.rows_applied += 1
    if result.passed:
        changes = rules.apply_pass(
            session, ctx, candidate, exam_code, exam_date, result_id=result.id, now=now, actor=actor
        )
        report.certifications_granted += len(changes.granted)
        report.certifications_recertified += len(changes.recertified)
        report.grants_held += len(changes.held)
        report.credentials_issued += len(changes.credentials)
    mail.enqueue_template(
        session,
        to=candidate.email,
        kind="results_imported",
        subject="New exam results in your CertManager account",
        now=now,
        dedupe_key=f"results:{candidate.id}:{run_id}",
        first_name=candidate.first_name,
        certmanager_id=candidate.certmanager_id,
        exams_url=f"{ctx.settings.base_url}/exams",
        issuer_name=ctx.settings.issuer_name,
    )


def expected_results_date(exam_date: date) -> date:
    """Exam date + 5 business days (SPEC §5.2)."""
    day, added = exam_date, 0
    while added < 5:
        day += timedelta(days=1)
        if day.weekday() < 5:
            added += 1
    return day
