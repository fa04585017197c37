"""Verification against this issuer's own database: the verifier's KeySource, StatusSource and
RevocationDetailsSource, cached per process and refreshed when the issuer generation moves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.ids import is_credential_id
from issuer.models import CredentialRecord, StatusListRecord
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
    def __init__(self, ctx: IssuerContext, session: Session, snapshot: _Snapshot, keys: LocalKeys) -> None:
        self._prefix = ctx.status_url("")
        self._session = session
        self._snapshot = snapshot
        self._keys = keys

    def status_list(self, url: str, *, issuer: str, purpose: str, now: datetime) -> StatusList:
        cached = self._snapshot.lists.get(url)
        if cached is None:
            list_id = url.removeprefix(self._prefix) if url.startswith(self._prefix) else None
            record = self._session.get(StatusListRecord, list_id) if list_id else None
            if record is None:
                raise StatusUnavailable("the status list is not one of this issuer's")
            cached = verify_status_list(record.jwt, url=url, issuer=issuer, purpose=purpose, keys=self._keys, now=now)
            self._snapshot.lists[url] = cached
        elif purpose not in cached.purposes:
            raise StatusUnavailable(f"status list purpose is not {purpose!r}")
        return cached


class LocalDetails:
    def __init__(self, ctx: IssuerContext, session: Session) -> None:
        self._ctx = ctx
        self._session = session

    def revocation_details(self, credential_id: str) -> RevocationInfo | None:
        prefix = self._ctx.credential_url("")
        short = credential_id.removeprefix(prefix) if credential_id.startswith(prefix) else ""
        record = self._session.get(CredentialRecord, short) if is_credential_id(short) else None
        if record is None or record.revoked_at is None or record.revocation_reason is None:
            return None
        superseded_by = None
        if record.replaced_by_id and record.link_replacement:
            superseded_by = self._ctx.credential_url(record.replaced_by_id)
        return RevocationInfo(record.revocation_reason, record.revoked_at, superseded_by)


class LocalVerification:
    """One per process. `verify` costs one indexed read when nothing changed since last time."""

    def __init__(self, ctx: IssuerContext) -> None:
        self._ctx = ctx
        self._snapshot: _Snapshot | None = None

    def _current(self, session: Session) -> _Snapshot:
        generation = current_generation(session.get_bind())  # type: ignore[arg-type]
        if generation is None:
            raise StatusUnavailable("the issuer database is not initialised")
        snapshot = self._snapshot
        if snapshot is None or snapshot.generation != generation:
            snapshot = _Snapshot(generation, load_ring(session, self._ctx))
            self._snapshot = snapshot
        return snapshot

    def verify(self, session: Session, token: str, *, now: datetime) -> VerificationResult:
        snapshot = self._current(session)
        keys = LocalKeys(self._ctx, snapshot.ring)
        verifier = Verifier(keys, LocalStatus(self._ctx, session, snapshot, keys), LocalDetails(self._ctx, session))
        return verifier.verify(token, now=now)
