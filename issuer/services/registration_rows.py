"""One chunk of the registration feed, in the caller's unit of work. Each row is checked in full
before it writes anything; a registration for a new e-mail address creates the account (and
tells the candidate how to log in); one for a known address keeps the account's name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.models import Registration
from issuer.services import candidates, feeds, mail, notices
from issuer.services.feeds import FeedRow, RowRejected
from issuer.services.import_report import ImportReport


def apply_registrations(
    session: Session, ctx: IssuerContext, rows: list[FeedRow], report: ImportReport, *, now: datetime
) -> None:
    for row in rows:
        try:
            _apply(session, ctx, row, report, now)
        except RowRejected as exc:
            report.reject(row, exc)


def _apply(session: Session, ctx: IssuerContext, row: FeedRow, report: ImportReport, now: datetime) -> None:
    values = row.values
    if "__error__" in values:
        raise RowRejected(values.get("__code__", "malformed_row"), values["__error__"])
    reg_id = feeds.registration_id(values)
    address = feeds.email(values)
    first, last = feeds.name(values, "first_name"), feeds.name(values, "last_name")
    exam_code = feeds.required(values, "exam_code")
    if exam_code not in ctx.catalog.exams:
        raise RowRejected("unknown_exam", f"exam {exam_code[:40]!r} is not in the catalog")
    registered_at = feeds.iso_datetime(values, "registered_at")
    exam_date = feeds.iso_date(values, "exam_date", optional=True)

    existing = session.execute(select(Registration).where(Registration.registration_id == reg_id)).scalar_one_or_none()
    if existing is not None:
        stored = (existing.email, existing.first_name, existing.last_name, existing.exam_code,
                  existing.registered_at, existing.exam_date)  # fmt: skip
        same = stored == (address, first, last, exam_code, registered_at, exam_date)
        if not same:
            raise RowRejected("conflicting_data", f"registration {reg_id} was imported before with different data")
        report.rows_read += 1
        report.rows_unchanged += 1
        return

    # Checked in full: from here on the row only writes.
    candidate = candidates.find_by_email(session, address)
    if candidate is None:
        candidate = candidates.create_candidate(session, email=address, first_name=first, last_name=last, now=now)
        report.accounts_created += 1
        mail.enqueue(session, notices.account_created(ctx, candidate), now=now)
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
    report.rows_read += 1
    report.registrations_created += 1
    report.rows_applied += 1
