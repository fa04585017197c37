"""Typed verification failures. Each `code` is the public `status` of SPEC §3.6."""

from __future__ import annotations

from typing import Any

# SPEC §3.6: when several apply, the first of this list is reported.
PRIORITY: tuple[str, ...] = (
    "malformed",
    "unsupported",
    "untrusted_issuer",
    "unknown_key",
    "invalid_signature",
    "key_compromised",
    "revoked",
    "superseded",
    "suspended",
    "expired",
    "not_yet_valid",
    "status_unavailable",
)


class VerificationError(Exception):
    """Root of every verification failure; `code` is stable and machine-readable."""

    code = "verification_error"
    check = "format"

    def __init__(self, detail: str, **data: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.data = data


class Malformed(VerificationError):
    code = "malformed"
    check = "format"


class Unsupported(VerificationError):
    code = "unsupported"
    check = "format"


class UntrustedIssuer(VerificationError):
    code = "untrusted_issuer"
    check = "issuer"


class UnknownKey(VerificationError):
    code = "unknown_key"
    check = "issuer"


class InvalidSignature(VerificationError):
    code = "invalid_signature"
    check = "signature"


class KeyCompromised(VerificationError):
    code = "key_compromised"
    check = "issuer"


class Revoked(VerificationError):
    code = "revoked"
    check = "status"


class Superseded(VerificationError):
    code = "superseded"
    check = "status"


class Suspended(VerificationError):
    code = "suspended"
    check = "status"


class Expired(VerificationError):
    code = "expired"
    check = "validity_period"


class NotYetValid(VerificationError):
    code = "not_yet_valid"
    check = "validity_period"


class StatusUnavailable(VerificationError):
    """A status list or a trusted issuer's key set could not be fetched or did not verify."""

    code = "status_unavailable"
    check = "status"
