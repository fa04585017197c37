"""Passwords (SPEC §6; SECURITY A4): Argon2id hashes, verification that costs the same for
unknown accounts, and the policy (ASVS 6.2) with a shipped list of common and leaked passwords."""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata
from dataclasses import astuple
from datetime import datetime
from importlib import resources

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from issuer.models import Candidate
from issuer.services.accounts.errors import BreachedPassword, WeakPassword

PASSWORD_MIN = 8
PASSWORD_RECOMMENDED = 15
PASSWORD_MAX = 128
# Argon2id, RFC 9106 second recommendation (t=3, 64 MiB, p=4). Stored hashes made with other
# parameters are upgraded at the next successful login.
PASSWORD_PARAMETERS: Parameters = profiles.RFC_9106_LOW_MEMORY

RAW_MAX = 4 * PASSWORD_MAX  # longer input is never hashed
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@functools.cache
def _hasher_for(parameters: tuple[object, ...]) -> tuple[PasswordHasher, str]:
    hasher = PasswordHasher.from_parameters(Parameters(*parameters))  # type: ignore[arg-type]
    return hasher, hasher.hash(secrets.token_urlsafe(16))  # the dummy hash checked for unknown accounts


def hasher() -> PasswordHasher:
    return _hasher_for(astuple(PASSWORD_PARAMETERS))[0]


def _dummy_hash() -> str:
    return _hasher_for(astuple(PASSWORD_PARAMETERS))[1]


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common and leaked passwords (issuer/data/common-passwords.txt), lower case."""
    text = resources.files("issuer").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _normalize(password: str) -> str:
    # NIST SP 800-63B §5.1.1.2: the same password typed on any device hashes the same.
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    """An Argon2id hash (PHC string) of `password`."""
    return hasher().hash(_normalize(password))


def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`. Unknown accounts and accounts without a password
    cost one verification too (no timing oracle)."""
    usable = stored is not None and len(password) <= RAW_MAX
    try:
        hasher().verify(stored if usable and stored else _dummy_hash(), _normalize(password[:RAW_MAX]))
    except (VerificationError, InvalidHashError):
        return False
    return usable


def check_password_policy(password: str, *, certmanager_id: str, email: str) -> None:
    """Raise WeakPassword or BreachedPassword unless the policy (ASVS 6.2) accepts `password`."""
    if len(password) > RAW_MAX:
        raise WeakPassword("too_long", f"Use at most {PASSWORD_MAX} characters.")
    if _CONTROL.search(password):
        raise WeakPassword("control_characters", "Use letters, digits, spaces and punctuation only.")
    normalized = _normalize(password)
    if len(normalized) < PASSWORD_MIN:
        raise WeakPassword(
            "too_short", f"Use at least {PASSWORD_MIN} characters ({PASSWORD_RECOMMENDED} or more is better)."
        )
    if len(normalized) > PASSWORD_MAX:
        raise WeakPassword("too_long", f"Use at most {PASSWORD_MAX} characters.")
    if normalized.lower() in common_passwords():
        raise BreachedPassword()
    folded = normalized.casefold()
    if certmanager_id.casefold() in folded:
        raise WeakPassword("contains_identity", "The password must not contain your CertManager ID.")
    local_part = email.rpartition("@")[0].casefold()
    if len(local_part) >= 3 and local_part in folded:
        raise WeakPassword("contains_identity", "The password must not contain your e-mail address.")


def set_password(candidate: Candidate, password: str, now: datetime) -> None:
    """Check the policy and store a new hash on `candidate` (in the caller's unit of work)."""
    check_password_policy(password, certmanager_id=candidate.certmanager_id, email=candidate.email)
    candidate.password_hash = hash_password(password)
    candidate.password_changed_at = now
