"""The results import in chunks: rows whose effect is independent of everything else — a
failure, a first pass of a certification without prerequisites in a track the candidate has
no certification in yet, a repeat of an imported row — are applied in bulk; every other row goes
through the rules one at a time. Each chunk is one transaction; a conflict with a concurrent
import sends the whole chunk through the row-by-row path instead."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import begin_write, fast_insert
from issuer.ids import new_credential_id
from issuer.models import Candidate, Certification, CredentialRecord, ExamResult, HeldGrant, MailMessage, Registration
from issuer.services import status_lists
from issuer.services.certifications import expiry_for
from issuer.services.credential_signing import CredentialSigner, Granted, Item
from issuer.services.credentials import certification_valid_from
from issuer.services.feeds import FeedRow, RowRejected
from issuer.services.import_rows import ImportReport, ParsedResult, RowApplier, apply_one, parse_result
from issuer.services.mail_batch import render_many

CHUNK = 2000


@dataclass(frozen=True)
class _Person:
    """What the payload and the e-mail read of a candidate (cheaper than an ORM object)."""

    id: int
    email: str
    certmanager_id: str
    first_name: str
    last_name: str
    holder_id: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def apply_chunk(
    session: Session,
    ctx: IssuerContext,
    rows: list[FeedRow],
    report: ImportReport,
    *,
    now: datetime,
    actor: str,
    run_id: str,
    one_by_one: RowApplier,
    used_slots: status_lists.UsedSlots,
    signer: CredentialSigner,
) -> None:
    parsed: list[tuple[FeedRow, ParsedResult]] = []
    for row in rows:
        try:
            parsed.append((row, parse_result(row.values, ctx.catalog.exams, now)))
        except RowRejected as exc:
            report.rows_read += 1
            report.rejected.append((row.line, exc.code, exc.reason))
    fast, slow = _split(session, ctx, parsed, report, now)
    if fast:
        try:
            with session.begin_nested():
                _apply_fast(session, ctx, fast, report, now=now, run_id=run_id, used_slots=used_slots, signer=signer)
        except (IntegrityError, OperationalError):
            used_slots.forget()
            session.commit()  # a concurrent import touched the same rows: go row by row
            begin_write(session)
            slow = sorted(slow + [(row, p) for row, p, _ in fast], key=lambda item: item[0].line)
        else:
            report.rows_read += len(fast)
    for row, _ in slow:
        apply_one(session, ctx, row, report, one_by_one, now=now, actor=actor)
    if slow:
        used_slots.forget()  # the rules allocate slots of their own
    session.commit()
    begin_write(session)


def _split(
    session: Session,
    ctx: IssuerContext,
    parsed: list[tuple[FeedRow, ParsedResult]],
    report: ImportReport,
    now: datetime,
) -> tuple[list[tuple[FeedRow, ParsedResult, Any]], list[tuple[FeedRow, object]]]:
    """Which rows can go in bulk. Unknown registrations, conflicts and repeats are settled here."""
    reg_ids = [p.registration_id for _, p in parsed]
    registrations = {
        r.registration_id: r
        for r in session.execute(
            select(
                Registration.id, Registration.registration_id, Registration.candidate_id, Registration.exam_code
            ).where(Registration.registration_id.in_(reg_ids))
        )
    }
    candidate_ids = {r.candidate_id for r in registrations.values()}
    imported = set(
        session.execute(
            select(ExamResult.registration_id).where(
                ExamResult.registration_id.in_([r.id for r in registrations.values()])
            )
        ).scalars()
    )
    tracks_held: dict[int, set[str]] = {}
    for candidate_id, code in session.execute(
        select(Certification.candidate_id, Certification.code).where(Certification.candidate_id.in_(candidate_ids))
    ):
        definition = ctx.catalog.get(code)
        tracks_held.setdefault(candidate_id, set()).add(definition.track if definition else code)
    waiting = set(
        session.execute(select(HeldGrant.candidate_id).where(HeldGrant.candidate_id.in_(candidate_ids))).scalars()
    )
    rows_per_candidate = Counter(
        registrations[p.registration_id].candidate_id for _, p in parsed if p.registration_id in registrations
    )

    fast: list[tuple[FeedRow, ParsedResult, Any]] = []
    slow: list[tuple[FeedRow, object]] = []
    for row, p in parsed:
        registration = registrations.get(p.registration_id)
        if registration is None or registration.exam_code != p.exam_code or registration.id in imported:
            slow.append((row, p))  # the row-by-row path words the rejection or counts the repeat
            continue
        candidate_id = registration.candidate_id
        if rows_per_candidate[candidate_id] > 1 or candidate_id in waiting:
            slow.append((row, p))
            continue
        if p.passed:
            earned = [c for c in ctx.catalog.certifications.values() if p.exam_code in c.exams]
            if any(c.prerequisites or c.track in tracks_held.get(candidate_id, ()) for c in earned):
                slow.append((row, p))
                continue
            if any(expiry_for(p.exam_date, c.validity_years) <= now for c in earned):
                slow.append((row, p))
                continue
        fast.append((row, p, registration))
    return fast, slow


def _apply_fast(
    session: Session,
    ctx: IssuerContext,
    rows: list[tuple[FeedRow, ParsedResult, Any]],  # Any: a (id, registration_id, candidate_id, exam_code) row
    report: ImportReport,
    *,
    now: datetime,
    run_id: str,
    used_slots: status_lists.UsedSlots,
    signer: CredentialSigner,
) -> None:
    fast_insert(
        session,
        ExamResult.__table__,
        [
            {
                "registration_id": reg.id,
                "candidate_id": reg.candidate_id,
                "exam_code": p.exam_code,
                "exam_date": p.exam_date,
                "score": p.score,
                "passing_score": p.passing_score,
                "passed": p.passed,
                "imported_at": now,
            }
            for _, p, reg in rows
        ],
    )
    report.results_imported += len(rows)
    report.rows_applied += len(rows)
    candidate_ids = {reg.candidate_id for _, _, reg in rows}
    people = {
        row.id: _Person(*row)
        for row in session.execute(
            select(Candidate.id, Candidate.email, Candidate.certmanager_id, Candidate.first_name, Candidate.last_name,
                   Candidate.holder_id).where(Candidate.id.in_(candidate_ids))
        )
    }  # fmt: skip

    grants = [
        (reg.candidate_id, definition, p.exam_date)
        for _, p, reg in rows
        if p.passed
        for definition in ctx.catalog.certifications.values()
        if p.exam_code in definition.exams
    ]
    if grants:
        report.certifications_granted += len(grants)
        report.credentials_issued += _grant_in_bulk(session, ctx, grants, people, now, used_slots, signer)
    _mail_in_bulk(session, ctx, [people[c] for c in sorted(candidate_ids)], now, run_id)


def _grant_in_bulk(
    session: Session,
    ctx: IssuerContext,
    grants: list[tuple[int, Any, date]],
    people: dict[int, _Person],
    now: datetime,
    used_slots: status_lists.UsedSlots,
    signer: CredentialSigner,
) -> int:
    """Insert the certifications, sign their credentials and insert those; returns how many."""
    granted_at = now.replace(microsecond=0)
    values = [
        {
            "candidate_id": candidate_id,
            "code": definition.code,
            "exam_date": exam_date,
            "granted_at": granted_at,
            "valid_until": expiry_for(exam_date, definition.validity_years),
        }
        for candidate_id, definition, exam_date in grants
    ]
    fast_insert(session, Certification.__table__, values)
    # Read the new ids back by (candidate, code), which is unique: INSERT … RETURNING in
    # parameter order would fall back to one statement per row on SQLite.
    by_key = {
        (candidate_id, code): cert_id
        for cert_id, candidate_id, code in session.execute(
            select(Certification.id, Certification.candidate_id, Certification.code).where(
                Certification.candidate_id.in_({v["candidate_id"] for v in values})
            )
        )
    }
    slots = status_lists.allocate_many(session, ctx, len(values), now, used_slots)
    cred_ids = [new_credential_id() for _ in values]
    items: list[Item] = []
    for cred_id, value, (list_id, index) in zip(cred_ids, values, slots, strict=True):
        person = people[value["candidate_id"]]
        items.append(
            (cred_id, person.holder_id, person.certmanager_id, person.first_name, person.last_name, value["code"],
             value["exam_date"], granted_at, value["valid_until"], list_id, index)
        )  # fmt: skip
    tokens = signer.sign(items)
    credentials = [
        {
            "id": cred_id,
            "kind": "certification",
            "candidate_id": value["candidate_id"],
            "certification_id": by_key[(value["candidate_id"], value["code"])],
            "certification_code": value["code"],
            "subject_name": people[value["candidate_id"]].full_name,
            "jwt": token,
            "signed_by": signer.thumbprint,
            "status_list_id": list_id,
            "status_index": index,
            "valid_from": certification_valid_from(Granted(**{k: value[k] for k in Granted.__dataclass_fields__})),
            "valid_until": value["valid_until"],
            "issued_at": granted_at,
            "link_replacement": True,
        }
        for cred_id, value, (list_id, index), token in zip(cred_ids, values, slots, tokens, strict=True)
    ]
    fast_insert(session, CredentialRecord.__table__, credentials)
    return len(credentials)


def _mail_in_bulk(session: Session, ctx: IssuerContext, people: list[_Person], now: datetime, run_id: str) -> None:
    keys = {f"results:{c.id}:{run_id}": c for c in people}
    queued = set(
        session.execute(select(MailMessage.dedupe_key).where(MailMessage.dedupe_key.in_(list(keys)))).scalars()
    )
    todo = [(key, c) for key, c in keys.items() if key not in queued]
    if not todo:
        return
    subject = "New exam results in your CertManager account"
    bodies = render_many(
        "results_imported",
        shared={
            "subject": subject,
            "exams_url": f"{ctx.settings.base_url}/exams",
            "issuer_name": ctx.settings.issuer_name,
        },
        fields=("first_name", "certmanager_id"),
        recipients=[{"first_name": c.first_name, "certmanager_id": c.certmanager_id} for _, c in todo],
    )
    fast_insert(
        session,
        MailMessage.__table__,
        [
            {
                "dedupe_key": key,
                "kind": "results_imported",
                "to_addr": candidate.email,
                "subject": subject,
                "body_text": text,
                "body_html": html,
                "created_at": now,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
            for (key, candidate), (text, html) in zip(todo, bodies, strict=True)
        ],
    )
