"""The mail outbox (SPEC §5.10): messages are written in the same transaction as the event that
causes them; delivery happens after commit (see `deliver_due`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, NamedTuple

from jinja2 import TemplateError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import among, fast_insert, read_rows, unit_of_work
from issuer.mail_transport import (
    DeliveryError,
    MessageRejected,
    Sender,
    Transport,
    TransportUnavailable,
    build_message,
    transport_for,
)
from issuer.models import MailMessage

# Waits after the 1st, 2nd, … failed attempt; the attempt after the last wait is the last one.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=12))
MAX_ATTEMPTS = len(BACKOFF) + 1
# A claimed message is leased to its sender this long; after that, the sender is taken to have
# crashed and the message is due again (its next_attempt_at is the lease's end).
SENDING_LEASE = timedelta(minutes=10)
BATCH = 100
_ERROR_CHARS = 500  # mail_outbox.last_error


class Outgoing(NamedTuple):
    """A message to queue, addressed and (optionally) keyed so it is queued once: rendered
    (`text`, `html`), or — bulk notices — as the `context` of its `kind`'s templates, which the
    sender renders (thousands of bodies are not rendered and stored in an import's transaction)."""

    to: str
    kind: str
    subject: str
    text: str | None
    html: str | None
    dedupe_key: str | None = None
    context: dict[str, Any] | None = None


def _row(mail: Outgoing, now: datetime) -> dict[str, object]:
    return {
        "dedupe_key": mail.dedupe_key,
        "kind": mail.kind,
        "to_addr": mail.to,
        "subject": mail.subject,
        "body_text": mail.text,
        "body_html": mail.html,
        "context": mail.context,
        "created_at": now,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
    }


def _queued(session: Session, keys: Sequence[str]) -> set[str]:
    if not keys:
        return set()
    query = select(MailMessage.dedupe_key).where(among(session, MailMessage.dedupe_key, keys))
    return {key for (key,) in read_rows(session, query) if key is not None}


def enqueue(session: Session, mail: Outgoing, *, now: datetime) -> int | None:
    """Queue one message in the caller's unit of work; returns its outbox id, or None when its
    `dedupe_key` is queued already."""
    if mail.dedupe_key is not None and _queued(session, [mail.dedupe_key]):
        return None
    message = MailMessage(**_row(mail, now))
    session.add(message)
    session.flush()
    return message.id


def enqueue_many(session: Session, mails: Sequence[Outgoing], *, now: datetime) -> int:
    """Queue `mails` in the caller's unit of work, in bulk. A `dedupe_key` already queued (or
    repeated in `mails`) queues nothing, so re-running an import never mails twice. Returns how
    many were queued."""
    seen = _queued(session, [m.dedupe_key for m in mails if m.dedupe_key is not None])
    rows: list[dict[str, object]] = []
    for mail in mails:
        if mail.dedupe_key is not None:
            if mail.dedupe_key in seen:
                continue
            seen.add(mail.dedupe_key)
        rows.append(_row(mail, now))
    fast_insert(session, MailMessage.__table__, rows)  # type: ignore[arg-type]
    return len(rows)


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery pass did: messages claimed, then sent, rescheduled or given up."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    last_error: str | None = None

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.claimed + other.claimed,
            self.sent + other.sent,
            self.retrying + other.retrying,
            self.failed + other.failed,
            other.last_error or self.last_error,
        )

    def summary(self) -> str:
        line = f"mail: {self.sent} sent, {self.retrying} to retry, {self.failed} failed"
        return f"{line} (last error: {self.last_error})" if self.last_error else line


@dataclass(frozen=True)
class _Claim:
    id: int
    attempts: int
    email: EmailMessage


def _bodies(ctx: IssuerContext, row: MailMessage) -> tuple[str, str | None]:
    """The message's text and HTML: as stored, or rendered now from its kind and context."""
    if row.body_text is not None:
        return row.body_text, row.body_html
    if row.context is None:
        raise MessageRejected("the message has neither a body nor a context to render one from")
    try:
        return ctx.mail.render(row.kind, **row.context)
    except TemplateError as exc:
        raise MessageRejected(f"cannot render the {row.kind} message: {exc.__class__.__name__}") from None


def _claim(session: Session, ctx: IssuerContext, now: datetime, limit: int) -> tuple[list[_Claim], int, int]:
    """Lease up to `limit` due messages to this sender (one unit of work); returns (claims, claimed, failed)."""
    with unit_of_work(session):  # SQLite: the write lock serialises claims
        rows = (
            session.execute(
                select(MailMessage)
                .where(MailMessage.status.in_(("pending", "sending")), MailMessage.next_attempt_at <= now)
                .order_by(MailMessage.next_attempt_at, MailMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)  # PostgreSQL: concurrent senders take disjoint rows
                .execution_options(populate_existing=True)
            )
            .scalars()
            .all()
        )
        sender = Sender.from_settings(ctx.settings)
        claims: list[_Claim] = []
        failed = 0
        for row in rows:
            if row.status == "sending" and row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
                row.last_error = "the sender stopped during the last attempt; delivery is unknown"
                failed += 1
                continue
            row.attempts += 1
            # Kept across attempts, so a receiver can recognise a resend after a crash.
            row.message_id = row.message_id or make_msgid(domain=sender.domain)
            try:
                text, html = _bodies(ctx, row)
                email = build_message(
                    sender=sender,
                    to=row.to_addr,
                    subject=row.subject,
                    text=text,
                    html=html,
                    message_id=row.message_id,
                    now=now,
                )
            except MessageRejected as exc:
                row.status = "failed"
                row.last_error = exc.message[:_ERROR_CHARS]
                failed += 1
                continue
            row.status = "sending"
            row.next_attempt_at = now + SENDING_LEASE
            claims.append(_Claim(row.id, row.attempts, email))
    return claims, len(rows), failed


def _finish(session: Session, claim: _Claim, now: datetime, error: DeliveryError | None) -> str:
    """Record one outcome (one unit of work); returns the new status ('lost' if the lease was taken over)."""
    values: dict[str, object]
    if error is None:
        values = {"status": "sent", "sent_at": now, "last_error": None}
    elif isinstance(error, MessageRejected) or claim.attempts >= MAX_ATTEMPTS:
        values = {"status": "failed", "last_error": error.message[:_ERROR_CHARS]}
    else:
        values = {
            "status": "pending",
            "next_attempt_at": now + BACKOFF[claim.attempts - 1],
            "last_error": error.message[:_ERROR_CHARS],
        }
    with unit_of_work(session):
        result = session.execute(
            update(MailMessage)
            .where(
                MailMessage.id == claim.id,
                MailMessage.status == "sending",
                MailMessage.attempts == claim.attempts,  # still our lease
            )
            .values(**values)
        )
    return str(values["status"]) if result.rowcount == 1 else "lost"  # type: ignore[attr-defined]


def deliver_due(
    session: Session,
    ctx: IssuerContext,
    *,
    now: datetime,
    transport: Transport | None = None,
    limit: int = BATCH,
) -> DeliveryReport:
    """Send up to `limit` due messages: claim them (committed), send each, then record each outcome.

    A message is sent at most once per claim; only a sender that dies between sending and
    recording (its lease then runs out) can cause a resend."""
    transport = transport if transport is not None else transport_for(ctx.settings)
    claims, claimed, failed = _claim(session, ctx, now, limit)
    sent = retrying = 0
    last_error: str | None = None
    unavailable: TransportUnavailable | None = None
    try:
        for claim in claims:
            error: DeliveryError | None = unavailable  # the server is down: no point trying the rest
            if error is None:
                try:
                    transport.send(claim.email, outbox_id=claim.id, now=now)
                except TransportUnavailable as exc:
                    error = unavailable = exc
                except DeliveryError as exc:
                    error = exc
            if error is not None:
                last_error = error.message
            status = _finish(session, claim, now, error)
            sent += status == "sent"
            retrying += status == "pending"
            failed += status == "failed"
    finally:
        transport.close()
    return DeliveryReport(claimed, sent, retrying, failed, last_error)


def deliver_all_due(
    session: Session, ctx: IssuerContext, *, now: datetime, transport: Transport | None = None, limit: int = BATCH
) -> DeliveryReport:
    """`deliver_due` in batches until nothing is due at `now` (each pass moves what it claims out of reach)."""
    transport = transport if transport is not None else transport_for(ctx.settings)
    total = DeliveryReport()
    while True:
        report = deliver_due(session, ctx, now=now, transport=transport, limit=limit)
        total += report
        if report.claimed < limit:
            return total
