"""Every message we send, in one place: its subject, template, context and dedupe key. Each
builder returns a rendered `Outgoing` for `mail.enqueue` / `mail.enqueue_many`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from issuer.context import IssuerContext
from issuer.models import Candidate, Certification
from issuer.services.issuance import Issued
from issuer.services.mail import Outgoing

LINK_SUBJECTS = {
    "first_login": "Set your CertManager password",
    "password_reset": "Your CertManager ID and password reset link",
}
CHANGE_SUBJECTS = {
    "password_set": "Your CertManager password was set",
    "password": "Your CertManager password was changed",
    "email": "The e-mail address of your CertManager account was changed",
}
EMAIL_CONFIRMATION_SUBJECT = "Confirm the new e-mail address of your CertManager account"
RESULTS_SUBJECT = "New exam results in your CertManager account"


class Recipient(NamedTuple):
    """What a bulk message reads of a candidate (cheaper than an ORM object)."""

    candidate_id: int
    email: str
    first_name: str
    certmanager_id: str


def _url(ctx: IssuerContext, path: str) -> str:
    return f"{ctx.settings.base_url}{path}"


def account_created(ctx: IssuerContext, candidate: Candidate) -> Outgoing:
    subject = f"Your {ctx.settings.issuer_name} CertManager account"
    text, html = ctx.mail.render(
        "account_created", subject=subject, candidate=candidate, login_url=_url(ctx, "/login"),
        first_login_url=_url(ctx, "/first-login"),
    )  # fmt: skip
    return Outgoing(candidate.email, "account_created", subject, text, html, f"account_created:{candidate.id}")


def results_imported(ctx: IssuerContext, recipients: Sequence[Recipient], run_id: str) -> list[Outgoing]:
    """'New exam results' to each recipient, once per candidate and import run (rendered when
    sent: an import queues thousands)."""
    exams_url = _url(ctx, "/exams")
    return [
        Outgoing(
            r.email, "results_imported", RESULTS_SUBJECT, None, None, f"results:{r.candidate_id}:{run_id}",
            {"subject": RESULTS_SUBJECT, "exams_url": exams_url, "first_name": r.first_name,
             "certmanager_id": r.certmanager_id},
        )
        for r in recipients
    ]  # fmt: skip


def credentials_reissued(
    ctx: IssuerContext, recipients: Mapping[int, Recipient], issued: Sequence[Issued]
) -> list[Outgoing]:
    """One message per candidate whose credentials were reissued (after a key compromise), with
    the new links."""
    by_candidate: dict[int, list[Issued]] = {}
    for credential in issued:
        by_candidate.setdefault(credential.grant.holder.candidate_id, []).append(credential)
    subject = "Your certification credentials were reissued"
    out = []
    for candidate_id, credentials in sorted(by_candidate.items()):
        recipient = recipients[candidate_id]
        items = [
            {"name": _certification_name(ctx, c.grant.code), "code": c.grant.code, "url": ctx.credential_url(c.id)}
            for c in credentials
        ]
        text, html = ctx.mail.render(
            "credentials_reissued", subject=subject, first_name=recipient.first_name, items=items,
            certifications_url=_url(ctx, "/certifications"),
        )  # fmt: skip
        out.append(Outgoing(recipient.email, "credentials_reissued", subject, text, html))
    return out


def _certification_name(ctx: IssuerContext, code: str) -> str:
    definition = ctx.catalog.get(code)
    return definition.name if definition else code


def expiry_reminder(ctx: IssuerContext, certification: Certification, window: int, now: datetime) -> Outgoing:
    definition = ctx.catalog.get(certification.code)
    candidate = certification.candidate
    expires = certification.valid_until
    expires_on = f"{expires.day} {expires:%B %Y}"
    subject = f"Your {certification.code} certification expires on {expires_on}"
    text, html = ctx.mail.render(
        "expiry_reminder", subject=subject, candidate=candidate, certification=certification,
        certification_name=definition.name if definition else certification.code, expires_on=expires_on,
        days_left=(expires - now).days, certifications_url=_url(ctx, "/certifications"),
    )  # fmt: skip
    key = f"reminder{window}:{certification.id}:{expires.date().isoformat()}"
    return Outgoing(candidate.email, "expiry_reminder", subject, text, html, key)


def account_link(ctx: IssuerContext, candidate: Candidate, kind: str, link: str, minutes: int) -> Outgoing:
    """'Never logged in before?' (`first_login`) or 'Forgot Password or CertManager ID' (`password_reset`)."""
    subject = LINK_SUBJECTS[kind]
    text, html = ctx.mail.render(
        kind, subject=subject, candidate=candidate, link=link, minutes=minutes, login_url=_url(ctx, "/login"),
        forgot_url=_url(ctx, "/forgot"),
    )  # fmt: skip
    return Outgoing(candidate.email, kind, subject, text, html)


def email_confirmation(ctx: IssuerContext, candidate: Candidate, address: str, link: str, hours: int) -> Outgoing:
    """The link that makes `address` the account's e-mail address, sent to that address."""
    subject = EMAIL_CONFIRMATION_SUBJECT
    text, html = ctx.mail.render(
        "email_confirmation", subject=subject, candidate=candidate, address=address, link=link, hours=hours,
        profile_url=_url(ctx, "/profile"),
    )  # fmt: skip
    return Outgoing(address, "email_confirmation", subject, text, html)


def account_changed(
    ctx: IssuerContext, candidate: Candidate, *, to: str, change: str, now: datetime, new_email: str | None = None
) -> Outgoing:
    """A security notice: password set or changed, or e-mail address changed (sent to the old one)."""
    subject = CHANGE_SUBJECTS[change]
    text, html = ctx.mail.render(
        "password_changed", subject=subject, candidate=candidate, change=change, now=now, new_email=new_email
    )
    return Outgoing(to, "email_changed" if change == "email" else "password_changed", subject, text, html)
