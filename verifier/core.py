"""The verifier: parse → header policy → claims → key → signature → status → validity period.

Expected failures become a status in the result (SPEC §3.6); nothing here raises for a bad
token. Keys come only from the host's KeySource, never from the token (`jwk`, `jku`, `x5u`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from keys import SUPPORTED_ALGORITHMS, KeyState
from verifier.credential import Credential, parse_credential
from verifier.errors import (
    PRIORITY,
    Expired,
    InvalidSignature,
    KeyCompromised,
    Malformed,
    NotYetValid,
    Revoked,
    StatusUnavailable,
    Superseded,
    Suspended,
    Unsupported,
    VerificationError,
)
from verifier.interfaces import KeySource, RevocationDetailsSource, StatusSource
from verifier.jws import UnverifiedJWS, parse_compact
from verifier.result import Check, VerificationResult, public_reason
from verifier.statuslist import normalized_typ
from verifier.timeutil import format_datetime

# One shared leeway for nbf/exp (SECURITY A1 #9: at most 60 s).
LEEWAY: Final = timedelta(seconds=60)
ACCEPTED_CREDENTIAL_TYP: Final = frozenset({None, "jwt", "vc+jwt"})
# Header members that name a key source outside the issuer's published key ring.
_TOKEN_KEY_SOURCES: Final = ("jku", "x5u", "x5c")


def check_header(header: dict[str, Any]) -> str:
    """Apply the header policy; returns the `kid`. Raises Unsupported."""
    alg = header.get("alg")
    if alg not in SUPPORTED_ALGORITHMS:
        raise Unsupported(f"algorithm {alg!r} is not accepted (only {', '.join(SUPPORTED_ALGORITHMS)})")
    if "crit" in header:
        raise Unsupported("critical header extensions are not supported")
    cty = header.get("cty")
    if isinstance(cty, str) and cty.lower() in ("jwt", "application/jwt"):
        raise Unsupported("nested JWTs (cty: JWT) are not accepted")
    if normalized_typ(header) not in ACCEPTED_CREDENTIAL_TYP:
        raise Unsupported(f"typ {header.get('typ')!r} is not a credential type")
    for member in _TOKEN_KEY_SOURCES:
        if member in header:
            raise Unsupported(f"keys named by the token ({member}) are never used")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unsupported("the header has no kid naming one of the issuer's published keys")
    return kid


class Verifier:
    """Verifies credentials against one host's keys and status lists."""

    def __init__(
        self,
        keys: KeySource,
        status: StatusSource,
        details: RevocationDetailsSource | None = None,
    ) -> None:
        self._keys = keys
        self._status = status
        self._details = details

    def verify(self, token: str, *, now: datetime) -> VerificationResult:
        result = VerificationResult(status="valid", checked_at=now)
        failures: list[VerificationError] = []
        try:
            self._verify(token.strip(), now, result, failures)
        except VerificationError as exc:
            failures.append(exc)
            _record(result, exc)
        if failures:
            result.status = min(failures, key=lambda e: PRIORITY.index(e.code)).code
        return result

    def _verify(self, token: str, now: datetime, result: VerificationResult, failures: list[VerificationError]) -> None:
        jws: UnverifiedJWS = parse_compact(token)
        header_error: VerificationError | None = None
        kid = ""
        try:
            kid = check_header(jws.unverified_header)
        except Unsupported as exc:
            header_error = exc
        try:
            unverified = parse_credential(jws.unverified_payload)
        except (Malformed, Unsupported) as exc:
            if header_error is not None and PRIORITY.index(header_error.code) < PRIORITY.index(exc.code):
                raise header_error from None
            raise
        if header_error is not None:
            raise header_error
        result.checks.append(Check("format", True, f"well-formed {unverified.kind} credential"))

        entry = self._keys.resolve(unverified.issuer_id, kid)
        if jws.unverified_header.get("alg") != entry.key.alg:
            raise Unsupported("the token's alg is not the algorithm of the key it names")
        issuer_label = unverified.issuer_name or unverified.issuer_id
        if not entry.key.verify(jws.signing_input, jws.signature):
            result.checks.append(Check("issuer", True, f"key of {issuer_label}"))
            raise InvalidSignature("the signature does not match the issuer's key")
        credential = unverified  # the signature covers everything parsed above
        result.checks.append(Check("signature", True, f"signed with {entry.key.alg} by the issuer's key"))
        result.credential = credential.public_view()
        if entry.state == KeyState.COMPROMISED:
            result.checks.append(Check("issuer", False, "the signing key was reported compromised"))
            failures.append(KeyCompromised("the issuer reported this signing key compromised"))
        else:
            result.checks.append(Check("issuer", True, f"issued by {issuer_label}"))

        self._check_period(credential, now, result, failures)
        self._check_status(credential, now, result, failures)  # even when expired: revoked outranks it

    def _check_status(
        self, credential: Credential, now: datetime, result: VerificationResult, failures: list[VerificationError]
    ) -> None:
        if not credential.status_entries:
            result.checks.append(Check("status", True, "no status list: the credential cannot be revoked"))
            return
        for entry in credential.status_entries:
            try:
                status_list = self._status.status_list(
                    entry.list_url, issuer=credential.issuer_id, purpose=entry.purpose, now=now
                )
                is_set = status_list.is_set(entry.index)
            except StatusUnavailable as exc:
                result.checks.append(Check("status", False, exc.detail))
                failures.append(exc)
                continue
            if not is_set:
                result.checks.append(Check("status", True, f"not {_PAST[entry.purpose]}"))
                continue
            failure = self._flagged(credential, entry.purpose, result)
            result.checks.append(Check("status", False, failure.detail))
            failures.append(failure)

    def _flagged(self, credential: Credential, purpose: str, result: VerificationResult) -> VerificationError:
        if purpose == "suspension":
            return Suspended("the issuer has suspended this credential")
        info = self._details.revocation_details(credential.id) if self._details and credential.id else None
        if info is None:
            return Revoked("the issuer has revoked this credential")
        result.revocation = {
            "reason": public_reason(info.reason),
            "revoked_at": format_datetime(info.revoked_at) if info.revoked_at else None,
        }
        if info.reason == "superseded":
            result.superseded_by = info.superseded_by
            return Superseded("replaced by a newer credential")
        if info.superseded_by:  # e.g. reissued after a key compromise
            result.superseded_by = info.superseded_by
        # Only `superseded` has a status of its own; a compromised *key* is reported from the
        # key's state, which outranks this.
        return Revoked("the issuer has revoked this credential")

    @staticmethod
    def _check_period(
        credential: Credential, now: datetime, result: VerificationResult, failures: list[VerificationError]
    ) -> None:
        # The leeway moves `now`, not the credential's dates (9999-12-31 + 60 s would overflow).
        if credential.valid_until is not None and now - LEEWAY > credential.valid_until:
            failure: VerificationError = Expired(f"expired on {_day(credential.valid_until)}")
        elif credential.valid_from is not None and now + LEEWAY < credential.valid_from:
            failure = NotYetValid(f"valid from {_day(credential.valid_from)}")
        else:
            until = f"until {_day(credential.valid_until)}" if credential.valid_until else "with no end date"
            result.checks.append(Check("validity_period", True, f"within its validity period ({until})"))
            return
        result.checks.append(Check("validity_period", False, failure.detail))
        failures.append(failure)


def _day(moment: datetime) -> str:
    """A date as people read it in the check details: `25 November 2029` (UTC)."""
    utc = moment.astimezone(UTC)
    return f"{utc.day} {utc:%B %Y}"


_PAST = {"revocation": "revoked", "suspension": "suspended"}


def _record(result: VerificationResult, exc: VerificationError) -> None:
    """Add the failed check a raised failure belongs to (format, issuer or signature)."""
    result.checks.append(Check(exc.check, False, exc.detail))
