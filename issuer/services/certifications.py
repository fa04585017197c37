"""Granting certifications (SPEC §5.3): expiry on the same calendar date N years on, 23:59:59 UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.errors import UnknownCertification
from issuer.models import Candidate, Certification, CredentialRecord
from issuer.services.credentials import issue_for_certification


def expiry_for(exam_date: date, years: int) -> datetime:
    """Same calendar date `years` later (29 February → 28 February), end of day UTC."""
    try:
        day = exam_date.replace(year=exam_date.year + years)
    except ValueError:
        day = exam_date.replace(year=exam_date.year + years, day=28)
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def grant(
    session: Session, ctx: IssuerContext, candidate: Candidate, code: str, exam_date: date, *, now: datetime
) -> tuple[Certification, CredentialRecord]:
    """Grant `code` from `exam_date` and issue its credential (inside the caller's transaction)."""
    definition = ctx.catalog.get(code)
    if definition is None:
        raise UnknownCertification(f"certification {code!r} is not in the catalog")
    certification = Certification(
        candidate=candidate,
        code=code,
        exam_date=exam_date,
        granted_at=now.replace(microsecond=0),
        valid_until=expiry_for(exam_date, definition.validity_years),
    )
    session.add(certification)
    session.flush()
    return certification, issue_for_certification(session, ctx, certification, now=now)
