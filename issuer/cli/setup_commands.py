"""`init`, `serve`, `serve-verifier` and `catalog`."""

from __future__ import annotations

import click
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from issuer import runtime
from issuer.cli.support import EXIT_USAGE, app_session, emit_json, err, fail, make_app, out
from issuer.errors import ConfigError


@click.command()
@click.option("--demo", is_flag=True, help="Add a demo candidate with certifications and print how to see them.")
@click.option(
    "--move-origin",
    is_flag=True,
    help="Re-pin a database initialised with another CERTMANAGER_BASE_URL to this one.",
)
def init(demo: bool, move_origin: bool) -> None:
    """Create or upgrade the schema, the first signing key and status list; load the catalog."""
    from issuer.db import get_db
    from issuer.services.setup import initialize

    app = make_app()
    with app.app_context():
        try:
            get_db().upgrade()
        except SQLAlchemyError as exc:
            fail(f"cannot migrate the database ({exc.__class__.__name__}); check CERTMANAGER_DATABASE_URL", 1)
        finally:
            get_db().dispose()
    with app_session(check_origin=False) as (ctx, session):
        report = initialize(session, ctx, now=ctx.clock(), demo=demo, move_origin=move_origin)
        settings = ctx.settings
        err.print(f"Database ready: {settings.database_url.split('@')[-1]}")
        if report.pinned is not None and report.pinned.previous is not None:
            err.print(
                f"Moved from {report.pinned.previous} to {report.pinned.origin}: "
                f"{report.pinned.valid_with_previous} valid credential(s) carry the old origin and stay "
                "verifiable only where it is still served."
            )
        err.print(f"Public origin: {settings.base_url}")
        if report.created_key:
            err.print(f"Created {settings.signing_alg} signing key {ctx.kid(report.created_key)}")
        err.print(f"Catalog: {len(ctx.catalog.certifications)} certifications in {len(ctx.catalog.tracks)} tracks")
        if report.demo_candidate is not None:
            cand = report.demo_candidate
            click.echo(f"Demo candidate: {cand.full_name} <{cand.email}>")
            click.echo(f"  Log in at {settings.base_url}/login")
            click.echo(f"  CertManager ID: {cand.certmanager_id}")
            click.echo(f"  Password:       {report.demo_password}")
            click.echo("  Credential pages (anyone can open these):")
            for cred in report.demo_credentials or []:
                click.echo(f"    {cred.certification_code}: {ctx.credential_url(cred.id)}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Serve the whole app with gunicorn."""
    from issuer.server import preflight, run

    app = make_app(workers=workers)
    with app.app_context():
        check = preflight(app)
    if check.problem:
        fail(check.problem, EXIT_USAGE)
    if check.warning:
        err.print(f"[yellow]warning:[/] {check.warning}", markup=True)
    settings = runtime.of(app).ctx.settings
    err.print(f"Serving {settings.issuer_name} on http://{host}:{port}/ ({workers} workers) as {settings.base_url}")
    run(app, host=host, port=port, workers=workers, trusted_proxies=settings.trusted_proxies)


@click.command("serve-verifier")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--trust", "trust", multiple=True, metavar="URL", help="A trusted issuer base URL (repeatable).")
def serve_verifier(host: str, port: int, workers: int, trust: tuple[str, ...]) -> None:
    """Serve the stand-alone verifier (no issuer database) for the trusted issuers."""
    from dataclasses import replace

    from issuer.server import run
    from verifier.settings import SettingsError, verifier_settings
    from verifier.standalone import create_verifier_app

    try:
        settings = replace(verifier_settings(trusted=trust), workers=workers)
        app = create_verifier_app(settings)
    except (SettingsError, ValueError) as exc:
        fail(str(exc), EXIT_USAGE)
    bases = ", ".join(settings.trusted_issuers)
    err.print(f"Verifier on http://{host}:{port}/verify ({workers} workers), trusting {bases}")
    run(app, host=host, port=port, workers=workers, trusted_proxies=settings.trusted_proxies, deliver_mail=False)


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def catalog(fmt: str) -> None:
    """The certification catalog in force."""
    from issuer.catalog import load_catalog
    from issuer.config import load_settings

    try:
        cat = load_catalog(load_settings().catalog_path)
    except ConfigError as exc:
        fail(exc.message, EXIT_USAGE)
    if fmt == "json":
        emit_json(cat.to_json())
        return
    table = Table("Code", "Name", "Track", "Level", "Exams", "Prerequisites", "Years")
    for c in cat.certifications.values():
        table.add_row(
            c.code, c.name, c.track, c.level, ", ".join(c.exams), ", ".join(c.prerequisites) or "—",
            str(c.validity_years),
        )  # fmt: skip
    out.print(table)


def init_app(main: click.Group) -> None:
    for command in (init, serve, serve_verifier, catalog):
        main.add_command(command)
