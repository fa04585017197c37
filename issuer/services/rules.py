"""Certification rules (SPEC §5.3): grant on a pass with prerequisites met, hold a pass whose
prerequisites are missing, recertify on a repeat or higher pass in the same track."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.catalog import Catalog, CertificationDef
from issuer.context import IssuerContext
from issuer.models import Candidate, Certification, CredentialRecord, HeldGrant
from issuer.services import certifications, revocation
from issuer.services.certifications import expiry_for
from issuer.services.credentials import issue_for_certification


@dataclass
class RuleOutcome:
    granted: list[str] = field(default_factory=list)
    recertified: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    credentials: list[CredentialRecord] = field(default_factory=list)


def _level(catalog: Catalog, definition: CertificationDef) -> int:
    return catalog.levels.index(definition.level)


def _held_certifications(session: Session, candidate: Candidate) -> dict[str, Certification]:
    rows = session.execute(select(Certification).where(Certification.candidate_id == candidate.id)).scalars()
    return {row.code: row for row in rows}


def _current_credential(session: Session, certification: Certification) -> CredentialRecord | None:
    return session.execute(
        select(CredentialRecord)
        .where(CredentialRecord.certification_id == certification.id, CredentialRecord.revoked_at.is_(None))
        .order_by(CredentialRecord.issued_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def _prerequisites_met(definition: CertificationDef, held: dict[str, Certification], now: datetime) -> bool:
    return all(code in held and held[code].valid_until > now for code in definition.prerequisites)


def apply_pass(
    session: Session,
    ctx: IssuerContext,
    candidate: Candidate,
    exam_code: str,
    exam_date: date,
    *,
    result_id: int,
    now: datetime,
    actor: str,
) -> RuleOutcome:
    """Everything one passed exam changes, inside the caller's transaction."""
    catalog = ctx.catalog
    outcome = RuleOutcome()
    held = _held_certifications(session, candidate)
    earned = [c for c in catalog.certifications.values() if exam_code in c.exams]

    for definition in earned:
        existing = held.get(definition.code)
        if existing is None:
            if _prerequisites_met(definition, held, now):
                held[definition.code] = _grant(session, ctx, candidate, definition, exam_date, now, outcome)
            elif _hold(session, candidate, definition, exam_date, result_id, now):
                outcome.held.append(definition.code)
        elif existing.valid_until <= now:
            # An expired certification earned again: a fresh validity period from this exam.
            _extend(session, ctx, existing, definition, exam_date, now, outcome, actor)

    # A pass recertifies every active certification of the track at or below the exam's level
    # (the same exam again, or a higher one). A held grant is not a pass and recertifies nothing.
    for definition in earned:
        for code, certification in list(held.items()):
            other = catalog.get(code)
            if (
                other is None
                or other.track != definition.track
                or _level(catalog, other) > _level(catalog, definition)
                or certification.valid_until <= now
            ):
                continue
            _extend(session, ctx, certification, other, exam_date, now, outcome, actor)

    _release_held(session, ctx, candidate, held, now, outcome)
    return outcome


def _grant(
    session: Session,
    ctx: IssuerContext,
    candidate: Candidate,
    definition: CertificationDef,
    exam_date: date,
    now: datetime,
    outcome: RuleOutcome,
) -> Certification:
    certification, credential = certifications.grant(session, ctx, candidate, definition.code, exam_date, now=now)
    outcome.granted.append(definition.code)
    outcome.credentials.append(credential)
    return certification


def _extend(
    session: Session,
    ctx: IssuerContext,
    certification: Certification,
    definition: CertificationDef,
    exam_date: date,
    now: datetime,
    outcome: RuleOutcome,
    actor: str,
) -> None:
    """Move the expiry to exam date + validity, only if that is later; supersede the credential."""
    new_expiry = expiry_for(exam_date, definition.validity_years)
    if new_expiry <= certification.valid_until or definition.code in outcome.recertified:
        return
    old = _current_credential(session, certification)
    certification.valid_until = new_expiry
    certification.exam_date = exam_date
    session.flush()
    new = issue_for_certification(session, ctx, certification, now=now)
    if old is not None:
        revocation.mark_revoked(
            session, ctx, [old], reason="superseded", note="recertification", actor=actor, now=now, replaced_by=new
        )
    outcome.recertified.append(definition.code)
    outcome.credentials.append(new)


def _hold(
    session: Session, candidate: Candidate, definition: CertificationDef, exam_date: date, result_id: int, now: datetime
) -> bool:
    exists = session.execute(
        select(HeldGrant.id).where(HeldGrant.result_id == result_id, HeldGrant.code == definition.code)
    ).first()
    if exists is not None:
        return False
    session.add(
        HeldGrant(
            candidate_id=candidate.id, code=definition.code, exam_date=exam_date, result_id=result_id, created_at=now
        )
    )
    session.flush()
    return True


def _release_held(
    session: Session,
    ctx: IssuerContext,
    candidate: Candidate,
    held: dict[str, Certification],
    now: datetime,
    outcome: RuleOutcome,
) -> None:
    """Grant held passes whose prerequisites are now met, each from its own exam date (chains too)."""
    while True:
        waiting = (
            session.execute(
                select(HeldGrant)
                .where(HeldGrant.candidate_id == candidate.id)
                .order_by(HeldGrant.exam_date, HeldGrant.id)
            )
            .scalars()
            .all()
        )
        released = False
        for grant in waiting:
            definition = ctx.catalog.get(grant.code)
            if definition is None:
                continue
            if grant.code in held:
                session.delete(grant)  # earned meanwhile by another pass
                released = True
                continue
            if not _prerequisites_met(definition, held, now):
                continue
            if expiry_for(grant.exam_date, definition.validity_years) <= now:
                continue  # it would be born expired; it stays held (visible to support)
            held[grant.code] = _grant(session, ctx, candidate, definition, grant.exam_date, now, outcome)
            session.delete(grant)
            released = True
        session.flush()
        if not released:
            return
