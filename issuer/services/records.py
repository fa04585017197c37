"""What the candidate portal shows: exams with results or pending dates, certifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.catalog import CertificationDef
from issuer.context import IssuerContext
from issuer.errors import CertificationNotHeld
from issuer.models import Candidate, Certification, CredentialRecord, ExamResult, HeldGrant, Registration


def expected_results_date(exam_date: date) -> date:
    """Exam date + 5 business days (SPEC §5.2)."""
    day, added = exam_date, 0
    while added < 5:
        day += timedelta(days=1)
        if day.weekday() < 5:
            added += 1
    return day


@dataclass(frozen=True)
class ExamRow:
    registration_id: str
    exam_code: str
    exam_name: str
    registered_at: datetime
    exam_date: date | None
    result: ExamResult | None
    expected_by: date | None  # pending only

    @property
    def status(self) -> str:
        if self.result is None:
            return "pending"
        return "pass" if self.result.passed else "fail"


# The candidate's own page says why, in plain words (the public page follows SPEC §3.6 instead).
REVOCATION_WORDS = {
    "withdrawn": "withdrawn",
    "issued_in_error": "issued in error",
    "misconduct": "misconduct",
    "key_compromise": "the signing key was compromised",
    "superseded": "replaced by a newer credential",
}


@dataclass(frozen=True)
class CertificationRow:
    certification: Certification
    definition: CertificationDef | None
    credential: CredentialRecord | None  # the current one (see _current_credentials)
    status: str  # active | revoked | expired

    @property
    def name(self) -> str:
        return self.definition.name if self.definition else self.certification.code

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def revoked_at(self) -> datetime | None:
        return self.credential.revoked_at if self.credential else None

    @property
    def revocation_reason(self) -> str | None:
        """Why it was revoked, in plain words."""
        if self.credential is None or self.credential.revocation_reason is None:
            return None
        reason = self.credential.revocation_reason
        return REVOCATION_WORDS.get(reason, reason.replace("_", " "))


def exams_for(session: Session, ctx: IssuerContext, candidate: Candidate) -> list[ExamRow]:
    rows = session.execute(
        select(Registration, ExamResult)
        .outerjoin(ExamResult, ExamResult.registration_id == Registration.id)
        .where(Registration.candidate_id == candidate.id)
        .order_by(Registration.registered_at.desc())
    ).all()
    out = []
    for registration, result in rows:
        scheduled = registration.exam_date or registration.registered_at.date()
        out.append(
            ExamRow(
                registration_id=registration.registration_id,
                exam_code=registration.exam_code,
                exam_name=ctx.catalog.exams.get(registration.exam_code, registration.exam_code),
                registered_at=registration.registered_at,
                exam_date=result.exam_date if result else registration.exam_date,
                result=result,
                expected_by=None if result else expected_results_date(scheduled),
            )
        )
    return out


def _current_credentials(session: Session, certification_ids: list[int]) -> dict[int, CredentialRecord]:
    """Each certification's current credential: its newest unrevoked one; failing that, the newest
    revoked one that nothing replaced (a replaced one — superseded, or reissued after a key
    compromise — is never current while its replacement exists)."""
    if not certification_ids:
        return {}
    records = session.execute(
        select(CredentialRecord)
        .where(CredentialRecord.certification_id.in_(certification_ids))
        .order_by(CredentialRecord.issued_at, CredentialRecord.id)
    ).scalars()
    current: dict[int, CredentialRecord] = {}
    for record in records:
        if record.certification_id is None:
            continue
        held = current.get(record.certification_id)
        if held is None or _rank(record) >= _rank(held):
            current[record.certification_id] = record
    return current


def _rank(record: CredentialRecord) -> int:
    if record.revoked_at is None:
        return 2
    return 1 if record.replaced_by_id is None else 0


def _status(certification: Certification, credential: CredentialRecord | None, now: datetime) -> str:
    # Revocation outranks expiry, as in verification (SPEC §3.6).
    if credential is not None and credential.revoked_at is not None:
        return "revoked"
    return "active" if certification.valid_until > now else "expired"


def certifications_for(
    session: Session, ctx: IssuerContext, candidate: Candidate, now: datetime
) -> list[CertificationRow]:
    """The candidate's certifications with their current credentials: active, revoked, expired."""
    certifications = list(
        session.execute(
            select(Certification)
            .where(Certification.candidate_id == candidate.id)
            .order_by(Certification.valid_until.desc())
        ).scalars()
    )
    credentials = _current_credentials(session, [c.id for c in certifications])
    rows = [
        CertificationRow(c, ctx.catalog.get(c.code), credentials.get(c.id), _status(c, credentials.get(c.id), now))
        for c in certifications
    ]
    order = {"active": 0, "revoked": 1, "expired": 2}
    return sorted(rows, key=lambda r: (order[r.status], r.certification.code))


def held_for(session: Session, candidate: Candidate) -> list[HeldGrant]:
    return list(session.execute(select(HeldGrant).where(HeldGrant.candidate_id == candidate.id)).scalars())


def active_certification(
    session: Session, ctx: IssuerContext, candidate: Candidate, code: str, now: datetime
) -> CertificationRow:
    """One of the candidate's own active certifications (downloads are for active ones only)."""
    for row in certifications_for(session, ctx, candidate, now):
        if row.certification.code == code and row.active and row.credential is not None:
            return row
    raise CertificationNotHeld(f"you hold no active certification {code!r}")
