"""Key lifecycle (SPEC §5.7): the key ring as stored, its active signer, rotate and retire.

Marking a key compromised revokes and reissues credentials, so it lives above issuance and
revocation, in `key_compromise`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import unit_of_work
from issuer.errors import InvalidKeyState, KeyInUse, KeyNotFound, NotInitialized
from issuer.models import CredentialRecord, SigningKeyRecord
from issuer.services import audit, status_lists
from issuer.services.state import bump_generation, lock_issuer_state
from keys import KeyRing, KeyState, NoActiveKey, RingEntry, SigningKey, generate_key, public_key_from_jwk


def _records(session: Session) -> list[SigningKeyRecord]:
    return list(session.execute(select(SigningKeyRecord).order_by(SigningKeyRecord.created_at.desc())).scalars())


def load_ring(session: Session, ctx: IssuerContext, *, signer: bool = False) -> KeyRing:
    """Every key we know; with `signer`, the active key decrypted (once per process) to sign."""
    records = _records(session)
    entries = [
        RingEntry(public_key_from_jwk(r.public_jwk, kid=ctx.kid(r.thumbprint), alg=r.alg), KeyState(r.state))
        for r in records
    ]
    active = next((r for r in records if r.state == KeyState.ACTIVE), None) if signer else None
    return KeyRing(entries, ctx.decrypt(active) if active is not None else None)


def active_signer(session: Session, ctx: IssuerContext) -> SigningKey:
    """The key that signs everything new (credentials and status lists): the ring's signer, the
    one way the active key is found. Raises NotInitialized."""
    try:
        return load_ring(session, ctx, signer=True).signer
    except NoActiveKey as exc:
        raise NotInitialized("there is no active signing key: run `certmanager init`") from exc


def active_key(session: Session) -> SigningKeyRecord | None:
    query = select(SigningKeyRecord).where(SigningKeyRecord.state == KeyState.ACTIVE.value)
    return session.execute(query).scalar_one_or_none()


def list_keys(session: Session) -> list[SigningKeyRecord]:
    return _records(session)


def get_key(session: Session, ctx: IssuerContext, key_ref: str) -> SigningKeyRecord:
    """A key by thumbprint or by its full `kid` URL. Raises KeyNotFound."""
    thumbprint = key_ref.removeprefix(ctx.keys_prefix)
    record = session.get(SigningKeyRecord, thumbprint) if len(thumbprint) <= 64 else None
    if record is None:
        raise KeyNotFound(f"no signing key {key_ref!r}")
    return record


def create_active_key(session: Session, ctx: IssuerContext, now: datetime, alg: str | None = None) -> SigningKeyRecord:
    """Generate a key and make it the active one (the previous active key becomes verify-only),
    in the caller's unit of work."""
    generated = generate_key(alg or ctx.settings.signing_alg, ctx.settings.key_passphrase)
    lock_issuer_state(session)
    previous = session.execute(
        select(SigningKeyRecord)
        .where(SigningKeyRecord.state == KeyState.ACTIVE.value)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if previous is not None:
        previous.state = KeyState.VERIFY.value
        previous.rotated_at = now
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


def rotate(
    session: Session, ctx: IssuerContext, *, now: datetime, actor: str, alg: str | None = None
) -> SigningKeyRecord:
    """A new active key; older keys stay published and keep verifying what they signed."""
    with unit_of_work(session):
        if not _records(session):
            raise NotInitialized("no keys yet: run `certmanager init`")
        record = create_active_key(session, ctx, now, alg)
        audit.record(session, actor=actor, action="key.rotate", target=record.thumbprint, now=now, alg=record.alg)
    return record


def retire(session: Session, ctx: IssuerContext, key_ref: str, *, now: datetime, actor: str) -> SigningKeyRecord:
    """Stop publishing a verify-only key once nothing valid depends on it."""
    with unit_of_work(session):
        lock_issuer_state(session)
        record = get_key(session, ctx, key_ref)
        if record.state == KeyState.ACTIVE:
            raise InvalidKeyState("the active key cannot be retired: rotate first")
        if record.state in (KeyState.RETIRED, KeyState.COMPROMISED):
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
        status_lists.resign_lists_signed_by(session, ctx, record.thumbprint, active_signer(session, ctx), now)
        record.state = KeyState.RETIRED.value
        record.retired_at = now
        bump_generation(session)
        audit.record(session, actor=actor, action="key.retire", target=record.thumbprint, now=now)
    return record
