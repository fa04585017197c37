"""The issuer as the verifier's host (`verifier.host.VerifierHost`): verification against its
own database, its own credential links resolved by id, its own error pages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from issuer.runtime import Runtime
from issuer.web import credentials, errors
from verifier.host import ResolvedLink, VerifierUnavailable
from verifier.ratelimit import RateLimit
from verifier.result import VerificationResult


class IssuerHost:
    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.ctx.settings
        self._runtime = runtime
        self._limit = RateLimit(settings.ratelimit_verify, settings.ratelimit_storage_url, workers=settings.workers)
        self.trusted_issuers = (settings.base_url,)

    def now(self) -> datetime:
        return self._runtime.ctx.clock()

    def verify(self, token: str) -> VerificationResult:
        try:
            return self._runtime.verification.verify(token, now=self.now())
        except SQLAlchemyError as exc:
            raise VerifierUnavailable("the issuer's database is unreachable; try again shortly") from exc

    def resolve_link(self, url: str) -> ResolvedLink:
        try:
            return credentials.resolve_link(url)
        except SQLAlchemyError as exc:
            raise VerifierUnavailable("the issuer's database is unreachable; try again shortly") from exc

    def check_rate(self, scope: str, client: str) -> None:
        self._limit.check(scope, client)

    def error_page(self, status: int, code: str, title: str, detail: str) -> str:
        return errors.error_page(status, code, title, detail)
