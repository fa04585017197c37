"""Bitstring status lists: random slot allocation, bit flips, signing and publishing."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.errors import NotInitialized, StatusListNotFound
from issuer.ids import new_status_list_id
from issuer.models import CredentialRecord, SigningKeyRecord, StatusListRecord
from issuer.services.state import bump_generation
from verifier import encode_list
from verifier.statuslist import set_bit
from verifier.timeutil import format_datetime

PURPOSE = "revocation"
_MAX_TRIES = 64


def _active_key(session: Session) -> SigningKeyRecord:
    record = session.execute(select(SigningKeyRecord).where(SigningKeyRecord.state == "active")).scalar_one_or_none()
    if record is None:
        raise NotInitialized("no active signing key: run `certmanager init`")
    return record


def sign_list(session: Session, ctx: IssuerContext, record: StatusListRecord, now: datetime) -> None:
    """(Re-)sign `record` with the active key; the ETag changes with the signed bytes."""
    key = _active_key(session)
    signer = ctx.signer(key)
    url = ctx.status_url(record.id)
    issued = format_datetime(now)
    payload = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": ctx.issuer_id,
        "validFrom": issued,
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": record.purpose,
            "encodedList": encode_list(record.bits),
            "ttl": ctx.settings.status_ttl_ms,
        },
        "iss": ctx.issuer_id,
        "jti": url,
        "nbf": int(now.timestamp()),
        "iat": int(now.timestamp()),
    }
    record.jwt = signer.sign(payload, typ="vc+jwt")
    record.etag = hashlib.sha256(record.jwt.encode("ascii")).hexdigest()[:32]
    record.signed_at = now
    record.signed_by = key.thumbprint


def create_list(session: Session, ctx: IssuerContext, now: datetime) -> StatusListRecord:
    entries = max(ctx.settings.status_index_range, 131_072)
    record = StatusListRecord(
        id=new_status_list_id(),
        purpose=PURPOSE,
        entries=entries,
        capacity=min(ctx.settings.status_list_capacity, ctx.settings.status_index_range),
        allocated=0,
        is_open=True,
        bits=bytes(entries // 8),
        created_at=now,
    )
    sign_list(session, ctx, record, now)
    session.add(record)
    session.flush()
    return record


def _open_list(session: Session, ctx: IssuerContext, now: datetime) -> StatusListRecord:
    """The oldest open list, locked until commit (PostgreSQL; SQLite's write lock is held
    already); a new one when none is open."""
    found = session.execute(
        select(StatusListRecord)
        .where(StatusListRecord.is_open.is_(True))
        .order_by(StatusListRecord.created_at)
        .limit(1)
        .with_for_update()
    ).scalar_one_or_none()
    return found or create_list(session, ctx, now)


def ensure_open_list(session: Session, ctx: IssuerContext, now: datetime) -> StatusListRecord:
    return _open_list(session, ctx, now)


def allocate_slot(session: Session, ctx: IssuerContext, now: datetime) -> tuple[StatusListRecord, int]:
    """A random unused index in an open list. The list row is locked (PostgreSQL) or the
    database is (SQLite) until commit, and (list, index) is unique in the table as a backstop."""
    while True:
        record = _open_list(session, ctx, now)
        if record.allocated >= record.capacity:
            record.is_open = False
            session.flush()
            continue
        index = _free_index(session, record, ctx.settings.status_index_range)
        if index is None:  # improbable: the list is nearly full; close it and use a new one
            record.is_open = False
            session.flush()
            continue
        record.allocated += 1
        if record.allocated >= record.capacity:
            record.is_open = False
        return record, index


class UsedSlots:
    """The taken indexes of lists, read once per bulk import and kept up to date as it allocates.
    Another process allocating meanwhile is caught by the unique (list, index) constraint; the
    caller then calls `forget()` and retries."""

    def __init__(self) -> None:
        self._by_list: dict[str, set[int]] = {}

    def of(self, session: Session, list_id: str) -> set[int]:
        used = self._by_list.get(list_id)
        if used is None:
            used = self._by_list[list_id] = set(
                session.execute(
                    select(CredentialRecord.status_index).where(CredentialRecord.status_list_id == list_id)
                ).scalars()
            )
        return used

    def forget(self) -> None:
        self._by_list.clear()


def allocate_many(
    session: Session, ctx: IssuerContext, count: int, now: datetime, used_slots: UsedSlots | None = None
) -> list[tuple[str, int]]:
    """`count` random unused slots at once (bulk imports), under the same list lock."""
    used_slots = used_slots or UsedSlots()
    slots: list[tuple[str, int]] = []
    index_range = ctx.settings.status_index_range
    while len(slots) < count:
        record = _open_list(session, ctx, now)
        upper = min(index_range, record.entries)
        used = used_slots.of(session, record.id)
        take = min(count - len(slots), record.capacity - record.allocated, upper - len(used))
        if take <= 0:
            record.is_open = False
            session.flush()
            continue
        chosen: set[int] = set()
        while len(chosen) < take:
            index = secrets.randbelow(upper)
            if index not in used:
                chosen.add(index)
        record.allocated += take
        if record.allocated >= record.capacity:
            record.is_open = False
        used.update(chosen)
        slots.extend((record.id, index) for index in chosen)
    session.flush()
    return slots


def _free_index(session: Session, record: StatusListRecord, index_range: int) -> int | None:
    upper = min(index_range, record.entries)
    for _ in range(_MAX_TRIES):
        index = secrets.randbelow(upper)
        taken = session.execute(
            select(exists().where(CredentialRecord.status_list_id == record.id, CredentialRecord.status_index == index))
        ).scalar_one()
        if not taken:
            return index
    return None


def flag(session: Session, ctx: IssuerContext, slots: Iterable[tuple[str, int]], now: datetime) -> int:
    """Set the bits of `slots` (list id, index) and re-sign each list that changed."""
    by_list: dict[str, list[int]] = {}
    for list_id, index in slots:
        by_list.setdefault(list_id, []).append(index)
    changed = 0
    for list_id in sorted(by_list):
        record = session.execute(
            select(StatusListRecord).where(StatusListRecord.id == list_id).with_for_update()
        ).scalar_one()
        bits = bytearray(record.bits)
        for index in by_list[list_id]:
            set_bit(bits, index)
        if bytes(bits) != record.bits:
            record.bits = bytes(bits)
            sign_list(session, ctx, record, now)
            changed += 1
    if changed:
        bump_generation(session)
    return changed


def resign_lists_signed_by(session: Session, ctx: IssuerContext, thumbprint: str, now: datetime) -> int:
    """Re-sign with the active key every list whose signature depends on `thumbprint`."""
    records = (
        session.execute(select(StatusListRecord).where(StatusListRecord.signed_by == thumbprint).with_for_update())
        .scalars()
        .all()
    )
    for record in records:
        sign_list(session, ctx, record, now)
    if records:
        bump_generation(session)
    return len(records)


def get_list(session: Session, list_id: str) -> StatusListRecord:
    record = session.get(StatusListRecord, list_id)
    if record is None:
        raise StatusListNotFound(f"no status list {list_id!r}")
    return record
