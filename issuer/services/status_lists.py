"""Bitstring status lists: random slot allocation, bit flips, signing and publishing.

Everything here runs in the caller's unit of work and is given the signer to use, so this
module sits below the key ring and the issuance and revocation services."""

from __future__ import annotations

import hashlib
import os
import secrets
from array import array
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import among, read_rows
from issuer.errors import StatusListNotFound
from issuer.ids import new_status_list_id
from issuer.models import CredentialRecord, StatusListRecord
from issuer.services.state import bump_generation
from keys import SigningKey
from verifier import MIN_ENTRIES, encode_list
from verifier.statuslist import set_bit
from verifier.timeutil import format_datetime

PURPOSE = "revocation"


def sign_list(ctx: IssuerContext, record: StatusListRecord, signer: SigningKey, now: datetime) -> None:
    """(Re-)sign `record`; the ETag changes with the signed bytes."""
    url = ctx.status_url(record.id)
    payload = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": ctx.issuer_id,
        "validFrom": format_datetime(now),
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
    record.signed_by = signer.kid.removeprefix(ctx.keys_prefix)


def _create_list(session: Session, ctx: IssuerContext, signer: SigningKey, now: datetime) -> StatusListRecord:
    entries = max(ctx.settings.status_index_range, MIN_ENTRIES)
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
    sign_list(ctx, record, signer, now)
    session.add(record)
    session.flush()
    return record


def open_list(session: Session, ctx: IssuerContext, signer: SigningKey, now: datetime) -> StatusListRecord:
    """The oldest open list, locked until commit (PostgreSQL; SQLite's write lock is held by the
    unit of work already); a new one when none is open."""
    found = session.execute(
        select(StatusListRecord)
        .where(StatusListRecord.is_open.is_(True))
        .order_by(StatusListRecord.created_at)
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    return found or _create_list(session, ctx, signer, now)


def _random_indexes(upper: int, count: int) -> set[int]:
    """About `count` distinct uniformly random indexes below `upper` (< 2**32), from one read of
    the CSPRNG: slot positions must not be guessable."""
    mask = (1 << max(1, (upper - 1).bit_length())) - 1
    words = array("I", os.urandom(4 * count))  # rejection sampling below: uniform for any `upper`
    return {value for word in words if (value := word & mask) < upper} or {secrets.randbelow(upper)}


def _taken(session: Session, list_id: str, candidates: list[int]) -> set[int]:
    query = select(CredentialRecord.status_index).where(
        CredentialRecord.status_list_id == list_id, among(session, CredentialRecord.status_index, candidates)
    )
    return {index for (index,) in read_rows(session, query)}


def allocate(
    session: Session, ctx: IssuerContext, count: int, signer: SigningKey, now: datetime
) -> list[tuple[str, int]]:
    """`count` random unused (list id, index) slots. The open list is locked until commit, so the
    indexes probed free stay free; a unique (list, index) constraint is the backstop."""
    slots: list[tuple[str, int]] = []
    index_range = ctx.settings.status_index_range
    while len(slots) < count:
        record = open_list(session, ctx, signer, now)
        upper = min(index_range, record.entries)
        wanted = min(count - len(slots), record.capacity - record.allocated)
        chosen: set[int] = set()
        for _attempt in range(8):
            if len(chosen) >= wanted:
                break
            # Draw more than needed: the fuller the list, the more of a draw is taken.
            fill = record.allocated / max(upper, 1)
            draw = max(8, int((wanted - len(chosen)) / max(1 - fill, 0.05) * 1.25))
            candidates = list(_random_indexes(upper, draw) - chosen)
            taken = _taken(session, record.id, candidates)
            free = [i for i in candidates if i not in taken]
            chosen.update(free[: wanted - len(chosen)])
        if not chosen:  # the list is (nearly) full: close it and go on with a new one
            record.is_open = False
            session.flush()
            continue
        record.allocated += len(chosen)
        if record.allocated >= record.capacity or len(chosen) < wanted:
            record.is_open = False
        slots.extend((record.id, index) for index in chosen)
    session.flush()
    return slots


def flag(
    session: Session, ctx: IssuerContext, slots: Iterable[tuple[str, int]], signer: SigningKey, now: datetime
) -> int:
    """Set the bits of `slots` (list id, index) and re-sign each list that changed, once."""
    by_list: dict[str, list[int]] = {}
    for list_id, index in slots:
        by_list.setdefault(list_id, []).append(index)
    changed = 0
    for list_id in sorted(by_list):  # a fixed lock order: two revocations never deadlock
        record = session.execute(
            select(StatusListRecord)
            .where(StatusListRecord.id == list_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        bits = bytearray(record.bits)
        for index in by_list[list_id]:
            set_bit(bits, index)
        if bytes(bits) != record.bits:
            record.bits = bytes(bits)
            sign_list(ctx, record, signer, now)
            changed += 1
    if changed:
        bump_generation(session)
    return changed


def resign_lists_signed_by(
    session: Session, ctx: IssuerContext, thumbprint: str, signer: SigningKey, now: datetime
) -> int:
    """Re-sign with `signer` every list whose signature depends on `thumbprint`."""
    records = (
        session.execute(
            select(StatusListRecord)
            .where(StatusListRecord.signed_by == thumbprint)
            .order_by(StatusListRecord.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        .scalars()
        .all()
    )
    for record in records:
        sign_list(ctx, record, signer, now)
    if records:
        bump_generation(session)
    return len(records)


def get_list(session: Session, list_id: str) -> StatusListRecord:
    record = session.get(StatusListRecord, list_id) if len(list_id) <= 32 else None
    if record is None:
        raise StatusListNotFound(f"no status list {list_id!r}")
    return record
