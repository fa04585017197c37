"""The host application: app factory, configuration, database, services, pages and CLI."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `config` may hold `settings` (a Settings), `clock`, or Settings overrides."""
    from flask_wtf.csrf import CSRFProtect
    from sqlalchemy.exc import SQLAlchemyError
    from werkzeug.middleware.proxy_fix import ProxyFix

    from issuer.catalog import load_catalog
    from issuer.config import Settings, load_settings
    from issuer.context import IssuerContext, utcnow
    from issuer.db import Database, get_session, init_app
    from issuer.services.verification import LocalVerification
    from issuer.web import auth, credentials, errors, portal, profile, public, security
    from issuer.web.sessions import LazyCookieSessionInterface
    from verifier.http import VerifierUnavailable, api
    from verifier.pages import pages
    from verifier.ratelimit import RateLimit

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
    ctx = IssuerContext(settings, load_catalog(settings.catalog_path), clock)
    if settings.trusted_proxies:
        # Behind a load balancer: the client address (rate limits, throttles) and the scheme
        # come from the proxies' headers, for exactly as many hops as are trusted.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    app.session_interface = LazyCookieSessionInterface()
    app.extensions["certmanager"] = ctx
    init_app(app, Database(settings.database_url))

    local = LocalVerification(ctx)

    def verify_token(token: str) -> Any:
        try:
            return local.verify(get_session(), token, now=ctx.clock())
        except SQLAlchemyError as exc:
            raise VerifierUnavailable("the issuer's database is unreachable; try again shortly") from exc

    app.extensions["certmanager.verification"] = local
    app.extensions["verifier.verify"] = verify_token
    app.extensions["verifier.clock"] = ctx.clock
    app.extensions["verifier.resolve_link"] = credentials.resolve_link
    app.extensions["verifier.trusted_issuers"] = (settings.base_url,)

    csrf = CSRFProtect(app)
    app.extensions["verifier.ratelimit"] = RateLimit(settings.ratelimit_verify, settings.ratelimit_storage_url)
    for blueprint in (api, pages, public.bp, credentials.bp):
        csrf.exempt(blueprint)
        app.register_blueprint(blueprint)
    auth.init_app(app)  # portal login: blueprint, throttle, header context (CSRF-protected)
    app.register_blueprint(profile.bp)
    app.register_blueprint(portal.bp)
    app.context_processor(lambda: {"ctx": ctx})
    errors.init_app(app)
    security.init_app(app)
    return app
