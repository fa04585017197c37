"""`keys list|rotate|retire|compromised` (SPEC §5.7)."""

from __future__ import annotations

import click
from rich.table import Table

from issuer.cli.support import actor, app_session, emit_json, err, out, progress_bar


@click.group()
def keys() -> None:
    """Signing key lifecycle: list, rotate, retire, compromised."""


@keys.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def keys_list(fmt: str) -> None:
    """Every key with its state."""
    from issuer.services.keyring import list_keys
    from verifier.timeutil import format_datetime

    with app_session() as (ctx, session):
        rows = [
            {"kid": ctx.kid(k.thumbprint), "alg": k.alg, "state": k.state, "created_at": format_datetime(k.created_at)}
            for k in list_keys(session)
        ]
    if fmt == "json":
        emit_json(rows)
        return
    table = Table("kid", "alg", "state", "created")
    for r in rows:
        table.add_row(r["kid"], r["alg"], r["state"], r["created_at"])
    out.print(table)


@keys.command("rotate")
def keys_rotate() -> None:
    """Make a new active key; older keys keep verifying what they signed."""
    from issuer.services.keyring import rotate

    with app_session() as (ctx, session):
        record = rotate(session, ctx, now=ctx.clock(), actor=actor())
        click.echo(ctx.kid(record.thumbprint))


@keys.command("retire")
@click.argument("kid")
def keys_retire(kid: str) -> None:
    """Stop publishing a key once nothing valid depends on it."""
    from issuer.services.keyring import retire

    with app_session() as (ctx, session):
        record = retire(session, ctx, kid, now=ctx.clock(), actor=actor())
        err.print(f"Retired {ctx.kid(record.thumbprint)}")


@keys.command("compromised")
@click.argument("kid")
@click.option("--reissue", is_flag=True, help="Reissue every still-valid credential the key signed.")
def keys_compromised(kid: str, reissue: bool) -> None:
    """Unpublish a key at once and revoke everything it signed."""
    from issuer.services.key_compromise import mark_compromised

    bar, update = progress_bar("Reissuing") if reissue else (None, None)
    with app_session() as (ctx, session):
        if bar:
            bar.start()
        try:
            report = mark_compromised(
                session, ctx, kid, now=ctx.clock(), actor=actor(), reissue=reissue, progress=update
            )
        finally:
            if bar:
                bar.stop()
        err.print(f"Key {ctx.kid(report.key.thumbprint)} marked compromised and removed from the JWKS.")
        if report.new_active:
            err.print(f"New active key: {ctx.kid(report.new_active)}")
        err.print(f"Revoked {len(report.revoked)} credential(s); reissued {len(report.reissued)}.")
        for old, new in report.reissued.items():
            click.echo(f"{old} -> {new}")


def init_app(main: click.Group) -> None:
    main.add_command(keys)
