"""Expiry reminders (SPEC §5.3): 90 and 30 days before a certification expires, each sent once
per expiry date (a recertification that moves the expiry starts the reminders afresh)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, joinedload

from issuer.context import IssuerContext
from issuer.db import unit_of_work
from issuer.models import Certification, CredentialRecord
from issuer.services import audit, mail, notices

WINDOWS = (30, 90)  # days before expiry, nearest first


@dataclass
class ReminderReport:
    sent_90: int = 0
    sent_30: int = 0


def send_due(session: Session, ctx: IssuerContext, *, now: datetime, actor: str) -> ReminderReport:
    """Queue every reminder that is due now (run daily)."""
    with unit_of_work(session):
        report = ReminderReport()
        horizon = now + timedelta(days=max(WINDOWS))
        # Only a certification that stands: one revoked (all its credentials) expires unmentioned.
        standing = exists().where(
            CredentialRecord.certification_id == Certification.id, CredentialRecord.revoked_at.is_(None)
        )
        due = session.execute(
            select(Certification)
            .options(joinedload(Certification.candidate))
            .where(Certification.valid_until > now, Certification.valid_until <= horizon)
            .where(standing)
            .order_by(Certification.valid_until)
        ).scalars()
        for certification in due:
            window = next(w for w in WINDOWS if certification.valid_until <= now + timedelta(days=w))
            if window == 30 and certification.reminded_30_for != certification.valid_until:
                _queue(session, ctx, certification, 30, now)
                certification.reminded_30_for = certification.valid_until
                certification.reminded_90_for = certification.valid_until  # the 90-day one is moot now
                report.sent_30 += 1
            elif window == 90 and certification.reminded_90_for != certification.valid_until:
                _queue(session, ctx, certification, 90, now)
                certification.reminded_90_for = certification.valid_until
                report.sent_90 += 1
        audit.record(session, actor=actor, action="reminders.send", target="certifications", now=now,
                     sent_90=report.sent_90, sent_30=report.sent_30)  # fmt: skip
    return report


def _queue(session: Session, ctx: IssuerContext, certification: Certification, window: int, now: datetime) -> None:
    mail.enqueue(session, notices.expiry_reminder(ctx, certification, window, now), now=now)
