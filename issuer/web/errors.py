"""The issuer's own failures as responses, on top of the shared error handling of
`verifier.web` (HTML for people, problem+json for API clients, a stable `code`, never a stack
trace): typed service errors, a database that is down or refuses a value, unusable keys."""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from sqlalchemy.exc import (
    DataError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from issuer.errors import IssuerError
from keys import KeyError_
from verifier.web import render_error, route_of

log = logging.getLogger(__name__)
# The database cannot be reached or dropped the connection: try again, not a bug.
OUTAGES = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
_TITLES = {401: "Log in needed", 404: "Not found", 409: "Conflict", 410: "Gone", 429: "Too many requests"}


def error_page(status: int, code: str, title: str, detail: str) -> str:
    """The issuer's HTML error page (the portal layout)."""
    return render_template("error.html", status=status, code=code, title=title, detail=detail)


def init_app(app: Flask) -> None:
    @app.errorhandler(IssuerError)
    def _issuer_error(exc: IssuerError) -> Response:
        title = _TITLES.get(exc.http_status, "Service unavailable" if exc.http_status == 503 else "Bad request")
        return render_error(exc.http_status, exc.code, title, exc.message)

    @app.errorhandler(DataError)
    def _bad_value(exc: DataError) -> Response:
        # The database refused a value (e.g. a NUL byte): bad input, not an outage.
        log.warning("database refused a value: %s", exc.__class__.__name__)
        return render_error(400, "invalid_input", "Bad request", "Something in the request cannot be stored.")

    @app.errorhandler(IntegrityError)
    def _collided(exc: IntegrityError) -> Response:
        # Another request wrote the same thing at the same moment; nothing of this one was kept.
        log.warning("write collided on %s: %s", route_of(), exc.__class__.__name__)
        return render_error(409, "conflict", "Conflict", "Something changed at the same moment. Please try again.")

    @app.errorhandler(SQLAlchemyError)
    def _database_error(exc: SQLAlchemyError) -> Response:
        if not isinstance(exc, OUTAGES):  # our own SQL is wrong: a bug, logged as one
            log.exception("database error on %s %s", request.method, route_of())
            return render_error(
                500, "internal_error", "Something went wrong", "An unexpected error occurred. It has been logged."
            )
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return render_error(
            503,
            "database_unavailable",
            "Temporarily unavailable",
            "We cannot reach our records right now. Please try again in a moment.",
        )

    @app.errorhandler(KeyError_)
    def _keys_unusable(exc: KeyError_) -> Response:
        log.error("signing keys unusable: %s", exc.code)
        return render_error(
            503,
            "signing_unavailable",
            "Temporarily unavailable",
            "Signing is unavailable on this server; the operator has been told.",
        )
