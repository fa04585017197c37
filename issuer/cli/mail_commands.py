"""`reminders send` (daily, from cron) and `mail flush`."""

from __future__ import annotations

import click

from issuer.cli.support import actor, app_session, err


@click.group()
def reminders() -> None:
    """Expiry reminders (run `reminders send` daily from cron)."""


@reminders.command("send")
def reminders_send() -> None:
    """Queue the 90- and 30-day expiry reminders that are due."""
    from issuer.services.reminders import send_due

    with app_session() as (ctx, session):
        report = send_due(session, ctx, now=ctx.clock(), actor=actor())
    err.print(f"Reminders queued: {report.sent_90} at 90 days, {report.sent_30} at 30 days")


@click.group()
def mail() -> None:
    """The mail outbox (SMTP, or the spool dir without CERTMANAGER_SMTP_URL)."""


@mail.command("flush")
def mail_flush() -> None:
    """Deliver every queued message that is due now."""
    from issuer.mail_transport import transport_for
    from issuer.services.mail import deliver_all_due

    with app_session() as (ctx, session):
        transport = transport_for(ctx.settings)  # a bad CERTMANAGER_SMTP_URL stops here (exit 2)
        report = deliver_all_due(session, ctx, now=ctx.clock(), transport=transport)
        err.print(report.summary(), markup=False)


def init_app(main: click.Group) -> None:
    main.add_command(reminders)
    main.add_command(mail)
