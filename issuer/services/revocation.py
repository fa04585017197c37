"""Revocation (SPEC §5.6): final, flips the status-list bit, re-signs the list at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import begin_write
from issuer.errors import UnknownReason
from issuer.models import CredentialRecord
from issuer.services import audit, status_lists
from issuer.services.credentials import get_credential

REASONS = ("superseded", "withdrawn", "issued_in_error", "misconduct", "key_compromise")


def mark_revoked(
    session: Session,
    ctx: IssuerContext,
    records: Sequence[CredentialRecord],
    *,
    reason: str,
    note: str | None,
    actor: str,
    now: datetime,
    replaced_by: CredentialRecord | None = None,
    link: bool = True,
) -> list[CredentialRecord]:
    """Revoke the not-yet-revoked `records` inside the caller's transaction; returns those changed."""
    if reason not in REASONS:
        raise UnknownReason(f"unknown revocation reason {reason!r}; use one of: {', '.join(REASONS)}")
    changed = [r for r in records if r.revoked_at is None]
    for record in changed:
        record.revoked_at = now
        record.revocation_reason = reason
        record.revocation_note = note
        if replaced_by is not None:
            record.replaced_by_id = replaced_by.id
            record.link_replacement = link
        audit.record(session, actor=actor, action="credential.revoke", target=record.id, now=now, reason=reason)
    status_lists.flag(session, ctx, [(r.status_list_id, r.status_index) for r in changed], now)
    return changed


def revoke(
    session: Session, ctx: IssuerContext, cred_id: str, *, reason: str, note: str | None, actor: str, now: datetime
) -> tuple[CredentialRecord, bool]:
    """Revoke one credential. Revoking a revoked credential changes nothing (returns False)."""
    if reason not in REASONS:
        raise UnknownReason(f"unknown revocation reason {reason!r}; use one of: {', '.join(REASONS)}")
    begin_write(session)
    record = get_credential(session, cred_id)
    changed = bool(mark_revoked(session, ctx, [record], reason=reason, note=note, actor=actor, now=now))
    session.commit()
    return record, changed
