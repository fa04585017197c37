"""The verifier: parse → header policy → claims → key → signature → status → validity period.

Expected failures become a status in the result (SPEC §3.6); nothing here raises for a bad
token. Keys come only from the host's KeySource, never from the token (`jwk`, `jku`, `x5u`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
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
from verifier.timeutil import format_datetime, long_date

# One shared leeway for nbf/exp (SECURITY A1 #9: at most 60 s).
LEEWAY: Final = timedelta(seconds=60)
ACCEPTED_CREDENTIAL_TYP: Final = frozenset({None, "jwt", "vc+jwt"})
# Header members that name a key source outside the issuer's published key ring.
_TOKEN_KEY_SOURCES: Final = ("jku", "x5u", "x5c")
# Registered JOSE algorithm names (RFC 7518 §3.1, RFC 8037, RFC 8812): a refused `alg` is named
# in the detail only when it is one of these words, never as free text from an unsigned token.
_JOSE_ALGORITHMS: Final = frozenset(
    {"none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}
    | {"PS256", "PS384", "PS512", "EdDSA", "ES256K", "Ed25519", "Ed448"}
)
# The format check of a token refused at the key or the signature: its claims of what it is
# (certification or transcript) are not repeated.
_WELL_FORMED: Final = Check("format", True, "a well-formed JWT credential", code="well_formed")
# What a key source's failure says when its own detail repeats the unsigned issuer id or kid.
_KEY_SOURCE_DETAILS: Final = {
    "untrusted_issuer": "this verifier does not trust the credential's issuer",
    "unknown_key": "the issuer has no published key with this kid",
    "key_compromised": "the issuer reported this signing key compromised",
    "status_unavailable": "the issuer's key set could not be fetched",
}


def check_header(unverified_header: dict[str, Any]) -> str:
    """Apply the header policy; returns the (still unverified) `kid`. Raises Unsupported."""
    alg = unverified_header.get("alg")
    if alg not in SUPPORTED_ALGORITHMS:
        named = repr(alg) if isinstance(alg, str) and alg in _JOSE_ALGORITHMS else "of this token"
        raise Unsupported(f"the algorithm {named} is not accepted (only {', '.join(SUPPORTED_ALGORITHMS)})")
    if "crit" in unverified_header:
        raise Unsupported("critical header extensions are not supported")
    cty = unverified_header.get("cty")
    if isinstance(cty, str) and cty.lower() in ("jwt", "application/jwt"):
        raise Unsupported("nested JWTs (cty: JWT) are not accepted")
    if normalized_typ(unverified_header) not in ACCEPTED_CREDENTIAL_TYP:
        raise Unsupported("the typ header is not a credential type (accepted: absent, JWT or vc+jwt)")
    for member in _TOKEN_KEY_SOURCES:
        if member in unverified_header:
            raise Unsupported(f"keys named by the token ({member}) are never used")
    kid = unverified_header.get("kid")
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
        # Until the signature verifies, everything read from the token is `unverified_*`: it may
        # decide a refusal, but no check passes on it and none of its text is repeated back.
        jws: UnverifiedJWS = parse_compact(token)
        header_error: VerificationError | None = None
        unverified_kid = ""
        try:
            unverified_kid = check_header(jws.unverified_header)
        except Unsupported as exc:
            header_error = exc
        try:
            unverified_credential = parse_credential(jws.unverified_payload)
        except (Malformed, Unsupported) as exc:
            if header_error is not None and PRIORITY.index(header_error.code) < PRIORITY.index(exc.code):
                raise header_error from None
            raise
        if header_error is not None:
            raise header_error

        try:
            entry = self._keys.resolve(unverified_credential.issuer_id, unverified_kid)
        except VerificationError as exc:
            result.checks.append(_WELL_FORMED)
            raise _from_key_source(exc, unverified_credential.issuer_id, unverified_kid) from None
        if jws.unverified_header.get("alg") != entry.key.alg:
            raise Unsupported("the token's alg is not the algorithm of the key it names")
        if not entry.key.verify(jws.signing_input, jws.signature):
            result.checks.append(_WELL_FORMED)
            raise InvalidSignature("the signature does not match the issuer's key")

        credential = unverified_credential  # the signature covers the header and everything parsed above
        result.checks.append(Check("format", True, f"well-formed {credential.kind} credential", code="well_formed"))
        result.checks.append(
            Check("signature", True, f"signed with {entry.key.alg} by the issuer's key", code="signed")
        )
        result.credential = credential.public_view(now)
        if entry.state == KeyState.COMPROMISED:
            failure = KeyCompromised("the issuer reported this signing key compromised")
            result.checks.append(Check("issuer", False, failure.detail, code=failure.code))
            failures.append(failure)
        else:
            issuer_label = credential.issuer_name or credential.issuer_id
            result.checks.append(Check("issuer", True, f"issued by {issuer_label}", code="issued"))

        self._check_period(credential, now, result, failures)
        self._check_status(credential, now, result, failures)  # even when expired: revoked outranks it

    def _check_status(
        self, credential: Credential, now: datetime, result: VerificationResult, failures: list[VerificationError]
    ) -> None:
        if not credential.status_entries:
            result.checks.append(
                Check("status", True, "no status list: the credential cannot be revoked", code="no_status_list")
            )
            return
        for entry in credential.status_entries:
            try:
                status_list = self._status.status_list(
                    entry.list_url, issuer=credential.issuer_id, purpose=entry.purpose, now=now
                )
                is_set = status_list.is_set(entry.index)
            except StatusUnavailable as exc:
                result.checks.append(Check("status", False, exc.detail, code=exc.code))
                failures.append(exc)
                continue
            if not is_set:
                past = _PAST[entry.purpose]
                result.checks.append(Check("status", True, f"not {past}", code=f"not_{past}"))
                continue
            failure = self._flagged(credential, entry.purpose, result)
            result.checks.append(Check("status", False, failure.detail, code=failure.code))
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
            failure: VerificationError = Expired(f"expired on {long_date(credential.valid_until)}")
        elif credential.valid_from is not None and now + LEEWAY < credential.valid_from:
            failure = NotYetValid(f"valid from {long_date(credential.valid_from)}")
        else:
            until = f"until {long_date(credential.valid_until)}" if credential.valid_until else "with no end date"
            result.checks.append(
                Check("validity_period", True, f"within its validity period ({until})", code="within_period")
            )
            return
        result.checks.append(Check("validity_period", False, failure.detail, code=failure.code))
        failures.append(failure)


_PAST = {"revocation": "revoked", "suspension": "suspended"}


def _record(result: VerificationResult, exc: VerificationError) -> None:
    """Add the failed check a raised failure belongs to (format, issuer or signature)."""
    result.checks.append(Check(exc.check, False, exc.detail, code=str(exc.data.get("finding", exc.code))))


def _from_key_source(exc: VerificationError, *unverified: str) -> VerificationError:
    """A key source's failure as reported: its detail replaced when it repeats the token's
    unsigned issuer id or kid (a host may echo what it was asked), a key set that could not be
    fetched told apart from a status list that could not."""
    detail = exc.detail
    if any(text and text in detail for text in unverified):
        detail = _KEY_SOURCE_DETAILS.get(exc.code, "the issuer's keys cannot be used for this credential")
    if isinstance(exc, StatusUnavailable):
        return StatusUnavailable(detail, finding="key_set_unavailable")
    return exc if detail is exc.detail else type(exc)(detail)
