"""`credentials list|show`, `revoke` and `verify`."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from issuer import runtime
from issuer.cli.support import (
    EXIT_NOT_VALID,
    EXIT_OK,
    EXIT_USAGE,
    actor,
    app_session,
    emit_json,
    err,
    fail,
    out,
    short_id,
)


@click.group()
def credentials() -> None:
    """List and show issued credentials."""


@credentials.command("list")
@click.option("--candidate", help="Only this candidate's credentials (CertManager ID).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def credentials_list(candidate: str | None, fmt: str) -> None:
    """Every credential ever issued, newest first."""
    from issuer.services.credentials import describe, list_credentials

    with app_session() as (ctx, session):
        now = ctx.clock()
        rows = [describe(ctx, r, now) for r in list_credentials(session, candidate)]
    if fmt == "json":
        emit_json(rows)
        return
    table = Table("ID", "Candidate", "Kind", "Certification", "Status", "Valid until")
    for r in rows:
        table.add_row(
            r["id"],
            r["candidate_id"],
            r["kind"],
            r["certification"] or "—",
            r["status"],
            (r["valid_until"] or "—")[:10],
        )
    out.print(table)


@credentials.command("show")
@click.argument("cred_id")
@click.option("--format", "fmt", type=click.Choice(["json", "jwt"]), default="json", show_default=True)
def credentials_show(cred_id: str, fmt: str) -> None:
    """One credential."""
    from issuer.services.credentials import describe, get_credential

    with app_session() as (ctx, session):
        record = get_credential(session, short_id(ctx, cred_id))
        if fmt == "jwt":
            click.echo(record.jwt)
        else:
            emit_json({**describe(ctx, record, ctx.clock()), "jwt": record.jwt})


@click.command()
@click.argument("cred_id")
@click.option("--reason", required=True, help="superseded | withdrawn | issued_in_error | misconduct | key_compromise")
@click.option("--note", default=None, help="Internal note kept in the audit log (never shown publicly).")
def revoke(cred_id: str, reason: str, note: str | None) -> None:
    """Revoke a credential (final)."""
    from issuer.services.revocation import REASONS, revoke_credential

    if reason not in REASONS:
        fail(f"unknown reason {reason!r}; use one of: {', '.join(REASONS)}", EXIT_USAGE)
    with app_session() as (ctx, session):
        record, changed = revoke_credential(
            session, ctx, short_id(ctx, cred_id), reason=reason, note=note, actor=actor(), now=ctx.clock()
        )
        if changed:
            err.print(f"Revoked {record.id} ({reason}); the status list was re-signed.")
        else:
            err.print(f"{record.id} was already revoked ({record.revocation_reason}); nothing changed.")


def _read_token(token: str) -> str:
    from verifier.jws import MAX_TOKEN_BYTES

    if token == "-":  # noqa: S105 - "-" means stdin, not a password
        try:
            return sys.stdin.read(MAX_TOKEN_BYTES + 1)
        except UnicodeDecodeError:
            fail("standard input is not UTF-8 text", EXIT_USAGE)
    if token.startswith("@"):
        try:
            with open(token[1:], encoding="utf-8") as handle:
                return handle.read(MAX_TOKEN_BYTES + 1)
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {token[1:]}: {getattr(exc, 'strerror', None) or exc.__class__.__name__}", EXIT_USAGE)
    return token


@click.command()
@click.argument("token")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="text", show_default=True)
def verify(token: str, fmt: str) -> None:
    """Verify TOKEN, @FILE or - (stdin) exactly as this instance's public API does."""
    from flask import current_app

    raw = _read_token(token)
    with app_session() as (ctx, _session):
        result = runtime.of(current_app).verification.verify(raw, now=ctx.clock())
    if fmt == "json":
        emit_json(result.to_dict())
    else:
        style = "bold green" if result.verified else "bold red"
        out.print(f"[{style}]{result.status.upper()}[/]")
        cred = result.credential or {}
        if cred:
            names = ", ".join(c["name"] or "" for c in cred.get("certifications", []))
            out.print(f"  {cred.get('subject_name')} — {names}", markup=False)
        for check in result.checks:
            out.print(f"  {'✓' if check.ok else '✗'} {check.check}: {check.detail}", markup=False)
    sys.exit(EXIT_OK if result.verified else EXIT_NOT_VALID)


def init_app(main: click.Group) -> None:
    for command in (credentials, revoke, verify):
        main.add_command(command)
