"""Candidate accounts (SPEC §5.1, §6; SECURITY A4): Argon2id passwords and the password policy,
login, the e-mailed single-use links of 'Never logged in before?' and 'Forgot Password or
CertManager ID', server-side sessions, and the 'Profile'."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import astuple
from datetime import datetime, timedelta
from importlib import resources

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import render_template
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import begin_write
from issuer.errors import IssuerError
from issuer.models import AuthToken, Candidate, WebSession
from issuer.services import audit, mail
from issuer.services.candidates import find_by_email, normalize_email

PASSWORD_MIN = 8
PASSWORD_RECOMMENDED = 15
PASSWORD_MAX = 128
# Argon2id, RFC 9106 second recommendation (t=3, 64 MiB, p=4). Stored hashes made with other
# parameters are upgraded at the next successful login.
PASSWORD_PARAMETERS: Parameters = profiles.RFC_9106_LOW_MEMORY
TOKEN_LIFETIME = timedelta(minutes=15)
SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=12)
SESSION_TOUCH = timedelta(minutes=1)  # last_seen_at is written at most this often
FIRST_LOGIN = "first_login"
RESET = "reset"
PROFILE_FIELDS: dict[str, int] = {
    "phone": 40,
    "company": 200,
    "job_title": 200,
    "address": 500,
    "city": 120,
    "postal_code": 20,
    "country": 2,
}

_RAW_MAX = 4 * PASSWORD_MAX  # longer input is never hashed
_CERTMANAGER_ID = re.compile(r"JPR[0-9]{9}")
# No whitespace and no control characters anywhere (a NUL would reach the database).
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s.\x00-\x1f\x7f]+(\.[^@\s.\x00-\x1f\x7f]+)+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PHONE = re.compile(r"[0-9+()./\- ]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class AccountError(IssuerError):
    code = "account_error"


class InvalidCredentials(AccountError):
    """One message for unknown accounts, accounts without a password and wrong passwords."""

    code = "invalid_credentials"
    http_status = 401

    def __init__(self, reason: str) -> None:
        super().__init__("The CertManager ID or e-mail address and password do not match our records.")
        self.reason = reason  # for the audit log only; never shown


class LoginThrottled(AccountError):
    code = "login_throttled"
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LoginRequired(AccountError):
    code = "login_required"
    http_status = 401

    def __init__(self) -> None:
        super().__init__("Log in to your CertManager account to see this page.")


class TokenInvalid(AccountError):
    code = "token_invalid"

    def __init__(self) -> None:
        super().__init__(
            "This link is no longer valid: each link works once, for 15 minutes, and only the newest one "
            "works. Ask for a new one."
        )


class WeakPassword(AccountError):
    code = "weak_password"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class BreachedPassword(WeakPassword):
    code = "breached_password"

    def __init__(self) -> None:
        super().__init__("common", "This password is on a list of common or leaked passwords. Choose another one.")


class PasswordMismatch(AccountError):
    code = "password_mismatch"

    def __init__(self) -> None:
        super().__init__("The two passwords are not the same.")


class CurrentPasswordIncorrect(AccountError):
    code = "current_password_incorrect"

    def __init__(self) -> None:
        super().__init__("Your current password is not correct.")


class InvalidProfile(AccountError):
    code = "invalid_profile"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("Some fields need attention: " + "; ".join(errors.values()))
        self.errors = errors


class EmailUnavailable(AccountError):
    code = "email_unavailable"
    http_status = 409

    def __init__(self) -> None:
        super().__init__(
            "This e-mail address cannot be used for your account. If it belongs to another CertManager "
            "account of yours, contact Certification Program Support."
        )


# --- passwords -----------------------------------------------------------------------------


@functools.cache
def _hasher_for(parameters: tuple[object, ...]) -> tuple[PasswordHasher, str]:
    hasher = PasswordHasher.from_parameters(Parameters(*parameters))  # type: ignore[arg-type]
    return hasher, hasher.hash(secrets.token_urlsafe(16))  # the dummy hash checked for unknown accounts


def _hasher() -> PasswordHasher:
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
    return _hasher().hash(_normalize(password))


def _verify(stored: str | None, password: str) -> bool:
    # Unknown accounts and accounts without a password cost one verification too (no timing oracle).
    usable = stored is not None and len(password) <= _RAW_MAX
    try:
        _hasher().verify(stored if usable and stored else _dummy_hash(), _normalize(password[:_RAW_MAX]))
    except (VerificationError, InvalidHashError):
        return False
    return usable


def check_password_policy(password: str, *, certmanager_id: str, email: str) -> None:
    """Raise WeakPassword or BreachedPassword unless the policy (ASVS 6.2) accepts `password`."""
    if len(password) > _RAW_MAX:
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


def set_password(session: Session, candidate: Candidate, password: str, now: datetime) -> None:
    """Check the policy and store a new hash (inside the caller's transaction; no mail, no audit)."""
    check_password_policy(password, certmanager_id=candidate.certmanager_id, email=candidate.email)
    candidate.password_hash = hash_password(password)
    candidate.password_changed_at = now


# --- login ---------------------------------------------------------------------------------


def find_by_identifier(session: Session, identifier: str) -> Candidate | None:
    """The candidate with this CertManager ID (any case) or e-mail address."""
    value = identifier.strip()
    if _CERTMANAGER_ID.fullmatch(value.upper()):
        query = select(Candidate).where(Candidate.certmanager_id == value.upper())
        return session.execute(query).scalar_one_or_none()
    if _EMAIL.fullmatch(value) and len(value) <= 320:
        return find_by_email(session, value)
    return None


def _target(candidate: Candidate | None) -> str:
    return f"candidate:{candidate.certmanager_id}" if candidate is not None else "unknown"


def authenticate(
    session: Session, identifier: str, password: str, now: datetime, *, client_ip: str | None = None
) -> Candidate:
    """The candidate whose CertManager ID or e-mail and password match (one unit of work: audit,
    hash upgrade, last login); raises InvalidCredentials otherwise."""
    candidate = find_by_identifier(session, identifier)
    stored = candidate.password_hash if candidate is not None else None
    if not _verify(stored, password):
        reason = "unknown_account" if candidate is None else "no_password" if stored is None else "wrong_password"
        begin_write(session)
        audit.record(
            session, actor="anonymous", action="auth.login_failed", target=_target(candidate), now=now,
            reason=reason, ip=client_ip,
        )  # fmt: skip
        session.commit()
        raise InvalidCredentials(reason)
    assert candidate is not None and stored is not None
    upgraded = hash_password(password) if _hasher().check_needs_rehash(stored) else None
    begin_write(session)
    if upgraded is not None:
        # Only over the hash just verified: a password reset committed meanwhile must win.
        upgrade = update(Candidate).where(Candidate.id == candidate.id, Candidate.password_hash == stored)
        session.execute(upgrade.values(password_hash=upgraded), execution_options={"synchronize_session": False})
    candidate.last_login_at = now
    audit.record(
        session, actor=_target(candidate), action="auth.login_ok", target=_target(candidate), now=now,
        ip=client_ip, rehashed=upgraded is not None,
    )  # fmt: skip
    session.commit()
    return candidate


def record_throttled(session: Session, identifier: str, now: datetime, *, client_ip: str | None = None) -> None:
    """Audit a login attempt refused by throttling (before any password check)."""
    candidate = find_by_identifier(session, identifier)
    begin_write(session)
    audit.record(
        session, actor="anonymous", action="auth.login_failed", target=_target(candidate), now=now,
        reason="throttled", ip=client_ip,
    )  # fmt: skip
    session.commit()


# --- sessions ------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def open_session(
    session: Session, candidate: Candidate, now: datetime, *, user_agent: str | None = None, replaces: str | None = None
) -> str:
    """A new server-side session (a fresh token at every login); `replaces`, a session token the
    browser still held, is ended. Returns the token for the cookie (only its SHA-256 is stored)."""
    token = secrets.token_urlsafe(32)
    begin_write(session)
    if replaces:
        session.execute(delete(WebSession).where(WebSession.id == _digest(replaces)))
    session.add(
        WebSession(
            id=_digest(token),
            candidate_id=candidate.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_ABSOLUTE,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    session.commit()
    return token


def _web_session(session: Session, token: str) -> WebSession | None:
    if len(token) > 128:
        return None
    # Always read the row itself: another request may have ended or touched the session.
    query = select(WebSession).where(WebSession.id == _digest(token)).execution_options(populate_existing=True)
    return session.execute(query).scalar_one_or_none()


def load_session(session: Session, token: str | None, now: datetime) -> Candidate | None:
    """The candidate of a live session, or None; an idle or expired session is deleted."""
    if not token:
        return None
    web = _web_session(session, token)
    if web is None:
        return None
    if now >= web.expires_at or now - web.last_seen_at >= SESSION_IDLE:
        begin_write(session)
        session.execute(delete(WebSession).where(WebSession.id == web.id))
        session.commit()
        return None
    if now - web.last_seen_at >= SESSION_TOUCH:
        begin_write(session)
        # A statement, not a flush: a concurrent logout may have deleted the row meanwhile.
        touch = update(WebSession).where(WebSession.id == web.id).values(last_seen_at=now)
        session.execute(touch, execution_options={"synchronize_session": False})
        session.commit()
    return session.get(Candidate, web.candidate_id)


def end_session(session: Session, token: str, now: datetime, *, client_ip: str | None = None) -> None:
    """Logout: the session is deleted server-side, so its cookie is worthless from now on."""
    web = _web_session(session, token)
    if web is None:
        return
    candidate = session.get(Candidate, web.candidate_id)
    begin_write(session)
    session.execute(delete(WebSession).where(WebSession.id == web.id))
    audit.record(
        session, actor=_target(candidate), action="auth.logout", target=_target(candidate), now=now, ip=client_ip
    )
    session.commit()


def _end_sessions(session: Session, candidate: Candidate, *, keep: str | None = None) -> int:
    query = delete(WebSession).where(WebSession.candidate_id == candidate.id)
    if keep:
        query = query.where(WebSession.id != _digest(keep))
    return session.execute(query).rowcount or 0  # type: ignore[attr-defined]


# --- e-mailed links ('Never logged in before?', 'Forgot Password or CertManager ID') ----------


def _issue_link(session: Session, ctx: IssuerContext, candidate: Candidate, purpose: str, now: datetime) -> None:
    # A new link makes older unused ones of the same purpose worthless.
    session.execute(
        update(AuthToken)
        .where(
            AuthToken.candidate_id == candidate.id,
            AuthToken.purpose == purpose,
            AuthToken.used_at.is_(None),
            AuthToken.expires_at > now,
        )
        .values(expires_at=now),
        execution_options={"synchronize_session": False},
    )
    token = secrets.token_urlsafe(32)
    session.add(
        AuthToken(
            token_hash=_digest(token),
            candidate_id=candidate.id,
            purpose=purpose,
            created_at=now,
            expires_at=now + TOKEN_LIFETIME,
        )
    )
    audit.record(
        session, actor="anonymous", action="auth.token_issued", target=_target(candidate), now=now, purpose=purpose
    )
    base = ctx.settings.base_url
    kind, subject = (
        ("first_login", "Set your CertManager password")
        if purpose == FIRST_LOGIN
        else ("password_reset", "Your CertManager ID and password reset link")
    )
    mail.enqueue_template(
        session, to=candidate.email, kind=kind, subject=subject, now=now, candidate=candidate,
        link=f"{base}/reset/{token}", minutes=int(TOKEN_LIFETIME.total_seconds() // 60),
        login_url=f"{base}/login", forgot_url=f"{base}/forgot", issuer_name=ctx.settings.issuer_name,
    )  # fmt: skip


def _request_link(
    session: Session, ctx: IssuerContext, email: str, now: datetime, wanted: str, client_ip: str | None
) -> None:
    begin_write(session)
    candidate = find_by_email(session, email) if _EMAIL.fullmatch(email.strip()) and len(email) <= 320 else None
    if candidate is None:
        # Same work shape as a known address (a write and a commit), and nothing sent.
        audit.record(
            session, actor="anonymous", action="auth.link_requested", target="unknown", now=now,
            purpose=wanted, ip=client_ip,
        )  # fmt: skip
    else:
        # Without a password a reset is a first login; with one, a first-login request is a reset.
        _issue_link(session, ctx, candidate, FIRST_LOGIN if candidate.password_hash is None else RESET, now)
    session.commit()


def start_first_login(
    session: Session, ctx: IssuerContext, email: str, now: datetime, *, client_ip: str | None = None
) -> None:
    """'Never logged in before?' → 'By email address': e-mail a link to set the first password.
    Does nothing visible for an unknown address."""
    _request_link(session, ctx, email, now, FIRST_LOGIN, client_ip)


def start_reset(
    session: Session, ctx: IssuerContext, email: str, now: datetime, *, client_ip: str | None = None
) -> None:
    """'Forgot Password or CertManager ID': e-mail the CertManager ID and a reset link.
    Does nothing visible for an unknown address."""
    _request_link(session, ctx, email, now, RESET, client_ip)


def _usable_token(session: Session, token: str, now: datetime, *, lock: bool = False) -> AuthToken:
    if not token or len(token) > 128:
        raise TokenInvalid()
    query = select(AuthToken).where(AuthToken.token_hash == _digest(token))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.execute(query).scalar_one_or_none()
    if row is None or row.used_at is not None or now >= row.expires_at:
        raise TokenInvalid()
    return row


def token_candidate(session: Session, token: str, now: datetime) -> Candidate:
    """The candidate a still-usable link belongs to (without using it); raises TokenInvalid."""
    row = _usable_token(session, token, now)
    candidate = session.get(Candidate, row.candidate_id)
    assert candidate is not None
    return candidate


def complete_token(
    session: Session,
    token: str,
    password: str,
    now: datetime,
    *,
    confirm: str | None = None,
    client_ip: str | None = None,
) -> Candidate:
    """Set the password through an e-mailed link: the link is used up, every session of the
    candidate ends, other open links die, and a 'password changed' notice is e-mailed."""
    if confirm is not None and confirm != password:
        raise PasswordMismatch()
    candidate = token_candidate(session, token, now)
    check_password_policy(password, certmanager_id=candidate.certmanager_id, email=candidate.email)
    new_hash = hash_password(password)  # slow: outside the write lock
    begin_write(session)
    row = _usable_token(session, token, now, lock=True)  # re-checked under the lock: single use
    row.used_at = now
    session.execute(
        update(AuthToken)
        .where(AuthToken.candidate_id == candidate.id, AuthToken.used_at.is_(None), AuthToken.id != row.id)
        .values(expires_at=now),
        execution_options={"synchronize_session": False},
    )
    first = candidate.password_hash is None
    candidate.password_hash = new_hash
    candidate.password_changed_at = now
    ended = _end_sessions(session, candidate)
    target = _target(candidate)
    audit.record(
        session, actor=target, action="auth.token_used", target=target, now=now, purpose=row.purpose, ip=client_ip
    )
    audit.record(session, actor=target, action="auth.password_changed", target=target, now=now, sessions_ended=ended)
    _notify_change(session, candidate, candidate.email, "password_set" if first else "password", now)
    session.commit()
    return candidate


def change_password(
    session: Session,
    candidate: Candidate,
    current: str,
    password: str,
    now: datetime,
    *,
    confirm: str | None = None,
    keep_session: str | None = None,
    client_ip: str | None = None,
) -> None:
    """A logged-in password change: needs the current password; ends every other session."""
    if not _verify(candidate.password_hash, current):
        raise CurrentPasswordIncorrect()
    if confirm is not None and confirm != password:
        raise PasswordMismatch()
    check_password_policy(password, certmanager_id=candidate.certmanager_id, email=candidate.email)
    new_hash = hash_password(password)
    begin_write(session)
    candidate.password_hash = new_hash
    candidate.password_changed_at = now
    ended = _end_sessions(session, candidate, keep=keep_session)
    target = _target(candidate)
    audit.record(
        session,
        actor=target,
        action="auth.password_changed",
        target=target,
        now=now,
        sessions_ended=ended,
        ip=client_ip,
    )
    _notify_change(session, candidate, candidate.email, "password", now)
    session.commit()


def _notify_change(
    session: Session, candidate: Candidate, to: str, change: str, now: datetime, **extra: object
) -> None:
    subjects = {
        "password_set": "Your CertManager password was set",
        "password": "Your CertManager password was changed",
        "email": "The e-mail address of your CertManager account was changed",
    }
    kind = "email_changed" if change == "email" else "password_changed"
    # One template covers every account-security notice (password set or changed, e-mail changed).
    context = {"subject": subjects[change], "candidate": candidate, "change": change, "now": now, **extra}
    text = render_template("mail/password_changed.txt", **context)
    html = render_template("mail/password_changed.html", **context)
    mail.enqueue(session, to=to, kind=kind, subject=subjects[change], text=text, html=html, now=now)


# --- profile ---------------------------------------------------------------------------------


@functools.cache
def countries() -> tuple[tuple[str, str], ...]:
    """ISO 3166-1 alpha-2 codes and names (issuer/data/countries.tsv), sorted by name."""
    text = resources.files("issuer").joinpath("data/countries.tsv").read_text(encoding="utf-8")
    rows = (line.split("\t", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return tuple(sorted(((code, name) for code, name in rows), key=lambda row: row[1]))


def _clean_fields(form: Mapping[str, str | None]) -> tuple[dict[str, str | None], dict[str, str]]:
    values: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    codes = {code for code, _ in countries()}
    for field, limit in PROFILE_FIELDS.items():
        raw = form.get(field)
        if raw is None:
            continue  # not submitted: unchanged
        value = " ".join(raw.split())
        if _CONTROL.search(re.sub(r"[\t\r\n]", " ", raw)) or len(value) > limit:
            errors[field] = f"Use at most {limit} ordinary characters."
        elif field == "phone" and value and (not _PHONE.fullmatch(value) or sum(c.isdigit() for c in value) < 4):
            errors[field] = "Enter a phone number with digits, spaces and + ( ) - . / only."
        elif field == "country" and value and value.upper() not in codes:
            errors[field] = "Choose a country from the list."
        values[field] = (value.upper() if field == "country" else value) or None
    return values, errors


def update_profile(
    session: Session,
    candidate: Candidate,
    form: Mapping[str, str | None],
    now: datetime,
    *,
    email: str | None = None,
    current_password: str | None = None,
    client_ip: str | None = None,
) -> list[str]:
    """'Update/Confirm': save the editable fields in `form` (never the name). A new `email` needs
    the current password, and the old address is told. Returns the changed field names."""
    values, errors = _clean_fields(form)
    new_email = normalize_email(email) if email is not None and email.strip() else None
    if email is not None and new_email is None:
        errors["email"] = "Enter your e-mail address."
    elif new_email is not None and (not _EMAIL.fullmatch(new_email) or len(new_email) > 320):
        errors["email"] = "Enter a valid e-mail address."
    if errors:
        raise InvalidProfile(errors)
    email_change = new_email is not None and new_email != candidate.email
    if email_change and not _verify(candidate.password_hash, current_password or ""):
        raise CurrentPasswordIncorrect()
    begin_write(session)
    if email_change:
        taken = session.execute(select(Candidate.id).where(Candidate.email == new_email, Candidate.id != candidate.id))
        if taken.first() is not None:
            raise EmailUnavailable()
    changed = [field for field, value in values.items() if getattr(candidate, field) != value]
    for field in changed:
        setattr(candidate, field, values[field])
    candidate.updated_at = now  # 'Confirm': the candidate vouched for the profile at this time
    target = _target(candidate)
    if email_change and new_email is not None:
        old_email = candidate.email
        candidate.email = new_email
        changed.append("email")
        _notify_change(session, candidate, old_email, "email", now, new_email=_mask(new_email))
        audit.record(session, actor=target, action="profile.email_changed", target=target, now=now, ip=client_ip)
    audit.record(session, actor=target, action="profile.changed", target=target, now=now, fields=changed, ip=client_ip)
    try:
        session.commit()
    except IntegrityError as exc:  # the address was taken in the meantime
        session.rollback()
        raise EmailUnavailable() from exc
    return changed


def _mask(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}…@{domain}"
