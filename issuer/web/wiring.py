"""Everything the issuer serves, registered once: the verifier host with the verify API and
pages, the shared error handling and headers, the issuer's own errors, and its blueprints."""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError

from issuer.db import get_session
from issuer.runtime import Runtime
from issuer.services import origin
from issuer.web import auth, credentials, errors, portal, profile, public
from issuer.web.host import IssuerHost
from verifier import web as verifier_web
from verifier.http import api
from verifier.pages import pages

log = logging.getLogger(__name__)


def init_app(app: Flask, runtime: Runtime) -> None:
    settings = runtime.ctx.settings
    csrf = CSRFProtect(app)
    verifier_web.init_app(
        app,
        IssuerHost(runtime),
        https=settings.base_url.startswith("https://"),
        trusted_proxies=settings.trusted_proxies,
    )
    errors.init_app(app)
    # Public routes set no cookies and take no CSRF token (SPEC §3.4).
    for blueprint in (api, pages, public.bp, credentials.bp):
        csrf.exempt(blueprint)
    app.register_blueprint(public.bp)
    app.register_blueprint(credentials.bp)
    auth.init_app(app)  # the portal's login pages, header context and CSRF error page
    app.register_blueprint(profile.bp)
    app.register_blueprint(portal.bp)
    app.context_processor(lambda: {"ctx": runtime.ctx})
    _guard_origin(app, runtime)


def _guard_origin(app: Flask, runtime: Runtime) -> None:
    """Serve nothing with an origin the database does not belong to (SPEC §3.2). Checked on the
    first request that reaches the database — it may be unreachable when the server starts —
    and then never again in this process."""
    checked = False

    @app.before_request
    def _check() -> Response | None:
        nonlocal checked
        if checked or request.path == "/healthz":
            return None
        try:
            origin.check(get_session(), runtime.ctx)
        except origin.OriginMismatch as exc:
            log.error("refusing to serve: %s", exc.message)
            return verifier_web.render_error(
                503, exc.code, "Temporarily unavailable", "This service is not configured correctly yet."
            )
        except SQLAlchemyError:
            return None  # the request answers 503 by itself; the origin is checked again next time
        checked = True
        return None
