"""Plain words for people: one sentence per check of a verification result.

The API keeps each check's technical `detail` (SPEC §3.6); pages show these sentences instead,
with the detail one click away. Dates and names come only from `result.credential`, which is
set only once the signature verified, so nothing unsigned is ever put in front of a reader.
"""

from __future__ import annotations

from typing import Any, Final

from verifier.result import Check, VerificationResult
from verifier.timeutil import long_date, parse_datetime

TRY_AGAIN: Final = "Try again in a few minutes."

FAILED: Final = {
    "malformed": "This is not a credential we can read. Check that you copied all of it, or scan the QR code again.",
    "unsupported": "This is not a kind of credential we can check, or it was secured in a way we do not accept.",
    "untrusted_issuer": "It names an issuer this verifier does not trust, so we cannot vouch for it.",
    "unknown_key": "The issuer has not published the key it claims to be signed with, so we cannot tell who signed it.",
    "invalid_signature": "The credential was changed after it was signed, or it was not signed by this issuer.",
    "key_compromised": "The issuer reported that the key used to sign it was compromised, so it cannot be trusted.",
    "revoked": "The issuer has revoked this credential.",
    "superseded": "The issuer has replaced this credential with a newer one.",
    "suspended": "The issuer has suspended this credential for now.",
    "expired": "It has expired.",
    "not_yet_valid": "It is not valid yet.",
    "status_unavailable": f"We could not check with the issuer whether it has been revoked. {TRY_AGAIN}",
    "key_set_unavailable": f"We could not reach the issuer to get the keys it signs with. {TRY_AGAIN}",
}
PASSED: Final = {
    "well_formed": "We could read the credential.",
    "signed": "It was signed by the issuer and has not been changed since.",
    "issued": "It comes from an issuer this verifier trusts.",
    "within_period": "It is within its validity period.",
    "not_revoked": "The issuer has not revoked it.",
    "not_suspended": "The issuer has not suspended it.",
    "no_status_list": "It cannot be revoked: the issuer keeps no revocation list for it.",
}
# A check made without a code (e.g. a host's own `status_unavailable` answer) reads as its kind.
_PASSED_BY_CHECK: Final = {
    "format": "well_formed",
    "signature": "signed",
    "issuer": "issued",
    "validity_period": "within_period",
    "status": "not_revoked",
}
FALLBACK_FAILED: Final = "This check did not pass."


def plain_words(result: VerificationResult, check: Check) -> str:
    """One plain-English sentence for `check` of `result`, for people (not parsed by machines)."""
    if check.ok:
        code = check.code or _PASSED_BY_CHECK.get(check.check, "")
        return _passed(result, code)
    code = check.code or result.status
    return _failed(result, code)


def _passed(result: VerificationResult, code: str) -> str:
    credential = result.credential  # present only when the signature verified
    if credential is not None:
        if code == "issued":
            issuer = credential.get("issuer") or {}
            name = issuer.get("name") or issuer.get("id")
            if isinstance(name, str) and name:
                return f"It was issued by {name}."
        elif code == "within_period":
            until = _day(credential.get("valid_until"))
            return f"It is valid until {until}." if until else "It has no expiry date."
    return PASSED.get(code, "This check passed.")


def _failed(result: VerificationResult, code: str) -> str:
    credential = result.credential  # present only when the signature verified
    if credential is not None:
        if code == "expired" and (until := _day(credential.get("valid_until"))):
            return f"It expired on {until}."
        if code == "not_yet_valid" and (start := _day(credential.get("valid_from"))):
            return f"It is not valid until {start}."
        revoked_at = _day((result.revocation or {}).get("revoked_at"))
        if code == "revoked" and revoked_at:
            return f"The issuer revoked this credential on {revoked_at}."
        if code == "superseded" and revoked_at:
            return f"The issuer replaced this credential with a newer one on {revoked_at}."
    return FAILED.get(code, FALLBACK_FAILED)


def _day(value: Any) -> str | None:
    """`2029-10-19T23:59:59Z` → `19 October 2029`, or None when there is no readable date."""
    if not isinstance(value, str):
        return None
    try:
        return long_date(parse_datetime(value))
    except ValueError:
        return None
