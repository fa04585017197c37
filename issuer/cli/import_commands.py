"""`import registrations|results FILE` (SPEC §3.3, §3.5): a progress bar on a terminal, each
rejected row as `line N: <code>: <reason>` on stderr, a summary, exit 3 if rows were rejected."""

from __future__ import annotations

import sys

import click

from issuer.cli.support import EXIT_OK, EXIT_USAGE, actor, app_session, err, fail, progress_bar
from issuer.services.import_report import ImportReport


@click.group("import")
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
                bar, update = progress_bar(f"Importing {kind}")
                if bar:
                    bar.start()
                try:
                    report = runner(
                        session, ctx, path, now=ctx.clock(), actor=actor(),
                        progress=(lambda done: update(done, total)) if update else None,
                    )  # fmt: skip
                finally:
                    if bar:
                        bar.stop()
        except FeedError as exc:
            fail(exc.message, EXIT_USAGE)
        except imports.ImportInterrupted as exc:
            exc.report.rejected.sort()
            _report(kind, exc.report)
            fail(exc.message, exc.exit_code)
    _report(kind, report)
    sys.exit(3 if report.rows_rejected else EXIT_OK)


def _report(kind: str, report: ImportReport) -> None:
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


def init_app(main: click.Group) -> None:
    main.add_command(import_group)
