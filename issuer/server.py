"""Production serving: gunicorn embedded, after a preflight that fails with a clear message; the
mail outbox delivered from the master; an access log without secrets."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from sqlalchemy.exc import SQLAlchemyError

from issuer import runtime
from issuer.errors import ConfigError, IssuerError
from keys import KeyError_

MAIL_INTERVAL = 10.0  # seconds between two passes over the mail outbox


@dataclass(frozen=True)
class Preflight:
    problem: str | None = None  # the server must not start
    warning: str | None = None  # it starts, answering 503 until this is resolved


def preflight(app: Flask) -> Preflight:
    """Whether the app can serve: mail settings, schema, the pinned origin, the key passphrase.
    A database that does not answer yet is a warning: the server starts and answers 503 until
    it does, and checks the origin then."""
    from issuer.db import get_db, get_session
    from issuer.mail_transport import transport_for
    from issuer.services import origin
    from issuer.services.keyring import active_signer

    ctx = runtime.of(app).ctx
    try:
        transport_for(ctx.settings)
    except ConfigError as exc:
        return Preflight(exc.message)
    try:
        if not get_db().is_initialized():
            return Preflight("the database is not initialised: run `certmanager init` first")
        origin.check(get_session(), ctx)
        active_signer(get_session(), ctx)  # the passphrase opens the active key
    except (KeyError_, IssuerError) as exc:
        return Preflight(exc.message if isinstance(exc, IssuerError) else str(exc))
    except SQLAlchemyError as exc:
        return Preflight(warning=f"the database does not answer ({exc.__class__.__name__}); serving 503 until it does")
    finally:
        get_session().close()
        get_db().dispose()  # never share pooled connections with forked workers
    return Preflight()


_SECRET_PATH = re.compile(r"/(reset|confirm-email)/[^/\s?#]+")


class RedactingLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger with the single-use tokens of `/reset/<token>` and `/confirm-email/<token>`
    links kept out of the access log (a log line must never be a working link)."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for name in ("r", "U", "{raw_uri}e"):
            value = atoms.get(name)
            if isinstance(value, str):
                atoms[name] = _SECRET_PATH.sub(r"/\1/[redacted]", value)
        return atoms


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


class _Log(Protocol):
    def info(self, msg: str, *args: Any) -> None: ...
    def exception(self, msg: str, *args: Any) -> None: ...


class _ForkGuard:
    """Keeps `os.fork()` (gunicorn spawning a worker) out of a delivery pass. A worker forked while
    the pass had the database open would inherit that connection's state: SQLite's in-process
    locks (the worker then hangs on its first query) or a PostgreSQL socket."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._installed = False

    def install(self) -> None:
        if self._installed:
            return
        # Looked up at each fork, so a child gets a fresh lock and can fork in its turn.
        os.register_at_fork(
            before=lambda: self.lock.acquire(),
            after_in_parent=lambda: self.lock.release(),
            after_in_child=self._reset,
        )
        self._installed = True

    def _reset(self) -> None:
        self.lock = threading.Lock()


_fork_guard = _ForkGuard()


class MailLoop:
    """Delivers the outbox every `interval` seconds from a daemon thread, with its own app context
    and database engine (never the app's pool, which forked workers inherit)."""

    def __init__(self, app: Flask, *, interval: float = MAIL_INTERVAL) -> None:
        from issuer.mail_transport import transport_for

        self._app = app
        self._interval = interval
        self._transport = transport_for(runtime.of(app).ctx.settings)  # ConfigError now, not later
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, log: _Log) -> None:
        """Start the thread (once; later calls do nothing)."""
        if self._thread is not None:
            return
        _fork_guard.install()
        self._thread = threading.Thread(target=self._run, args=(log,), name="certmanager-mail", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to end after its current pass and wait up to `timeout` s for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, log: _Log) -> None:
        from issuer.db import Database

        database = Database(runtime.of(self._app).ctx.settings.database_url)
        while not self._stop.is_set():
            busy = self.tick(database, log)
            if not busy:
                self._stop.wait(self._interval)

    def tick(self, database: Any, log: _Log) -> bool:
        """One batch; True if it was full (more may be due). A failure is logged, never raised."""
        from issuer.services.mail import BATCH, deliver_due

        ctx = runtime.of(self._app).ctx
        with _fork_guard.lock:  # one batch at a time, so a worker waits for one batch at most
            try:
                with self._app.app_context(), database.session() as session:
                    report = deliver_due(session, ctx, now=ctx.clock(), transport=self._transport, limit=BATCH)
                if report.claimed:
                    log.info("%s", report.summary())
                return bool(report.claimed == BATCH)
            except Exception:  # noqa: BLE001 - the loop must outlive any one failure (database down, bug)
                log.exception("mail delivery pass failed; retrying in %gs", self._interval)
                return False
            finally:
                database.dispose()  # no connection is left open for a worker forked between passes


def run(
    app: Flask, *, host: str, port: int, workers: int, trusted_proxies: int = 0, deliver_mail: bool | None = None
) -> None:
    """Serve `app` with gunicorn. `deliver_mail` (default: when `app` is the issuer, which has a
    database) also delivers the mail outbox from a thread of the gunicorn master. Forwarded
    headers are the app's to trust (`trusted_proxies` hops, through ProxyFix), never gunicorn's."""
    if deliver_mail is None:
        deliver_mail = "certmanager.db" in app.extensions
    hooks: dict[str, Any] = {}
    if deliver_mail:
        loop = MailLoop(app)
        # when_ready: the master has bound its sockets, before it forks workers; on_exit: shutdown.
        hooks = {"when_ready": lambda server: loop.start(server.log), "on_exit": lambda server: loop.stop()}
    _Gunicorn(
        app,
        {
            **hooks,
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": 4,
            "timeout": 30,
            "graceful_timeout": 10,
            "accesslog": "-",
            "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
            "errorlog": "-",
            "logger_class": RedactingLogger,
            # gunicorn would take X-Forwarded-Proto from loopback whatever CERTMANAGER_TRUSTED_PROXIES says.
            "secure_scheme_headers": {},
            "forwarded_allow_ips": "127.0.0.1" if trusted_proxies else "",
        },
    ).run()
