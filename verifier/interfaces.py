"""What the verifier needs from its host: keys, status lists and (optionally) revocation details.

The issuer implements these in-process over its database; the stand-alone verifier implements
them over HTTP for the issuers it trusts; tests use the in-memory versions below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from keys import KeyRing, RingEntry
from verifier.errors import StatusUnavailable, UnknownKey, UntrustedIssuer
from verifier.statuslist import StatusList


class KeySource(Protocol):
    def resolve(self, issuer: str, kid: str) -> RingEntry:
        """The key `kid` of `issuer`. Raises UntrustedIssuer, UnknownKey or StatusUnavailable."""
        ...


class StatusSource(Protocol):
    def status_list(self, url: str, *, issuer: str, purpose: str, now: datetime) -> StatusList:
        """The verified list at `url`. Raises StatusUnavailable (or UntrustedIssuer)."""
        ...


@dataclass(frozen=True)
class RevocationInfo:
    reason: str
    revoked_at: datetime | None
    superseded_by: str | None = None


class RevocationDetailsSource(Protocol):
    def revocation_details(self, credential_id: str) -> RevocationInfo | None: ...


@dataclass
class InMemoryKeySource:
    """Trusts one issuer id and the keys of one ring (tests and embedding)."""

    issuer: str
    ring: KeyRing

    def resolve(self, issuer: str, kid: str) -> RingEntry:
        if issuer != self.issuer:
            raise UntrustedIssuer(f"issuer {issuer!r} is not trusted here")
        entry = self.ring.get(kid)
        if entry is None:
            raise UnknownKey("the issuer has no key with this kid")
        return entry


@dataclass
class InMemoryStatusSource:
    """Status lists already verified and decoded, by URL."""

    lists: dict[str, StatusList] = field(default_factory=dict)

    def status_list(self, url: str, *, issuer: str, purpose: str, now: datetime) -> StatusList:
        found = self.lists.get(url)
        if found is None:
            raise StatusUnavailable("status list not available")
        if purpose not in found.purposes:
            raise StatusUnavailable(f"status list purpose is not {purpose!r}")
        return found
