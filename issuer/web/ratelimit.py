"""Flask-Limiter wiring: per-client-IP limits, stored in memory or Redis (shared)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from issuer.config import Settings


def init_app(app: Flask, settings: Settings) -> Limiter:
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.ratelimit_storage_url,
        default_limits=[],
        headers_enabled=True,
        strategy="moving-window",
    )
    app.extensions["certmanager.limiter"] = limiter
    return limiter


def verify_limit(settings: Settings) -> str:
    return settings.ratelimit_verify if settings.ratelimit_verify != "0" else "1000000/second"


def verify_exempt(settings: Settings) -> Callable[[], bool]:
    """Exempt everything when the limit is `0`, and always CORS preflights (a 429 on a preflight
    reaches the page as an unreadable CORS failure)."""
    off = settings.ratelimit_verify.strip() == "0"
    return lambda: off or request.method == "OPTIONS"
