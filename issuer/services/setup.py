"""`certmanager init`: schema, first key, first status list; `--demo` adds a demo candidate."""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import unit_of_work
from issuer.models import Candidate, CredentialRecord
from issuer.services import audit, candidates, imports, keyring, origin, status_lists
from issuer.services.accounts import passwords
from issuer.services.state import lock_issuer_state

DEMO_EMAIL = "demo.candidate@example.org"


@dataclass
class InitReport:
    created_key: str | None
    pinned: origin.Pinned | None = None
    demo_candidate: Candidate | None = None
    demo_credentials: list[CredentialRecord] | None = None
    demo_password: str | None = None


def initialize(
    session: Session, ctx: IssuerContext, *, now: datetime, demo: bool = False, move_origin: bool = False
) -> InitReport:
    """Idempotent: pins the origin, creates only what is missing. Raises OriginMismatch (nothing
    written) for a database that belongs to another origin, unless `move_origin`."""
    report = InitReport(created_key=None)
    with unit_of_work(session):
        lock_issuer_state(session)  # a second `init` at the same moment waits, then finds it all done
        report.pinned = origin.pin(session, ctx, now=now, actor="cli", move=move_origin)
        if keyring.active_key(session) is None:
            key = keyring.create_active_key(session, ctx, now)
            report.created_key = key.thumbprint
            audit.record(session, actor="cli", action="key.create", target=key.thumbprint, now=now, alg=key.alg)
        status_lists.open_list(session, ctx, keyring.active_signer(session, ctx), now)
    if demo:
        report.demo_candidate, report.demo_credentials, report.demo_password = _demo(session, ctx, now)
    return report


def _demo(session: Session, ctx: IssuerContext, now: datetime) -> tuple[Candidate, list[CredentialRecord], str]:
    """A demo candidate made the way real ones are: through the vendor feeds, then a password."""
    today = now.date()
    registrations = [
        ("DEMO-0001", "EX-ENT-101", today - timedelta(days=75), today - timedelta(days=60)),
        ("DEMO-0002", "EX-ENT-201", today - timedelta(days=40), today - timedelta(days=25)),
        ("DEMO-0003", "EX-SEC-101", today - timedelta(days=6), today + timedelta(days=3)),  # still pending
    ]
    with tempfile.TemporaryDirectory(prefix="certmanager-demo-") as folder:
        reg_feed = Path(folder) / "registrations.csv"
        reg_feed.write_text(
            "registration_id,email,first_name,last_name,exam_code,registered_at,exam_date\n"
            + "".join(
                f"{rid},{DEMO_EMAIL},Amélie,Nakamura-Okafor,{exam},{registered.isoformat()}T09:00:00Z,{day.isoformat()}\n"
                for rid, exam, registered, day in registrations
            ),
            encoding="utf-8",
        )
        imports.import_registrations(session, ctx, reg_feed, now=now, actor="demo")
        # Results arrive as they do for real, one feed after each sitting: the specialist pass
        # then recertifies the associate certification (its first credential is superseded).
        for rid, exam, _, day in registrations:
            if day > today:
                continue
            res_feed = Path(folder) / f"results-{rid}.csv"
            res_feed.write_text(
                "registration_id,exam_code,exam_date,score,passing_score,result\n"
                f"{rid},{exam},{day.isoformat()},812,700,pass\n",
                encoding="utf-8",
            )
            imports.import_results(session, ctx, res_feed, now=now, actor="demo")
    password = "demo-" + secrets.token_urlsafe(9)
    with unit_of_work(session):
        candidate = candidates.find_by_email(session, DEMO_EMAIL)
        assert candidate is not None
        passwords.set_password(candidate, password, now)
    creds = list(
        session.execute(
            select(CredentialRecord)
            .where(CredentialRecord.candidate_id == candidate.id, CredentialRecord.revoked_at.is_(None))
            .order_by(CredentialRecord.issued_at, CredentialRecord.certification_code)
        ).scalars()
    )
    return candidate, creds, password
