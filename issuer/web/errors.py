"""Errors for people (HTML) and for API clients (problem+json), each with a stable code.
No stack trace ever reaches a client."""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from sqlalchemy.exc import DataError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from issuer.errors import IssuerError
from keys import KeyError_
from verifier.http import problem

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    return best in ("application/json", "application/problem+json")


def render_error(status: int, code: str, title: str, detail: str) -> Response:
    if wants_json():
        response = problem(status, code, title, detail)
    else:
        html = render_template("error.html", status=status, code=code, title=title, detail=detail)
        response = Response(html, status=status, mimetype="text/html")
    if status == 503:
        response.headers["Retry-After"] = "5"
    if request.path.startswith("/api/") or request.path.startswith("/c/") or request.path.startswith("/status/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(IssuerError)
    def _issuer_error(exc: IssuerError) -> Response:
        titles = {404: "Not found", 409: "Conflict", 503: "Service unavailable"}
        return render_error(exc.http_status, exc.code, titles.get(exc.http_status, "Bad request"), exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_CODES.get(status, f"http_{status}")
        detail = exc.description or ""
        if status == 413:
            detail = "The request body is larger than this endpoint accepts."
        if status == 429:
            detail = "Too many requests from this address; slow down and try again shortly."
        response = render_error(status, code, exc.name, detail)
        for name, value in exc.get_headers():
            if name in ("Retry-After", "Allow"):
                response.headers[name] = value
        return response

    @app.errorhandler(DataError)
    def _bad_value(exc: DataError) -> Response:
        # The database refused a value (e.g. a NUL byte): bad input, not an outage.
        log.warning("database refused a value: %s", exc.__class__.__name__)
        return render_error(400, "invalid_input", "Bad request", "Something in the request cannot be stored.")

    @app.errorhandler(SQLAlchemyError)
    def _database_down(exc: SQLAlchemyError) -> Response:
        log.warning("database error: %s", exc.__class__.__name__)
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

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(
            500, "internal_error", "Something went wrong", "An unexpected error occurred. It has been logged."
        )
