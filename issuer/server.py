"""Production serving: gunicorn embedded, after a preflight that fails with a clear message."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from sqlalchemy.exc import SQLAlchemyError

from keys import KeyError_


def preflight(app: Flask) -> str | None:
    """A reason the app cannot serve (database, schema, key passphrase), or None."""
    from issuer.db import get_db, get_session
    from issuer.services.keyring import active_key

    try:
        if not get_db().is_initialized():
            return "the database is not initialised: run `certmanager init` first"
        record = active_key(get_session())
        if record is None:
            return "there is no active signing key: run `certmanager init`"
        app.extensions["certmanager"].signer(record)
    except KeyError_ as exc:
        return str(exc)
    except SQLAlchemyError as exc:
        return f"cannot reach the database ({exc.__class__.__name__}); check CERTMANAGER_DATABASE_URL"
    finally:
        get_session().close()
        get_db().dispose()  # never share pooled connections with forked workers
    return None


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


def run(app: Flask, *, host: str, port: int, workers: int) -> None:
    _Gunicorn(
        app,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": 4,
            "timeout": 30,
            "graceful_timeout": 10,
            "accesslog": "-",
            "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
            "errorlog": "-",
            "forwarded_allow_ips": "127.0.0.1",
        },
    ).run()
