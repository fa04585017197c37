"""Granting certifications (SPEC §5.3): a certification row per (candidate, code), valid until the
same calendar date N years after the exam, 23:59:59 UTC, and its credential through the one
issuance path. Moving an expiry (recertification) supersedes the current credential."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time
from typing import NamedTuple

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, aliased

from issuer.context import IssuerContext
from issuer.db import among, fast_insert, reserve_ids
from issuer.errors import UnknownCertification
from issuer.models import Candidate, Certification, CredentialRecord
from issuer.services import issuance, revocation
from issuer.services.issuance import Issued
from issuer.services.payloads import CertificationGrant, Holder


def expiry_for(exam_date: date, years: int) -> datetime:
    """Same calendar date `years` later (29 February → 28 February), end of day UTC."""
    try:
        day = exam_date.replace(year=exam_date.year + years)
    except ValueError:
        day = exam_date.replace(year=exam_date.year + years, day=28)
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


class Award(NamedTuple):
    """A certification to create: granted from `exam_date`, expiring `valid_until`."""

    holder: Holder
    code: str
    exam_date: date
    valid_until: datetime


def grant_many(session: Session, ctx: IssuerContext, awards: Sequence[Award], *, now: datetime) -> list[Issued]:
    """Create the certifications of `awards` (in bulk) and issue their credentials."""
    if not awards:
        return []
    granted_at = now.replace(microsecond=0)
    ids = reserve_ids(session, Certification.__table__, len(awards))  # type: ignore[arg-type]
    fast_insert(
        session,
        Certification.__table__,  # type: ignore[arg-type]
        [
            {"id": cert_id, "candidate_id": a.holder.candidate_id, "code": a.code, "exam_date": a.exam_date,
             "granted_at": granted_at, "valid_until": a.valid_until}
            for cert_id, a in zip(ids, awards, strict=True)
        ],
    )  # fmt: skip
    grants = [
        CertificationGrant(a.holder, cert_id, a.code, a.exam_date, granted_at, a.valid_until)
        for cert_id, a in zip(ids, awards, strict=True)
    ]
    return issuance.issue(session, ctx, grants, now=now)


def extend_many(
    session: Session, ctx: IssuerContext, moved: Sequence[CertificationGrant], *, now: datetime, actor: str, note: str
) -> list[Issued]:
    """Store the new dates of certifications whose expiry moved later (`moved`: each as it stands
    now), issue their new credentials and supersede the old ones."""
    if not moved:
        return []
    session.execute(
        update(Certification),
        [{"id": g.certification_id, "exam_date": g.exam_date, "valid_until": g.valid_until} for g in moved],
    )
    current = current_credentials(session, [g.certification_id for g in moved])
    issued = issuance.issue(session, ctx, moved, now=now)
    olds = [current[g.certification_id] for g in moved if g.certification_id in current]
    replaced = {current[i.grant.certification_id].id: i.id for i in issued if i.grant.certification_id in current}
    revocation.revoke(session, ctx, olds, reason="superseded", note=note, actor=actor, now=now, replaced_by=replaced)
    return issued


def current_credentials(session: Session, certification_ids: Sequence[int]) -> dict[int, CredentialRecord]:
    """The newest unrevoked credential of each certification."""
    if not certification_ids:
        return {}
    records = session.execute(
        select(CredentialRecord)
        .where(among(session, CredentialRecord.certification_id, certification_ids))
        .where(CredentialRecord.revoked_at.is_(None))
        .order_by(CredentialRecord.issued_at, CredentialRecord.id)
    ).scalars()
    return {r.certification_id: r for r in records if r.certification_id is not None}


def revoked_among(session: Session, candidate_ids: Iterable[int]) -> set[int]:
    """The ids of these candidates' certifications that are revoked: no credential of theirs is
    unrevoked, and one was revoked for a reason that ends the certification (withdrawn, issued in
    error, misconduct). Such a certification counts for nothing in the rules and gets no reminders."""
    ids = set(candidate_ids)
    if not ids:
        return set()
    standing = aliased(CredentialRecord)
    query = select(CredentialRecord.certification_id).where(
        among(session, CredentialRecord.candidate_id, ids),
        CredentialRecord.revocation_reason.in_(revocation.ENDING_REASONS),
        ~exists().where(standing.certification_id == CredentialRecord.certification_id, standing.revoked_at.is_(None)),
    )
    return {cert_id for (cert_id,) in session.execute(query) if cert_id is not None}


def grant(
    session: Session, ctx: IssuerContext, candidate: Candidate, code: str, exam_date: date, *, now: datetime
) -> tuple[Certification, CredentialRecord]:
    """Grant one certification directly (no rules), in the caller's unit of work."""
    definition = ctx.catalog.get(code)
    if definition is None:
        raise UnknownCertification(f"certification {code!r} is not in the catalog")
    award = Award(issuance.holder_of(candidate), code, exam_date, expiry_for(exam_date, definition.validity_years))
    [issued] = grant_many(session, ctx, [award], now=now)
    record = session.get(CredentialRecord, issued.id)
    certification = session.get(Certification, issued.grant.certification_id)
    assert record is not None and certification is not None
    return certification, record
