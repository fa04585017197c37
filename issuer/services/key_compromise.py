"""A compromised signing key (SPEC §5.7): unpublished at once, everything it signed revoked
(`key_compromise`), and — with `reissue` — every still-valid credential reissued under the
active key, each old one pointing to its replacement. One unit of work."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import among, read_rows, unit_of_work
from issuer.errors import InvalidKeyState
from issuer.models import Candidate, CredentialRecord, SigningKeyRecord
from issuer.services import audit, issuance, keyring, notices, revocation, status_lists
from issuer.services.state import bump_generation, lock_issuer_state
from keys import KeyState

REISSUE_BATCH = 500  # credentials signed per issuance call (and per progress step)


@dataclass
class CompromiseReport:
    key: SigningKeyRecord
    revoked: list[str] = field(default_factory=list)
    reissued: dict[str, str] = field(default_factory=dict)  # old id -> new id
    new_active: str | None = None


def _recipients(session: Session, candidate_ids: set[int]) -> dict[int, notices.Recipient]:
    if not candidate_ids:
        return {}
    query = select(Candidate.id, Candidate.email, Candidate.first_name, Candidate.certmanager_id).where(
        among(session, Candidate.id, candidate_ids)
    )
    return {row.id: notices.Recipient(*row) for row in read_rows(session, query)}


def _by_candidate(records: list[CredentialRecord], size: int) -> Iterator[list[CredentialRecord]]:
    """Batches of about `size` records that never split one candidate's credentials, so each
    candidate gets one message listing all their new links."""
    batch: list[CredentialRecord] = []
    by_holder = sorted(records, key=lambda r: (r.candidate_id, r.issued_at, r.id))
    for _, theirs in groupby(by_holder, key=lambda r: r.candidate_id):
        if batch and len(batch) >= size:
            yield batch
            batch = []
        batch.extend(theirs)
    if batch:
        yield batch


def mark_compromised(
    session: Session,
    ctx: IssuerContext,
    key_ref: str,
    *,
    now: datetime,
    actor: str,
    reissue: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> CompromiseReport:
    """Unpublish the key, revoke everything it signed, and optionally reissue what was valid."""
    with unit_of_work(session):
        lock_issuer_state(session)
        record = keyring.get_key(session, ctx, key_ref)
        if record.state == KeyState.COMPROMISED:
            raise InvalidKeyState("the key is already marked compromised")
        report = CompromiseReport(key=record)
        if record.state == KeyState.ACTIVE:
            report.new_active = keyring.create_active_key(session, ctx, now).thumbprint
        record.state = KeyState.COMPROMISED.value
        record.compromised_at = now
        session.flush()
        affected = list(
            session.execute(
                select(CredentialRecord)
                .where(CredentialRecord.signed_by == record.thumbprint, CredentialRecord.revoked_at.is_(None))
                .order_by(CredentialRecord.issued_at, CredentialRecord.id)
            ).scalars()
        )
        if reissue:
            still_valid = [c for c in affected if c.valid_until is None or c.valid_until > now]
            recipients = _recipients(session, {c.candidate_id for c in still_valid})
            done = 0
            for batch in _by_candidate(still_valid, REISSUE_BATCH):
                issued = issuance.issue(
                    session, ctx, issuance.grants_for(session, batch), now=now,
                    notify=lambda done: notices.credentials_reissued(ctx, recipients, done),
                )  # fmt: skip
                report.reissued.update((old.id, new.id) for old, new in zip(batch, issued, strict=True))
                done += len(batch)
                if progress is not None:
                    progress(done, len(still_valid))
        revocation.revoke(
            session, ctx, affected, reason="key_compromise", note=None, actor=actor, now=now,
            replaced_by=report.reissued,
        )  # fmt: skip
        report.revoked = [c.id for c in affected]
        status_lists.resign_lists_signed_by(session, ctx, record.thumbprint, keyring.active_signer(session, ctx), now)
        bump_generation(session)
        audit.record(
            session, actor=actor, action="key.compromised", target=record.thumbprint, now=now,
            revoked=len(report.revoked), reissued=len(report.reissued),
        )  # fmt: skip
    return report
