"""The verification result of SPEC §3.6."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from verifier.timeutil import format_datetime

CHECK_ORDER = ("format", "signature", "issuer", "validity_period", "status")

# SPEC §3.6: other reasons are not shown publicly.
PUBLIC_REASONS = frozenset({"superseded", "withdrawn", "key_compromise"})


@dataclass(frozen=True)
class Check:
    """One line of SPEC §3.6 `checks`; `code` is a stable machine name for what was found (a
    failure's status, or e.g. `not_revoked`), kept out of `to_dict` (the API keeps its shape)."""

    check: str
    ok: bool
    detail: str
    code: str = ""


@dataclass
class VerificationResult:
    status: str
    checked_at: datetime
    checks: list[Check] = field(default_factory=list)
    credential: dict[str, Any] | None = None
    revocation: dict[str, Any] | None = None
    superseded_by: str | None = None

    @property
    def verified(self) -> bool:
        return self.status == "valid"

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.check == name), None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verified": self.verified,
            "status": self.status,
            "checks": [{"check": c.check, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }
        if self.credential is not None:
            out["credential"] = self.credential
        if self.revocation is not None:
            out["revocation"] = self.revocation
        if self.superseded_by is not None:
            out["superseded_by"] = self.superseded_by
        out["checked_at"] = format_datetime(self.checked_at)
        return out


def public_reason(reason: str) -> str:
    return reason if reason in PUBLIC_REASONS else "revoked_by_issuer"
