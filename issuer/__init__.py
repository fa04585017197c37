"""The host application: app factory, configuration, database, services, pages and CLI."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `config` may hold `settings` (a Settings), `clock`, or Settings overrides."""
    from issuer import db, runtime
    from issuer.catalog import load_catalog
    from issuer.config import Settings, load_settings
    from issuer.context import IssuerContext, utcnow
    from issuer.services.verification import LocalVerification
    from issuer.web import wiring
    from issuer.web.sessions import LazyCookieSessionInterface

    config = dict(config or {})
    clock: Callable[[], datetime] = config.pop("clock", utcnow)
    settings = config.pop("settings", None)
    if not isinstance(settings, Settings):
        settings = load_settings(**config)

    app = Flask(__name__, instance_path=str(settings.instance_dir), instance_relative_config=False)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        JSON_SORT_KEYS=False,
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.session_interface = LazyCookieSessionInterface()
    ctx = IssuerContext(settings, load_catalog(settings.catalog_path), clock)
    database = db.Database(settings.database_url)
    db.init_app(app, database)
    state = runtime.Runtime(ctx, LocalVerification(ctx, database))
    runtime.init_app(app, state)
    wiring.init_app(app, state)
    return app
