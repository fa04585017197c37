"""What every command shares: the app and a session on it with typed errors turned into clean
messages and exit codes (SPEC §3.3), the pinned origin checked before anything runs, progress
bars on a terminal, and JSON on stdout."""

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
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from issuer import runtime
from issuer.context import IssuerContext
from issuer.errors import ConfigError, IssuerError
from keys import KeyError_

EXIT_OK, EXIT_NOT_VALID, EXIT_USAGE, EXIT_NOT_FOUND = 0, 1, 2, 4

err = Console(stderr=True, highlight=False, soft_wrap=True)
# Tables piped to a file or another program keep their full width.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def actor() -> str:
    """Who runs the command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True)
    sys.exit(code)


def make_app(**overrides: Any) -> Flask:
    from issuer import create_app

    try:
        return create_app(overrides)
    except ConfigError as exc:
        fail(exc.message, EXIT_USAGE)


@contextmanager
def app_session(*, require_init: bool = True, check_origin: bool = True) -> Iterator[tuple[IssuerContext, Session]]:
    """The app's context and a session, inside an app context. The database must be initialised
    and pinned to this process's origin (SPEC §3.2) unless told otherwise; typed errors become
    clean messages and exit codes."""
    from issuer.db import get_db, get_session
    from issuer.services import origin

    app = make_app()
    with app.app_context():
        try:
            ctx = runtime.of(app).ctx
            if require_init and not get_db().is_initialized():
                fail("the database is not initialised: run `certmanager init` first", EXIT_NOT_VALID)
            if require_init and check_origin:
                origin.check(get_session(), ctx)
            yield ctx, get_session()
        except IssuerError as exc:
            fail(exc.message, exc.exit_code)
        except KeyError_ as exc:
            fail(str(exc), EXIT_USAGE)
        except SQLAlchemyError as exc:
            fail(f"database error ({exc.__class__.__name__}): is CERTMANAGER_DATABASE_URL reachable?", EXIT_NOT_VALID)
        finally:
            get_session().close()
            get_db().dispose()


def emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2))


def progress_bar(label: str) -> tuple[Progress | None, Callable[[int, int], None] | None]:
    """A progress bar on stderr when it is a terminal (and a function to move it), else nothing."""
    if not err.is_terminal:
        return None, None
    bar = Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err, transient=True
    )
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


def short_id(ctx: IssuerContext, ref: str) -> str:
    """A credential id from an id or its full URL."""
    prefix = ctx.credential_url("")
    return ref[len(prefix) :] if ref.startswith(prefix) else ref
