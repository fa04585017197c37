"""Key lifecycle (SPEC §5.7): create, rotate, retire, mark compromised; load the key ring."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import begin_write
from issuer.errors import InvalidKeyState, KeyInUse, KeyNotFound, NotInitialized
from issuer.models import CredentialRecord, SigningKeyRecord
from issuer.services import audit, status_lists
from issuer.services.state import bump_generation
from keys import KeyRing, KeyState, RingEntry, generate_key, public_key_from_jwk


def create_active_key(session: Session, ctx: IssuerContext, now: datetime, alg: str | None = None) -> SigningKeyRecord:
    """Generate a key and make it the active one (the previous active key becomes verify-only)."""
    generated = generate_key(alg or ctx.settings.signing_alg, ctx.settings.key_passphrase)
    for old in session.execute(select(SigningKeyRecord).where(SigningKeyRecord.state == "active")).scalars():
        old.state = KeyState.VERIFY.value
        old.rotated_at = now
    record = SigningKeyRecord(
        thumbprint=generated.thumbprint,
        alg=generated.alg,
        state=KeyState.ACTIVE.value,
        public_jwk=generated.public_jwk,
        encrypted_private_key=generated.encrypted_private_key,
        created_at=now,
    )
    session.add(record)
    session.flush()
    bump_generation(session)
    return record


def active_key(session: Session) -> SigningKeyRecord | None:
    return session.execute(select(SigningKeyRecord).where(SigningKeyRecord.state == "active")).scalar_one_or_none()


def load_ring(session: Session, ctx: IssuerContext) -> KeyRing:
    """Every key we know, as verification keys (no private key is decrypted here)."""
    entries = [
        RingEntry(public_key_from_jwk(r.public_jwk, kid=ctx.kid(r.thumbprint), alg=r.alg), KeyState(r.state))
        for r in session.execute(select(SigningKeyRecord)).scalars()
    ]
    return KeyRing(entries)


def list_keys(session: Session) -> list[SigningKeyRecord]:
    return list(session.execute(select(SigningKeyRecord).order_by(SigningKeyRecord.created_at.desc())).scalars())


def _get(session: Session, ctx: IssuerContext, key_ref: str) -> SigningKeyRecord:
    thumbprint = key_ref.removeprefix(ctx.keys_prefix)
    record = session.get(SigningKeyRecord, thumbprint)
    if record is None:
        raise KeyNotFound(f"no signing key {key_ref!r}")
    return record


def rotate(
    session: Session, ctx: IssuerContext, *, now: datetime, actor: str, alg: str | None = None
) -> SigningKeyRecord:
    begin_write(session)
    if active_key(session) is None and session.execute(select(SigningKeyRecord.thumbprint).limit(1)).first() is None:
        raise NotInitialized("no keys yet: run `certmanager init`")
    record = create_active_key(session, ctx, now, alg)
    audit.record(session, actor=actor, action="key.rotate", target=record.thumbprint, now=now, alg=record.alg)
    session.commit()
    return record


def retire(session: Session, ctx: IssuerContext, key_ref: str, *, now: datetime, actor: str) -> SigningKeyRecord:
    """Stop publishing a verify-only key once nothing valid depends on it."""
    begin_write(session)
    record = _get(session, ctx, key_ref)
    if record.state == "active":
        raise InvalidKeyState("the active key cannot be retired: rotate first")
    if record.state in ("retired", "compromised"):
        raise InvalidKeyState(f"the key is already {record.state}")
    still_valid = session.execute(
        select(CredentialRecord.id)
        .where(
            CredentialRecord.signed_by == record.thumbprint,
            CredentialRecord.revoked_at.is_(None),
            or_(CredentialRecord.valid_until.is_(None), CredentialRecord.valid_until > now),
        )
        .limit(1)
    ).first()
    if still_valid is not None:
        raise KeyInUse("credentials that are still valid depend on this key; it stays published")
    status_lists.resign_lists_signed_by(session, ctx, record.thumbprint, now)
    record.state = KeyState.RETIRED.value
    record.retired_at = now
    bump_generation(session)
    audit.record(session, actor=actor, action="key.retire", target=record.thumbprint, now=now)
    session.commit()
    return record


@dataclass
class CompromiseReport:
    key: SigningKeyRecord
    revoked: list[str] = field(default_factory=list)
    reissued: dict[str, str] = field(default_factory=dict)  # old id -> new id
    new_active: str | None = None


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
    """Unpublish the key, revoke everything it signed (`key_compromise`), optionally reissue."""
    from issuer.services import credentials, revocation

    begin_write(session)
    record = _get(session, ctx, key_ref)
    if record.state == "compromised":
        raise InvalidKeyState("the key is already marked compromised")
    report = CompromiseReport(key=record)
    if record.state == "active":
        report.new_active = create_active_key(session, ctx, now).thumbprint
    record.state = KeyState.COMPROMISED.value
    record.compromised_at = now
    session.flush()
    affected = list(
        session.execute(
            select(CredentialRecord)
            .where(CredentialRecord.signed_by == record.thumbprint, CredentialRecord.revoked_at.is_(None))
            .order_by(CredentialRecord.issued_at)
        ).scalars()
    )
    still_valid = [c for c in affected if c.valid_until is None or c.valid_until > now]
    revocation.mark_revoked(session, ctx, affected, reason="key_compromise", note=None, actor=actor, now=now)
    report.revoked = [c.id for c in affected]
    if reissue:
        for done, old in enumerate(still_valid, start=1):
            new = credentials.reissue(session, ctx, old, now=now)
            old.replaced_by_id = new.id
            report.reissued[old.id] = new.id
            if progress is not None:
                progress(done, len(still_valid))
    status_lists.resign_lists_signed_by(session, ctx, record.thumbprint, now)
    bump_generation(session)
    audit.record(
        session,
        actor=actor,
        action="key.compromised",
        target=record.thumbprint,
        now=now,
        revoked=len(report.revoked),
        reissued=len(report.reissued),
    )
    session.commit()
    return report
