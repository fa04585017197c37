"""The `certmanager` command line (SPEC §3.3). JSON goes to stdout; progress and logs to stderr."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click
from flask import Flask
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from issuer.errors import ConfigError, IssuerError
from keys import KeyError_

EXIT_OK, EXIT_NOT_VALID, EXIT_USAGE, EXIT_NOT_FOUND = 0, 1, 2, 4

err = Console(stderr=True, highlight=False, soft_wrap=True)
# Tables piped to a file or another program keep their full width.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True)
    sys.exit(code)


def _app() -> Flask:
    from issuer import create_app

    try:
        return create_app()
    except ConfigError as exc:
        fail(exc.message, EXIT_USAGE)


@contextmanager
def app_session(require_init: bool = True) -> Iterator[tuple[Any, Any]]:
    """An app context and a session; typed errors become clean messages and exit codes."""
    from issuer.db import get_db, get_session

    app = _app()
    with app.app_context():
        try:
            if require_init and not get_db().is_initialized():
                fail("the database is not initialised: run `certmanager init` first", EXIT_NOT_VALID)
            yield app.extensions["certmanager"], get_session()
        except IssuerError as exc:
            fail(exc.message, exc.exit_code)
        except KeyError_ as exc:
            fail(str(exc), EXIT_USAGE)
        except SQLAlchemyError as exc:
            fail(f"database error ({exc.__class__.__name__}): is CERTMANAGER_DATABASE_URL reachable?", EXIT_NOT_VALID)
        finally:
            get_session().close()
            get_db().dispose()


def _emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2))


def _progress(label: str) -> tuple[Progress | None, Callable[[int, int], None] | None]:
    if not err.is_terminal:
        return None, None
    progress = Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err, transient=True
    )
    task = progress.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return progress, update


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="certmanager-vc")
def main() -> None:
    """CertManager VC: signed, verifiable certifications and transcripts."""


@main.command()
@click.option("--demo", is_flag=True, help="Add a demo candidate with certifications and print how to see them.")
def init(demo: bool) -> None:
    """Create or upgrade the schema, the first signing key and status list; load the catalog."""
    from issuer.db import get_db
    from issuer.services.setup import initialize

    app = _app()
    with app.app_context():
        try:
            get_db().upgrade()
        except SQLAlchemyError as exc:
            fail(f"cannot migrate the database ({exc.__class__.__name__}); check CERTMANAGER_DATABASE_URL", 1)
        finally:
            get_db().dispose()
    with app_session() as (ctx, session):
        report = initialize(session, ctx, now=ctx.clock(), demo=demo)
        settings = ctx.settings
        err.print(f"Database ready: {settings.database_url.split('@')[-1]}")
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


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Serve the whole app with gunicorn."""
    from issuer.server import preflight, run

    app = _app()
    with app.app_context():
        problem = preflight(app)
    if problem:
        fail(problem, EXIT_USAGE)
    err.print(
        f"Serving {app.extensions['certmanager'].settings.issuer_name} on http://{host}:{port}/ ({workers} workers)"
    )
    run(app, host=host, port=port, workers=workers)


@main.command("serve-verifier")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--trust", "trust", multiple=True, metavar="URL", help="A trusted issuer base URL (repeatable).")
def serve_verifier(host: str, port: int, workers: int, trust: tuple[str, ...]) -> None:
    """Serve the stand-alone verifier (no issuer database) for the trusted issuers."""
    from issuer.server import run
    from verifier.standalone import create_verifier_app

    try:
        app = create_verifier_app(list(trust) or None)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    bases = ", ".join(app.extensions["verifier.trusted_issuers"])
    err.print(f"Verifier on http://{host}:{port}/verify ({workers} workers), trusting {bases}")
    run(app, host=host, port=port, workers=workers)


@main.command()
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
        _emit_json(cat.to_json())
        return
    table = Table("Code", "Name", "Track", "Level", "Exams", "Prerequisites", "Years")
    for c in cat.certifications.values():
        table.add_row(
            c.code,
            c.name,
            c.track,
            c.level,
            ", ".join(c.exams),
            ", ".join(c.prerequisites) or "—",
            str(c.validity_years),
        )
    out.print(table)


@main.group("import")
def import_group() -> None:
    """Import the test vendor's feeds (CSV): registrations, then results."""


def _import(kind: str, file: str) -> None:
    from issuer.services import imports
    from issuer.services.feeds import FeedError, open_feed

    runner = imports.import_registrations if kind == "registrations" else imports.import_results
    with app_session() as (ctx, session):
        try:
            with open_feed(file) as path:
                total = imports.count_rows(path)
                progress, update = _progress(f"Importing {kind}")
                if progress:
                    progress.start()
                try:
                    report = runner(
                        session, ctx, path, now=ctx.clock(), actor=_actor(),
                        progress=(lambda done: update(done, total)) if update else None,
                    )  # fmt: skip
                finally:
                    if progress:
                        progress.stop()
        except FeedError as exc:
            fail(exc.message, EXIT_USAGE)
    for line, code, reason in report.rejected:
        err.print(f"line {line}: {code}: {reason}", markup=False, highlight=False)
    parts = [f"{report.rows_read} rows read", f"{report.rows_applied} applied", f"{report.rows_unchanged} unchanged"]
    if kind == "registrations":
        parts += [f"{report.accounts_created} accounts created", f"{report.registrations_created} registrations"]
    else:
        parts += [
            f"{report.results_imported} results imported",
            f"{report.certifications_granted} certifications granted",
            f"{report.certifications_recertified} recertified",
            f"{report.grants_held} held for prerequisites",
            f"{report.credentials_issued} credentials issued",
        ]
    parts.append(f"{report.rows_rejected} rejected")
    err.print("Summary: " + ", ".join(parts), markup=False)
    sys.exit(3 if report.rows_rejected else EXIT_OK)


@import_group.command("registrations")
@click.argument("file")
def import_registrations(file: str) -> None:
    """Registration feed: creates accounts (FILE, or - for stdin). Exit 3 if rows were rejected."""
    _import("registrations", file)


@import_group.command("results")
@click.argument("file")
def import_results(file: str) -> None:
    """Results feed: grants certifications and issues credentials. Exit 3 if rows were rejected."""
    _import("results", file)


@main.group()
def reminders() -> None:
    """Expiry reminders (run `reminders send` daily from cron)."""


@reminders.command("send")
def reminders_send() -> None:
    """Queue the 90- and 30-day expiry reminders that are due."""
    from issuer.services.reminders import send_due

    with app_session() as (ctx, session):
        report = send_due(session, ctx, now=ctx.clock(), actor=_actor())
    err.print(f"Reminders queued: {report.sent_90} at 90 days, {report.sent_30} at 30 days")


@main.group()
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
        _emit_json(rows)
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
        record = get_credential(session, _short_id(ctx, cred_id))
        if fmt == "jwt":
            click.echo(record.jwt)
        else:
            _emit_json({**describe(ctx, record, ctx.clock()), "jwt": record.jwt})


def _short_id(ctx: Any, ref: str) -> str:
    prefix = ctx.credential_url("")
    return ref[len(prefix) :] if ref.startswith(prefix) else ref


@main.command()
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
            session, ctx, _short_id(ctx, cred_id), reason=reason, note=note, actor=_actor(), now=ctx.clock()
        )
        if changed:
            err.print(f"Revoked {record.id} ({reason}); the status list was re-signed.")
        else:
            err.print(f"{record.id} was already revoked ({record.revocation_reason}); nothing changed.")


@main.command()
@click.argument("token")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="text", show_default=True)
def verify(token: str, fmt: str) -> None:
    """Verify TOKEN, @FILE or - (stdin) exactly as this instance's public API does."""
    from verifier.jws import MAX_TOKEN_BYTES

    if token == "-":  # noqa: S105 - "-" means stdin, not a password
        raw = sys.stdin.read(MAX_TOKEN_BYTES + 1)
    elif token.startswith("@"):
        try:
            with open(token[1:], encoding="utf-8") as handle:
                raw = handle.read(MAX_TOKEN_BYTES + 1)
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {token[1:]}: {getattr(exc, 'strerror', None) or exc.__class__.__name__}", EXIT_USAGE)
    else:
        raw = token
    with app_session() as (ctx, session):
        local = ctx_verification()
        result = local.verify(session, raw, now=ctx.clock())
    if fmt == "json":
        _emit_json(result.to_dict())
    else:
        style = "bold green" if result.verified else "bold red"
        out.print(f"[{style}]{result.status.upper()}[/]")
        cred = result.credential or {}
        if cred:
            out.print(
                f"  {cred.get('subject_name')} — " + ", ".join(c["name"] or "" for c in cred.get("certifications", []))
            )
        for check in result.checks:
            out.print(f"  {'✓' if check.ok else '✗'} {check.check}: {check.detail}", markup=False)
    sys.exit(EXIT_OK if result.verified else EXIT_NOT_VALID)


def ctx_verification() -> Any:
    from flask import current_app

    return current_app.extensions["certmanager.verification"]


@main.group()
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
            {
                "kid": ctx.kid(k.thumbprint),
                "alg": k.alg,
                "state": k.state,
                "created_at": format_datetime(k.created_at),
            }
            for k in list_keys(session)
        ]
    if fmt == "json":
        _emit_json(rows)
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
        record = rotate(session, ctx, now=ctx.clock(), actor=_actor())
        click.echo(ctx.kid(record.thumbprint))


@keys.command("retire")
@click.argument("kid")
def keys_retire(kid: str) -> None:
    """Stop publishing a key once nothing valid depends on it."""
    from issuer.services.keyring import retire

    with app_session() as (ctx, session):
        record = retire(session, ctx, kid, now=ctx.clock(), actor=_actor())
        err.print(f"Retired {ctx.kid(record.thumbprint)}")


@keys.command("compromised")
@click.argument("kid")
@click.option("--reissue", is_flag=True, help="Reissue every still-valid credential the key signed.")
def keys_compromised(kid: str, reissue: bool) -> None:
    """Unpublish a key at once and revoke everything it signed."""
    from issuer.services.key_compromise import mark_compromised

    progress, update = _progress("Reissuing") if reissue else (None, None)
    with app_session() as (ctx, session):
        if progress:
            progress.start()
        try:
            report = mark_compromised(
                session, ctx, kid, now=ctx.clock(), actor=_actor(), reissue=reissue, progress=update
            )
        finally:
            if progress:
                progress.stop()
        err.print(f"Key {ctx.kid(report.key.thumbprint)} marked compromised and removed from the JWKS.")
        if report.new_active:
            err.print(f"New active key: {ctx.kid(report.new_active)}")
        err.print(f"Revoked {len(report.revoked)} credential(s); reissued {len(report.reissued)}.")
        for old, new in report.reissued.items():
            click.echo(f"{old} -> {new}")


@main.group()
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
