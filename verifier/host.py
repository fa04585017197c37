"""What the verify API and pages need from the app that hosts them, as one typed interface.

The issuer implements it over its own database; the stand-alone verifier over HTTP. A host is
registered once with `verifier.web.init_app`, which also mounts the API and the pages; views
reach it through `current_host()`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flask import current_app

from verifier.result import VerificationResult

EXTENSION = "verifier"


class VerifierUnavailable(Exception):
    """The host cannot verify right now (its database or a dependency is down)."""

    def __init__(self, detail: str, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True)
class ResolvedLink:
    """A credential link the host resolved: its signed token, and (issuer only) its page."""

    token: str
    page_url: str | None = None


class LinkNotResolvable(Exception):
    """A pasted or scanned link the host will not (or cannot) resolve; `code` is stable."""

    def __init__(self, message: str, status: int = 422, code: str = "link_not_resolvable") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class VerifierHost(Protocol):
    @property
    def trusted_issuers(self) -> tuple[str, ...]:
        """The issuer base URLs whose credentials this host verifies (shown on the pages)."""
        ...

    def now(self) -> datetime: ...

    def verify(self, token: str) -> VerificationResult:
        """Verify `token` (never raises for a bad token). Raises VerifierUnavailable."""
        ...

    def resolve_link(self, url: str) -> ResolvedLink:
        """The credential behind a pasted or scanned link. Raises LinkNotResolvable or
        VerifierUnavailable; never fetches a URL outside the trusted issuers."""
        ...

    def check_rate(self, scope: str, client: str) -> None:
        """Count one request of `client` in `scope`; raises TooManyRequests past the limit."""
        ...

    def error_page(self, status: int, code: str, title: str, detail: str) -> str:
        """The HTML of an error page for people (in the host's own layout)."""
        ...


def current_host() -> VerifierHost:
    host: VerifierHost = current_app.extensions[EXTENSION]
    return host
