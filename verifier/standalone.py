"""The stand-alone verifier: no issuer database; trusts issuers by base URL and fetches their
key sets and status lists over HTTP (SPEC §4). `create_verifier_app` is its factory."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, redirect, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from verifier.core import Verifier
from verifier.fetch import Fetcher, FetchError
from verifier.http import VerifierUnavailable, api, json_response, problem
from verifier.pages import LinkNotResolvable, ResolvedLink, normalize_link, pages
from verifier.ratelimit import RateLimit
from verifier.remote import RemoteKeySource, RemoteStatusSource, TrustPolicy
from verifier.result import VerificationResult

log = logging.getLogger(__name__)
_CREDENTIAL_PATH = re.compile(r"^/c/([A-Za-z0-9]{22,64})(\.jwt)?$")
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_verifier_app(
    trusted: Iterable[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = _utcnow,
    fetcher: Fetcher | None = None,
) -> Flask:
    """Build the verifier. `trusted` defaults to CERTMANAGER_TRUSTED_ISSUERS. Raises ValueError."""
    env = os.environ if env is None else env
    bases = list(trusted or [])
    if not bases:
        bases = [u for u in env.get("CERTMANAGER_TRUSTED_ISSUERS", "").split(",") if u.strip()]
    if not bases:
        bases = [env.get("CERTMANAGER_BASE_URL", "http://127.0.0.1:5000")]
    trust = TrustPolicy(bases)
    fetcher = fetcher or Fetcher()
    keys = RemoteKeySource(trust, fetcher)
    verifier = Verifier(keys, RemoteStatusSource(trust, fetcher, keys))

    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=8 * 1024 * 1024, JSON_SORT_KEYS=False)
    proxies = int(env.get("CERTMANAGER_TRUSTED_PROXIES", "0") or 0)
    if proxies > 0:  # behind a load balancer: rate limits see the real client
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    def verify(token: str) -> VerificationResult:
        return verifier.verify(token, now=clock())

    def resolve_link(url: str) -> ResolvedLink:
        link = normalize_link(url)
        base = trust.base_of_url(link)
        match = _CREDENTIAL_PATH.match(link[len(base) :]) if base else None
        if base is None or match is None:
            raise LinkNotResolvable(
                "Only links to credential pages of the issuers this verifier trusts can be checked."
            )
        try:
            fetched = fetcher.get(f"{base}/c/{match.group(1)}", accept="application/vc+jwt")
        except FetchError as exc:
            raise VerifierUnavailable(f"the issuer cannot be reached: {exc.detail}") from exc
        if fetched.status == 404:
            raise LinkNotResolvable(
                "The issuer has no credential at this link.", status=404, code="credential_not_found"
            )
        if fetched.status != 200:
            raise VerifierUnavailable(f"the issuer answered HTTP {fetched.status}")
        try:
            return ResolvedLink(token=fetched.body.decode("ascii").strip())
        except UnicodeDecodeError:
            raise LinkNotResolvable("The issuer did not return a credential at this link.") from None

    app.extensions.update(
        {
            "verifier.verify": verify,
            "verifier.clock": clock,
            "verifier.resolve_link": resolve_link,
            "verifier.trusted_issuers": trust.bases,
        }
    )
    app.extensions["verifier.ratelimit"] = RateLimit(
        env.get("CERTMANAGER_RATELIMIT_VERIFY", "").strip() or "300/minute",
        env.get("CERTMANAGER_RATELIMIT_STORAGE_URL", "").strip() or "memory://",
    )
    app.register_blueprint(api)
    app.register_blueprint(pages)
    app.context_processor(lambda: {"trusted_issuers": trust.bases})

    @app.get("/")
    def home() -> Any:
        return redirect("/verify")

    @app.get("/healthz")
    def healthz() -> Response:
        return json_response({"status": "ok", "trusted_issuers": list(trust.bases)})

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_CODES.get(status, f"http_{status}")
        response = _error(status, code, exc.name, exc.description or "")
        for name, value in exc.get_headers():
            if name in ("Retry-After", "Allow"):
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error(
            500, "internal_error", "Something went wrong", "An unexpected error occurred. It has been logged."
        )

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if response.mimetype == "text/html":
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
                "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
            )
        return response

    return app


def _error(status: int, code: str, title: str, detail: str) -> Response:
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    if request.path.startswith("/api/") or best in ("application/json", "application/problem+json"):
        response = problem(status, code, title, detail)
    else:
        html = render_template("verifier/error.html", status=status, code=code, title=title, detail=detail)
        response = Response(html, status=status, mimetype="text/html")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
