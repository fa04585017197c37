"""The one revocation path (SPEC §5.6): final; flips the status-list bits and re-signs each
affected list once, in the caller's unit of work. `revoke_credential` is the use case."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import among, unit_of_work
from issuer.errors import UnknownReason
from issuer.inputs import clean_line
from issuer.models import CredentialRecord
from issuer.services import audit, keyring, status_lists
from issuer.services.credentials import get_credential
from issuer.services.state import lock_issuer_state

REASONS = ("superseded", "withdrawn", "issued_in_error", "misconduct", "key_compromise")
# The reasons that end the certification itself, not just one credential of it: a superseded
# credential has a newer one, and a key compromise reissues what was still valid.
ENDING_REASONS = ("withdrawn", "issued_in_error", "misconduct")
NOTE_MAX = 500  # characters of the internal note kept with a revocation


def check_reason(reason: str) -> None:
    if reason not in REASONS:
        raise UnknownReason(f"unknown revocation reason {reason!r}; use one of: {', '.join(REASONS)}")


def revoke(
    session: Session,
    ctx: IssuerContext,
    records: Sequence[CredentialRecord],
    *,
    reason: str,
    note: str | None,
    actor: str,
    now: datetime,
    replaced_by: Mapping[str, str] | None = None,
    link: bool = True,
) -> list[CredentialRecord]:
    """Revoke the not-yet-revoked `records`; `replaced_by` maps an old id to its replacement's.
    Returns the records that changed."""
    check_reason(reason)
    if not records:
        return []
    lock_issuer_state(session)  # first, as every unit that signs (issuer/services/state.py)
    # Locked and re-read before deciding: of two concurrent revocations only one changes a row.
    unrevoked = session.execute(
        select(CredentialRecord.id, CredentialRecord.revoked_at)
        .where(among(session, CredentialRecord.id, [r.id for r in records]))
        .order_by(CredentialRecord.id)
        .with_for_update()
    ).all()
    still = {cred_id for cred_id, revoked_at in unrevoked if revoked_at is None}
    changed = list({r.id: r for r in records if r.id in still}.values())
    if not changed:
        return []
    replacements = replaced_by or {}
    for record in changed:
        record.revoked_at = now
        record.revocation_reason = reason
        record.revocation_note = note
        replacement = replacements.get(record.id)
        if replacement is not None:
            record.replaced_by_id = replacement
            record.link_replacement = link
        audit.record(
            session, actor=actor, action="credential.revoke", target=record.id, now=now, reason=reason,
            replaced_by=replacement,
        )  # fmt: skip
    slots = [(r.status_list_id, r.status_index) for r in changed]
    status_lists.flag(session, ctx, slots, keyring.active_signer(session, ctx), now)
    return changed


def revoke_credential(
    session: Session, ctx: IssuerContext, cred_id: str, *, reason: str, note: str | None, actor: str, now: datetime
) -> tuple[CredentialRecord, bool]:
    """Revoke one credential. Revoking a revoked credential changes nothing (returns False)."""
    check_reason(reason)
    if note is not None:
        note = clean_line(note, field="The note", limit=NOTE_MAX) or None
    with unit_of_work(session):
        record = get_credential(session, cred_id)
        changed = bool(revoke(session, ctx, [record], reason=reason, note=note, actor=actor, now=now))
    return record, changed
