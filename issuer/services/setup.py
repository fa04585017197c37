"""`certmanager init`: schema, first key, first status list; `--demo` adds a demo candidate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import begin_write
from issuer.models import Candidate, Certification, CredentialRecord
from issuer.services import audit, candidates, certifications, status_lists
from issuer.services.keyring import active_key, create_active_key

DEMO_EMAIL = "demo.candidate@example.org"


@dataclass
class InitReport:
    created_key: str | None
    demo_candidate: Candidate | None = None
    demo_credentials: list[CredentialRecord] | None = None


def initialize(session: Session, ctx: IssuerContext, *, now: datetime, demo: bool = False) -> InitReport:
    """Idempotent: creates only what is missing."""
    begin_write(session)
    report = InitReport(created_key=None)
    if active_key(session) is None:
        key = create_active_key(session, ctx, now)
        report.created_key = key.thumbprint
        audit.record(session, actor="cli", action="key.create", target=key.thumbprint, now=now, alg=key.alg)
    status_lists.ensure_open_list(session, ctx, now)
    if demo:
        report.demo_candidate, report.demo_credentials = _demo(session, ctx, now)
    session.commit()
    return report


def _demo(session: Session, ctx: IssuerContext, now: datetime) -> tuple[Candidate, list[CredentialRecord]]:
    candidate = candidates.find_by_email(session, DEMO_EMAIL)
    if candidate is None:
        candidate = candidates.create_candidate(
            session, email=DEMO_EMAIL, first_name="Amélie", last_name="Nakamura-Okafor", now=now
        )
        exam_day: date = (now - timedelta(days=40)).date()
        for code in ("CNA-ENT", "CNS-ENT"):
            if ctx.catalog.get(code) is not None:
                certifications.grant(session, ctx, candidate, code, exam_day, now=now)
                exam_day += timedelta(days=14)
    creds = list(
        session.execute(
            select(CredentialRecord)
            .join(Certification)
            .where(CredentialRecord.candidate_id == candidate.id)
            .order_by(CredentialRecord.issued_at)
        ).scalars()
    )
    return candidate, creds
