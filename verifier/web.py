"""What every app serving the verifier shares, installed once by `init_app`: the host, the verify
API and pages, one error renderer (an HTML page for people, problem+json for API clients, each
with a stable `code`, never a stack trace), one security-header policy, a request body that can
never crash a view, and the trusted-proxy setting."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Flask, Response, render_template, request
from flask.globals import request_ctx
from markupsafe import escape
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from verifier.host import EXTENSION, VerifierHost, current_host
from verifier.http import api
from verifier.pages import pages
from verifier.responses import problem, wants_json

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}
# One policy for every page of both apps: our own scripts and styles only; images from us,
# data: URIs (QR codes) and blob: (camera frames); the camera preview is a blob: media stream.
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HSTS = "max-age=31536000"
# Same-origin requests keep their Referer (CSRF checks over HTTPS need it); nothing leaks to
# the sites that share links point to.
REFERRER_POLICY = "same-origin"


def init_app(app: Flask, host: VerifierHost, *, https: bool, trusted_proxies: int) -> None:
    """Register `host`, mount the verify API and pages, and install the shared error handling
    and response headers."""
    app.extensions[EXTENSION] = host
    app.register_blueprint(api)
    app.register_blueprint(pages)
    _install_errors(app)
    _install_headers(app, https=https)
    app.wsgi_app = SafeBody(app.wsgi_app)  # type: ignore[method-assign]
    if trusted_proxies > 0:
        # Behind a load balancer: the client address (rate limits, throttles) and the scheme
        # come from the proxies' headers, for exactly as many hops as are trusted.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted_proxies, x_proto=trusted_proxies)  # type: ignore[method-assign]


def verifier_error_page(status: int, code: str, title: str, detail: str) -> str:
    """The stand-alone verifier's HTML error page."""
    return render_template("verifier/error.html", status=status, code=code, title=title, detail=detail)


def render_error(status: int, code: str, title: str, detail: str) -> Response:
    """The error as problem+json for API clients, as the host's HTML page for people."""
    if wants_json():
        response = problem(status, code, title, detail)
    else:
        # Without a URL adapter (a Host header no URL can carry) the layout cannot build its
        # links: a page of its own, with nothing to link to.
        page = current_host().error_page if request_ctx.url_adapter is not None else _bare_page
        response = Response(page(status, code, title, detail), status=status, mimetype="text/html")
    if status == 503:
        response.headers.setdefault("Retry-After", "5")
    if request.path.startswith(("/api/", "/c/", "/status/", "/keys/", "/.well-known/")):
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _bare_page(status: int, code: str, title: str, detail: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        '<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem">'
        f"<h1>{escape(title)}</h1><p>{escape(detail)}</p><p><small>{status} · {escape(code)}</small></p>"
        "</body></html>"
    )


def route_of() -> str:
    """The matched route's pattern (`/reset/<token>`), for logs: never the path, which may hold a
    live token or personal data."""
    rule = request.url_rule
    return rule.rule if rule is not None else "(no route)"


def _install_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        detail = exc.description or ""
        if status == 413:
            detail = "The request body is larger than this endpoint accepts."
        elif status == 429:
            detail = "Too many requests from this address; slow down and try again shortly."
        response = render_error(status, HTTP_CODES.get(status, f"http_{status}"), exc.name, detail)
        for name, value in exc.get_headers():
            if name in ("Retry-After", "Allow"):
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, route_of())
        return render_error(
            500, "internal_error", "Something went wrong", "An unexpected error occurred. It has been logged."
        )


def _install_headers(app: Flask, *, https: bool) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", REFERRER_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
        if https or request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", CSP)
        return response


class _SafeInput:
    """`wsgi.input` whose read errors are a 400: a malformed body (a bad chunk size, a broken
    chunk terminator) is the client's mistake, whatever exception the server raises for it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _guard(self, read: Callable[..., Any], *args: Any) -> Any:
        try:
            return read(*args)
        except Exception as exc:  # noqa: BLE001 - servers raise their own types for a malformed body
            raise BadRequest("The request body is malformed.") from exc

    def read(self, *args: Any) -> bytes:
        data: bytes = self._guard(self._stream.read, *args)
        return data

    def readline(self, *args: Any) -> bytes:
        line: bytes = self._guard(self._stream.readline, *args)
        return line

    def readlines(self, *args: Any) -> list[bytes]:
        lines: list[bytes] = self._guard(self._stream.readlines, *args)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


class SafeBody:
    """WSGI middleware wrapping `wsgi.input` in `_SafeInput`."""

    def __init__(self, app: Callable[[dict[str, Any], Any], Iterable[bytes]]) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        stream = environ.get("wsgi.input")
        if stream is not None:
            environ["wsgi.input"] = _SafeInput(stream)
        return self._app(environ, start_response)
