"""The portal's authentication (SPEC §3.4, §5.1; SECURITY A4): /login, /logout, /first-login,
/forgot, /reset/<token> and /confirm-email/<token>; the `cm_session` cookie; login throttling; and the `login_required`
decorator and `current_candidate()` helper the other portal pages use."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from issuer.db import get_session
from issuer.models import Candidate
from issuer.services import accounts
from issuer.web import issuer_context
from verifier.http import client_key
from verifier.responses import wants_json
from verifier.web import render_error

bp = Blueprint("auth", __name__)

COOKIE = "cm_session"
# The portal's top navigation, shown only for endpoints that exist in this app.
NAV = (
    ("profile.profile", "Profile"),
    ("portal.exams", "Exams"),
    ("portal.certifications", "Certifications"),
    ("portal.transcripts", "Publish Credentials"),
)

F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    """Register the blueprint, the header context and the CSRF error page."""
    app.register_blueprint(bp)
    app.context_processor(_portal_context)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> Response:
        return render_error(
            400,
            "csrf_invalid",
            "Form expired",
            "This form has expired or was not sent from our site. Go back, reload the page and try again.",
        )


def client() -> str:
    """Whom per-client throttles count (an IPv6 /64 counts as one client)."""
    return client_key()


# --- the logged-in candidate -----------------------------------------------------------------


def _load_candidate() -> Candidate | None:
    if "cm_candidate" not in g:
        token = request.cookies.get(COOKIE)
        g.cm_candidate = accounts.load_session(get_session(), token, issuer_context().clock()) if token else None
    candidate: Candidate | None = g.cm_candidate
    return candidate


def current_candidate() -> Candidate:
    """The logged-in candidate (loaded once per request); raises LoginRequired without a live session."""
    candidate = _load_candidate()
    if candidate is None:
        raise accounts.LoginRequired()
    return candidate


def login_required(view: F) -> F:
    """Only for a live session: browsers go to /login?next=…, API clients get 401 problem+json."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Response:
        if _load_candidate() is None:
            if wants_json():
                raise accounts.LoginRequired()
            target = request.full_path.rstrip("?") if request.method == "GET" else request.path
            response = redirect(url_for("auth.login", next=target))
            if COOKIE in request.cookies:
                _clear_cookie(response)
            return response
        response = make_response(view(*args, **kwargs))
        response.headers.setdefault("Cache-Control", "no-store")
        response.vary.add("Cookie")
        return response

    return wrapped  # type: ignore[return-value]


def _portal_context() -> dict[str, Any]:
    # Only what this request already loaded: public pages never touch the session table.
    candidate = g.get("cm_candidate")
    nav = [(endpoint, label) for endpoint, label in NAV if endpoint in current_app.view_functions] if candidate else []
    return {
        "portal_candidate": candidate,
        "portal_nav": nav,
        "portal_login": "auth.login" in current_app.view_functions,
    }


def _set_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=issuer_context().settings.base_url.startswith("https://"),
        path="/",
    )


def _clear_cookie(response: Response) -> None:
    response.delete_cookie(
        COOKIE,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=issuer_context().settings.base_url.startswith("https://"),
    )


def safe_next(value: str | None) -> str | None:
    """`value` if it is a path on this site (no scheme, no host, no `//`), else None."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        return None
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else None


def landing_url() -> str:
    """Where a login lands: Certifications when that page exists, else Profile."""
    try:
        return url_for("portal.certifications")
    except BuildError:
        return url_for("profile.profile")


def _page(template: str, status: int = 200, **context: Any) -> Response:
    response = make_response(render_template(template, **context), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _throttled(template: str, exc: accounts.LoginThrottled, **context: Any) -> Response:
    response = _page(template, 429, error=exc.message, **context)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


# --- pages -----------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if _load_candidate() is not None:  # already logged in
            return redirect(next_url or landing_url(), code=303)
        return _page("portal/login.html", next=next_url, identifier="")
    identifier = request.form.get("identifier", "")[:320]
    password = request.form.get("password", "")
    db, ctx = get_session(), issuer_context()
    now = ctx.clock()
    try:
        candidate = accounts.log_in(db, ctx, identifier, password, now, client=client(), client_ip=request.remote_addr)
    except accounts.LoginThrottled as exc:
        return _throttled("portal/login.html", exc, next=next_url, identifier=identifier)
    except accounts.InvalidCredentials as exc:
        return _page("portal/login.html", 401, error=exc.message, next=next_url, identifier=identifier)
    token = accounts.open_session(
        db, candidate, now, user_agent=request.user_agent.string, replaces=request.cookies.get(COOKIE)
    )
    session.clear()  # a fresh CSRF token too (session fixation)
    response = redirect(next_url or landing_url(), code=303)
    _set_cookie(response, token)
    return response


@bp.post("/logout")
def logout() -> Response:
    token = request.cookies.get(COOKIE)
    if token:
        accounts.end_session(get_session(), token, issuer_context().clock(), client_ip=request.remote_addr)
    session.clear()
    flash("You have logged out.")
    response = redirect(url_for("auth.login"), code=303)
    _clear_cookie(response)
    return response


@bp.route("/first-login", methods=["GET", "POST"])
def first_login() -> Response:
    return _link_request("portal/first_login.html", accounts.start_first_login)


@bp.route("/forgot", methods=["GET", "POST"])
def forgot() -> Response:
    return _link_request("portal/forgot.html", accounts.start_reset)


def _link_request(template: str, start: Callable[..., None]) -> Response:
    # The answer is the same whether or not the address belongs to an account (ASVS 6.3.8).
    if request.method == "GET":
        return _page(template, email="")
    email = request.form.get("email", "").strip()[:320]
    if not email:
        return _page(template, 400, error="Enter your e-mail address.", email="")
    ctx = issuer_context()
    try:
        start(get_session(), ctx, email, ctx.clock(), client=client(), client_ip=request.remote_addr)
    except accounts.LoginThrottled as exc:
        return _throttled(template, exc, email="")
    return _page("portal/link_sent.html", what=template.rsplit("/", 1)[-1].removesuffix(".html"))


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Response:
    db, now = get_session(), issuer_context().clock()
    try:
        candidate = accounts.token_candidate(db, token, now)
        if request.method == "GET":
            response = _page("portal/reset.html", candidate=candidate)
        else:
            accounts.complete_token(
                db,
                issuer_context(),
                token,
                request.form.get("password", ""),
                now,
                confirm=request.form.get("confirm", ""),
                client_ip=request.remote_addr,
            )
            session.clear()
            flash("Your password is set. Log in with your CertManager ID or e-mail address and your new password.")
            response = redirect(url_for("auth.login"), code=303)
    except accounts.TokenInvalid as exc:
        response = _page("portal/reset.html", 400, candidate=None, error=exc.message)
    except (accounts.WeakPassword, accounts.PasswordMismatch) as exc:
        response = _page("portal/reset.html", 400, candidate=candidate, error=exc.message)
    # The token is in the URL: never let it leak to another site through the Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/confirm-email/<token>", methods=["GET", "POST"])
def confirm_email(token: str) -> Response:
    """The link sent to a new e-mail address: a page that names the account and the address, and a
    button (a POST, so a mail scanner that opens links changes nothing) that makes the change."""
    db, now = get_session(), issuer_context().clock()
    try:
        wanted = accounts.email_confirmation(db, token, now)
        if request.method == "GET":
            response = _page("portal/confirm_email.html", wanted=wanted)
        else:
            candidate = accounts.confirm_email_change(db, issuer_context(), token, now, client_ip=request.remote_addr)
            flash(f"Your e-mail address is now {candidate.email}. Log in with it or with your CertManager ID.")
            here = _load_candidate()
            target = "profile.profile" if here is not None and here.id == candidate.id else "auth.login"
            response = redirect(url_for(target), code=303)
    except accounts.TokenInvalid as exc:
        response = _page("portal/confirm_email.html", 400, wanted=None, error=exc.message)
    except accounts.EmailUnavailable as exc:
        response = _page("portal/confirm_email.html", 409, wanted=None, error=exc.message)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response
