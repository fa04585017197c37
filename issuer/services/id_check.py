"""'Check a CertManager ID' (SPEC §3.4, §4): whether an ID someone typed is the one of a
credential's holder, answered only as "matches" or "does not match". The ID is never in a
credential (JPR + 9 digits is about 30 bits; a published hash is reversed in minutes), so this
answer is rate limited per client and per credential, and nothing about a query is kept but the
throttle's expiring counters (hashed keys of the client and the credential, never the ID)."""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.errors import IssuerError
from issuer.models import CredentialRecord
from issuer.services.credentials import get_credential
from issuer.throttle import Rule, Throttled

# A client (an IPv4 address or an IPv6 /64) checks a few candidates an hour; a credential is
# checked by a few employers a day. 20 a day against ~10^9 IDs is no way to find one.
PER_CLIENT = Rule("id-check-client", 10, timedelta(hours=1))
PER_CREDENTIAL = Rule("id-check-credential", 20, timedelta(days=1))

_CERTMANAGER_ID = re.compile(r"JPR[0-9]{9}", re.ASCII)


class CredentialRevoked(IssuerError):
    """A revoked or superseded credential answers no ID check."""

    code = "credential_revoked"
    http_status = 410
    exit_code = 1

    def __init__(self) -> None:
        super().__init__("This credential has been revoked or replaced, so we do not check CertManager IDs against it.")


class IdCheckThrottled(IssuerError):
    code = "rate_limited"
    http_status = 429
    exit_code = 1

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Too many CertManager ID checks from your network or for this credential. "
            f"Try again in {_wait(retry_after)}."
        )
        self.retry_after = retry_after


def _wait(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 2 * 3600:
        return f"{-(-seconds // 60)} minutes"
    return f"{-(-seconds // 3600)} hours"


def answers_for(record: CredentialRecord) -> bool:
    """Whether IDs are checked against `record` (valid or expired; not revoked or superseded)."""
    return record.revoked_at is None


def normalize(typed: str) -> str | None:
    """`typed` as a CertManager ID (trimmed, upper case, `JPR` + 9 ASCII digits), else None."""
    value = typed.strip()
    # ASCII first: upper() maps some non-ASCII letters onto ASCII ones.
    if not value.isascii():
        return None
    value = value.upper()
    return value if _CERTMANAGER_ID.fullmatch(value) else None


def check_id(session: Session, ctx: IssuerContext, cred_id: str, typed: str, *, client: str, now: datetime) -> bool:
    """Whether `typed` is the CertManager ID of the credential's holder; raises
    CredentialNotFound, CredentialRevoked, or IdCheckThrottled (before anything is compared)."""
    record = get_credential(session, cred_id)
    if not answers_for(record):
        raise CredentialRevoked()
    holder_id = record.candidate.certmanager_id
    try:
        # Both limits are checked and counted at once: a refused check uses up nothing.
        ctx.throttle.take(session, (PER_CLIENT, (client,)), (PER_CREDENTIAL, (record.id,)), now=now)
    except Throttled as exc:
        raise IdCheckThrottled(exc.retry_after) from None
    wanted = normalize(typed) or ""
    return hmac.compare_digest(wanted.encode("ascii"), holder_id.encode("utf-8"))
