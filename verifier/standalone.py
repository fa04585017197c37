"""The stand-alone verifier: no issuer database; trusts issuers by base URL and fetches their
key sets and status lists over HTTP (SPEC §4). `create_verifier_app` is its factory."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, redirect

from verifier.core import Verifier
from verifier.fetch import Fetcher, FetchError
from verifier.host import LinkNotResolvable, ResolvedLink, VerifierUnavailable
from verifier.pages import normalize_link
from verifier.ratelimit import RateLimit
from verifier.remote import RemoteKeySource, RemoteStatusSource, TrustPolicy
from verifier.responses import json_response
from verifier.result import VerificationResult
from verifier.settings import VerifierSettings, verifier_settings
from verifier.web import init_app, verifier_error_page

_CREDENTIAL_PATH = re.compile(r"^/c/([A-Za-z0-9]{22,64})(\.jwt)?$")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RemoteHost:
    """The verifier host over HTTP: the trusted issuers' published keys and status lists."""

    def __init__(self, settings: VerifierSettings, fetcher: Fetcher, clock: Callable[[], datetime]) -> None:
        self._trust = TrustPolicy(settings.trusted_issuers)
        self._fetcher = fetcher
        self._clock = clock
        keys = RemoteKeySource(self._trust, fetcher)
        self._verifier = Verifier(keys, RemoteStatusSource(self._trust, fetcher, keys))
        self._limit = RateLimit(settings.ratelimit_verify, settings.ratelimit_storage_url, workers=settings.workers)

    @property
    def trusted_issuers(self) -> tuple[str, ...]:
        return self._trust.bases

    def now(self) -> datetime:
        return self._clock()

    def verify(self, token: str) -> VerificationResult:
        return self._verifier.verify(token, now=self._clock())

    def check_rate(self, scope: str, client: str) -> None:
        self._limit.check(scope, client)

    def error_page(self, status: int, code: str, title: str, detail: str) -> str:
        return verifier_error_page(status, code, title, detail)

    def resolve_link(self, url: str) -> ResolvedLink:
        link = normalize_link(url)
        base = self._trust.base_of_url(link)
        if base is None:
            raise LinkNotResolvable(
                "Only links to credential pages of the issuers this verifier trusts can be checked."
            )
        match = _CREDENTIAL_PATH.match(link[len(base) :])
        if match is None:
            raise LinkNotResolvable(
                "The issuer has no credential at this link.", status=404, code="credential_not_found"
            )
        try:
            fetched = self._fetcher.get(f"{base}/c/{match.group(1)}", accept="application/vc+jwt")
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


def create_verifier_app(
    settings: VerifierSettings | None = None,
    *,
    clock: Callable[[], datetime] = _utcnow,
    fetcher: Fetcher | None = None,
) -> Flask:
    """Build the verifier (settings default to the environment). Raises SettingsError or ValueError."""
    settings = settings or verifier_settings()
    host = RemoteHost(settings, fetcher or Fetcher(), clock)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=8 * 1024 * 1024, JSON_SORT_KEYS=False)
    # Its own origin is not configured: HSTS follows the scheme each request arrived on.
    init_app(app, host, https=False, trusted_proxies=settings.trusted_proxies)

    @app.get("/")
    def home() -> Any:
        return redirect("/verify")

    @app.get("/healthz")
    def healthz() -> Response:
        return json_response({"status": "ok", "trusted_issuers": list(host.trusted_issuers)})

    return app
