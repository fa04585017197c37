"""The key ring: one active signing key, older keys kept only to verify.

Modelled on MultiFernet: the first (active) key signs, every known key verifies, and the
states say which keys are published. The issuer persists the ring; this type only holds it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from keys.errors import NoActiveKey
from keys.material import PublicKey, SigningKey


class KeyState(enum.StrEnum):
    ACTIVE = "active"  # signs new credentials, published
    VERIFY = "verify"  # rotated out: published, verifies what it signed
    RETIRED = "retired"  # nothing valid depends on it: no longer published
    COMPROMISED = "compromised"  # never published again; what it signed is revoked


PUBLISHED_STATES = frozenset({KeyState.ACTIVE, KeyState.VERIFY})


@dataclass(frozen=True)
class RingEntry:
    key: PublicKey
    state: KeyState


class KeyRing:
    """Keys by `kid`; `signer` is the active key (decrypted), if this process may sign."""

    def __init__(self, entries: Iterable[RingEntry], signer: SigningKey | None = None) -> None:
        self._entries: dict[str, RingEntry] = {e.key.kid: e for e in entries}
        self._signer = signer
        if signer is not None and self._entries.get(signer.kid, None) is None:
            self._entries[signer.kid] = RingEntry(signer.public, KeyState.ACTIVE)

    @property
    def signer(self) -> SigningKey:
        if self._signer is None:
            raise NoActiveKey("no active signing key; run `certmanager init` or `certmanager keys rotate`")
        return self._signer

    def get(self, kid: str) -> RingEntry | None:
        """The entry for `kid` (an opaque dictionary key), or None."""
        return self._entries.get(kid)

    def entries(self) -> list[RingEntry]:
        return list(self._entries.values())

    def jwks(self) -> dict[str, Any]:
        """The public key set: every published key, never private members."""
        return {"keys": [dict(e.key.jwk) for e in self._entries.values() if e.state in PUBLISHED_STATES]}
