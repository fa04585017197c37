"""A new e-mail address (SPEC §5.1): asked for on the 'Profile' with the current password, it
takes effect only once the single-use link sent to it is followed — so nobody who borrows a
session or mistypes an address can move an account (and its results) to another mailbox — and
the old address is then told of the change."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.context import IssuerContext
from issuer.db import unit_of_work
from issuer.models import AuthToken, Candidate
from issuer.services import audit, mail, notices
from issuer.services.accounts.errors import EmailUnavailable, LoginThrottled, TokenInvalid
from issuer.services.accounts.links import LINKS_PER_ADDRESS, new_token, usable_token
from issuer.services.accounts.login import target
from issuer.throttle import Rule, Throttled

EMAIL = "email"
EMAIL_LINK_LIFETIME = timedelta(hours=24)
EMAIL_CHANGES_PER_ACCOUNT = Rule("email-change-account", 5, timedelta(hours=1))
_THROTTLED = "Too many e-mail address changes. Wait an hour and try again."
_INVALID = TokenInvalid("24 hours", "Change your e-mail address on your Profile again to get a new one.")


class PendingEmail(NamedTuple):
    """A new address waiting for its link to be followed."""

    address: str
    expires_at: datetime


def mask(email: str) -> str:
    """An address as a notice to another mailbox shows it: `n…@example.org`."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}…@{domain}"


def _taken(session: Session, candidate_id: int, address: str) -> bool:
    query = select(Candidate.id).where(Candidate.email == address, Candidate.id != candidate_id)
    return session.execute(query).first() is not None


def count_request(session: Session, ctx: IssuerContext, candidate: Candidate, address: str, now: datetime) -> None:
    """Count a change request against the account's and the new address's limits (links to an
    address are limited whoever asks); raises LoginThrottled past them."""
    limits = (EMAIL_CHANGES_PER_ACCOUNT, (str(candidate.id),)), (LINKS_PER_ADDRESS, (address,))
    try:
        ctx.throttle.take(session, *limits, now=now)
    except Throttled as exc:
        raise LoginThrottled(_THROTTLED, exc.retry_after) from None


def request_change(
    session: Session, ctx: IssuerContext, candidate: Candidate, address: str, now: datetime, *,
    client_ip: str | None = None,
) -> None:  # fmt: skip
    """E-mail a confirmation link to `address` (cleaned; password confirmed; request counted), in
    the caller's unit of work; raises EmailUnavailable. The account's address stays as it is."""
    if _taken(session, candidate.id, address):
        raise EmailUnavailable()
    token = new_token(session, candidate, EMAIL, now, lifetime=EMAIL_LINK_LIFETIME, new_email=address)
    link = f"{ctx.settings.base_url}/confirm-email/{token}"
    hours = int(EMAIL_LINK_LIFETIME.total_seconds() // 3600)
    mail.enqueue(session, notices.email_confirmation(ctx, candidate, address, link, hours), now=now)
    who = target(candidate)
    audit.record(
        session, actor=who, action="profile.email_change_requested", target=who, now=now, ip=client_ip,
        new_email=mask(address),
    )  # fmt: skip


def pending(session: Session, candidate: Candidate, now: datetime) -> PendingEmail | None:
    """The new address the candidate asked for whose link is still usable, if any."""
    query = (
        select(AuthToken.new_email, AuthToken.expires_at)
        .where(
            AuthToken.candidate_id == candidate.id,
            AuthToken.purpose == EMAIL,
            AuthToken.used_at.is_(None),
            AuthToken.expires_at > now,
        )
        .order_by(AuthToken.id.desc())
        .limit(1)
    )
    row = session.execute(query).first()
    return PendingEmail(row.new_email, row.expires_at) if row is not None and row.new_email else None


class Confirmation(NamedTuple):
    """What the confirmation page shows before the candidate confirms."""

    candidate: Candidate
    address: str


def confirmation(session: Session, token: str, now: datetime) -> Confirmation:
    """The account and new address a still-usable link is for (without using it); raises TokenInvalid."""
    row = usable_token(session, token, now, purposes=(EMAIL,), invalid=_INVALID)
    candidate = session.get(Candidate, row.candidate_id)
    assert candidate is not None and row.new_email is not None
    return Confirmation(candidate, row.new_email)


def confirm_change(
    session: Session, ctx: IssuerContext, token: str, now: datetime, *, client_ip: str | None = None
) -> Candidate:
    """Follow the link: the address changes, the link is used up, and the old address is told.
    Raises TokenInvalid, or EmailUnavailable when another account took the address meanwhile."""
    try:
        with unit_of_work(session):
            row = usable_token(session, token, now, purposes=(EMAIL,), lock=True, invalid=_INVALID)
            candidate = session.get(Candidate, row.candidate_id, with_for_update=True, populate_existing=True)
            assert candidate is not None and row.new_email is not None
            if _taken(session, candidate.id, row.new_email):
                raise EmailUnavailable()
            row.used_at = now
            session.execute(
                update(AuthToken)
                .where(AuthToken.candidate_id == candidate.id, AuthToken.purpose == EMAIL, AuthToken.used_at.is_(None))
                .values(expires_at=now),
                execution_options={"synchronize_session": False},
            )
            old, candidate.email = candidate.email, row.new_email
            candidate.updated_at = now
            notice = notices.account_changed(
                ctx, candidate, to=old, change="email", now=now, new_email=mask(row.new_email)
            )
            mail.enqueue(session, notice, now=now)
            who = target(candidate)
            audit.record(session, actor=who, action="auth.token_used", target=who, now=now, purpose=EMAIL, ip=client_ip)
            audit.record(session, actor=who, action="profile.email_changed", target=who, now=now, ip=client_ip)
    except IntegrityError as exc:  # the address was taken at the same moment
        raise EmailUnavailable() from exc
    return candidate
