"""The candidate's 'Profile' (SPEC §5.1): every field but the name, saved by 'Update/Confirm'; a
new e-mail address needs the current password and a followed link (`email_change`); a password
change and 'Log out everywhere' end the other sessions."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import datetime
from importlib import resources

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer import inputs
from issuer.context import IssuerContext
from issuer.db import unit_of_work
from issuer.models import Candidate
from issuer.services import audit, mail, notices
from issuer.services.accounts import email_change
from issuer.services.accounts.errors import EmailUnavailable, InvalidProfile, PasswordMismatch
from issuer.services.accounts.login import confirm_password, target
from issuer.services.accounts.passwords import check_password_policy, hash_password
from issuer.services.accounts.sessions import end_sessions

PROFILE_FIELDS: dict[str, int] = {
    "phone": 40,
    "company": 200,
    "job_title": 200,
    "address": 500,
    "city": 120,
    "postal_code": 20,
    "country": 2,
}
_PHONE = re.compile(r"[0-9+()./\- ]*")


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
        try:
            value = inputs.clean_line(raw, field="This field", limit=limit)
        except inputs.InvalidInput as exc:
            errors[field] = (
                f"Use at most {limit} characters." if exc.code == "too_long" else "Use visible characters only."
            )
            continue
        if field == "phone" and value and (not _PHONE.fullmatch(value) or sum(c.isdigit() for c in value) < 4):
            errors[field] = "Enter a phone number with digits, spaces and + ( ) - . / only."
        elif field == "country" and value and value.upper() not in codes:
            errors[field] = "Choose a country from the list."
        values[field] = (value.upper() if field == "country" else value) or None
    return values, errors


def update_profile(
    session: Session,
    ctx: IssuerContext,
    candidate: Candidate,
    form: Mapping[str, str | None],
    now: datetime,
    *,
    email: str | None = None,
    current_password: str | None = None,
    client: str = "",
    client_ip: str | None = None,
) -> list[str]:
    """'Update/Confirm': save the editable fields in `form` (never the name). A new `email` needs
    the current password (throttled like a login) and is only e-mailed a confirmation link: it
    takes effect when that is followed. Returns the changed field names (`email_requested` for a
    new address)."""
    values, errors = _clean_fields(form)
    new_email: str | None = None
    if email is not None:
        try:
            new_email = inputs.clean_email(email)
        except inputs.InvalidInput:
            errors["email"] = "Enter your e-mail address." if not email.strip() else "Enter a valid e-mail address."
    if errors:
        raise InvalidProfile(errors)
    changing_email = new_email is not None and new_email != candidate.email
    if new_email is not None and changing_email:
        confirm_password(session, ctx, candidate, current_password or "", now, client=client or client_ip or "")
        email_change.count_request(session, ctx, candidate, new_email, now)
    try:
        with unit_of_work(session):
            changed = [field for field, value in values.items() if getattr(candidate, field) != value]
            for field in changed:
                setattr(candidate, field, values[field])
            candidate.updated_at = now  # 'Confirm': the candidate vouched for the profile at this time
            if new_email is not None and changing_email:
                email_change.request_change(session, ctx, candidate, new_email, now, client_ip=client_ip)
                changed.append("email_requested")
            who = target(candidate)
            audit.record(
                session, actor=who, action="profile.changed", target=who, now=now, fields=changed, ip=client_ip
            )
    except IntegrityError as exc:  # the address was taken in the meantime
        raise EmailUnavailable() from exc
    return changed


def change_password(
    session: Session,
    ctx: IssuerContext,
    candidate: Candidate,
    current: str,
    password: str,
    now: datetime,
    *,
    confirm: str | None = None,
    keep_session: str | None = None,
    client: str = "",
    client_ip: str | None = None,
) -> None:
    """A logged-in password change: needs the current password (throttled like a login); ends
    every other session."""
    confirm_password(session, ctx, candidate, current, now, client=client or client_ip or "")
    if confirm is not None and confirm != password:
        raise PasswordMismatch()
    check_password_policy(password, certmanager_id=candidate.certmanager_id, email=candidate.email)
    new_hash = hash_password(password)
    with unit_of_work(session):
        candidate.password_hash = new_hash
        candidate.password_changed_at = now
        ended = end_sessions(session, candidate, keep=keep_session)
        who = target(candidate)
        audit.record(
            session, actor=who, action="auth.password_changed", target=who, now=now, sessions_ended=ended, ip=client_ip
        )
        notice = notices.account_changed(ctx, candidate, to=candidate.email, change="password", now=now)
        mail.enqueue(session, notice, now=now)


def log_out_everywhere(
    session: Session, candidate: Candidate, now: datetime, *, keep_session: str | None, client_ip: str | None = None
) -> int:
    """'Log out everywhere': end every other session of the account; returns how many ended."""
    with unit_of_work(session):
        ended = end_sessions(session, candidate, keep=keep_session)
        who = target(candidate)
        audit.record(session, actor=who, action="auth.logout_everywhere", target=who, now=now, sessions_ended=ended)
    return ended
