"""Verification against this issuer's own database: the verifier's KeySource, StatusSource and
RevocationDetailsSource, cached per process and refreshed when the issuer generation moves.

Everything is read through short sessions of its own, never the caller's: a request's session
may hold an older snapshot (SQLite fixes one at a transaction's first read), and a stale list
cached under a new generation would stay wrong until the next change."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from issuer.context import IssuerContext
from issuer.db import Database
from issuer.ids import is_credential_id
from issuer.models import CredentialRecord, IssuerState, StatusListRecord
from issuer.services.keyring import load_ring
from issuer.services.state import current_generation
from keys import KeyRing, RingEntry
from verifier import RevocationInfo, StatusList, VerificationResult, Verifier, verify_status_list
from verifier.errors import StatusUnavailable, UnknownKey, UntrustedIssuer


@dataclass
class _Snapshot:
    generation: int
    ring: KeyRing
    lists: dict[str, StatusList] = field(default_factory=dict)


class LocalKeys:
    def __init__(self, ctx: IssuerContext, ring: KeyRing) -> None:
        self._issuer = ctx.issuer_id
        self._prefix = ctx.keys_prefix
        self._ring = ring

    def resolve(self, issuer: str, kid: str) -> RingEntry:
        if issuer != self._issuer:
            raise UntrustedIssuer("this verifier only verifies credentials of its own issuer")
        entry = self._ring.get(kid) if kid.startswith(self._prefix) else None
        if entry is None:
            raise UnknownKey("the issuer has no key with this kid")
        return entry


class LocalStatus:
    def __init__(self, ctx: IssuerContext, database: Database, snapshot: _Snapshot, keys: LocalKeys) -> None:
        self._prefix = ctx.status_url("")
        self._database = database
        self._snapshot = snapshot
        self._keys = keys

    def status_list(self, url: str, *, issuer: str, purpose: str, now: datetime) -> StatusList:
        cached = self._snapshot.lists.get(url)
        if cached is None:
            list_id = url.removeprefix(self._prefix) if url.startswith(self._prefix) else None
            jwt = None
            if list_id:
                with self._database.session() as session:
                    jwt = session.execute(select(StatusListRecord.jwt).where(StatusListRecord.id == list_id)).scalar()
            if jwt is None:
                raise StatusUnavailable("the status list is not one of this issuer's")
            cached = verify_status_list(jwt, url=url, issuer=issuer, purpose=purpose, keys=self._keys, now=now)
            self._snapshot.lists[url] = cached
        elif purpose not in cached.purposes:
            raise StatusUnavailable(f"status list purpose is not {purpose!r}")
        return cached


class LocalDetails:
    def __init__(self, ctx: IssuerContext, database: Database) -> None:
        self._ctx = ctx
        self._database = database

    def revocation_details(self, credential_id: str) -> RevocationInfo | None:
        prefix = self._ctx.credential_url("")
        short = credential_id.removeprefix(prefix) if credential_id.startswith(prefix) else ""
        if not is_credential_id(short):
            return None
        query = select(
            CredentialRecord.revoked_at, CredentialRecord.revocation_reason, CredentialRecord.replaced_by_id,
            CredentialRecord.link_replacement,
        ).where(CredentialRecord.id == short)  # fmt: skip
        with self._database.session() as session:
            row = session.execute(query).first()
        if row is None or row.revoked_at is None or row.revocation_reason is None:
            return None
        superseded_by = None
        if row.replaced_by_id and row.link_replacement:
            superseded_by = self._ctx.credential_url(row.replaced_by_id)
        return RevocationInfo(row.revocation_reason, row.revoked_at, superseded_by)


class LocalVerification:
    """One per process. `verify` costs one indexed read when nothing changed since last time."""

    def __init__(self, ctx: IssuerContext, database: Database) -> None:
        self._ctx = ctx
        self._database = database
        self._snapshot: _Snapshot | None = None

    def _current(self) -> _Snapshot:
        generation = current_generation(self._database.engine)
        if generation is None:
            raise StatusUnavailable("the issuer database is not initialised")
        snapshot = self._snapshot
        if snapshot is None or snapshot.generation != generation:
            with self._database.session() as session:
                # The generation again, in the transaction that reads the keys: the two agree.
                fresh = session.execute(select(IssuerState.generation).where(IssuerState.id == 1)).scalar()
                snapshot = _Snapshot(fresh if fresh is not None else generation, load_ring(session, self._ctx))
            self._snapshot = snapshot
        return snapshot

    def verify(self, token: str, *, now: datetime) -> VerificationResult:
        snapshot = self._current()
        keys = LocalKeys(self._ctx, snapshot.ring)
        status = LocalStatus(self._ctx, self._database, snapshot, keys)
        return Verifier(keys, status, LocalDetails(self._ctx, self._database)).verify(token, now=now)
