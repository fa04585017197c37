"""The candidate's 'Profile' (SPEC §5.1): every field but the name, saved by 'Update/Confirm';
a new e-mail address needs the current password and takes effect once the link sent to it is
followed; a password change ends the other sessions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from issuer.db import get_session
from issuer.models import Candidate
from issuer.services import accounts
from issuer.web import issuer_context
from issuer.web.auth import COOKIE, client, current_candidate, login_required

bp = Blueprint("profile", __name__)


def _values(candidate: Candidate) -> dict[str, str]:
    values = {field: getattr(candidate, field) or "" for field in accounts.PROFILE_FIELDS}
    values["email"] = candidate.email
    return values


def _page(candidate: Candidate, status: int = 200, **context: Any) -> Response:
    context.setdefault("values", _values(candidate))
    html = render_template(
        "portal/profile.html",
        candidate=candidate,
        pending=accounts.pending_email(get_session(), candidate, issuer_context().clock()),
        countries=accounts.countries(),
        minimum=accounts.PASSWORD_MIN,
        recommended=accounts.PASSWORD_RECOMMENDED,
        maximum=accounts.PASSWORD_MAX,
        **context,
    )
    return make_response(html, status)


@bp.get("/profile")
@login_required
def profile() -> Response:
    return _page(current_candidate())


@bp.post("/profile")
@login_required
def update() -> Response:
    candidate = current_candidate()
    form = {field: request.form.get(field) for field in accounts.PROFILE_FIELDS}
    email = request.form.get("email")
    submitted = {**_values(candidate), **{k: v for k, v in form.items() if v is not None}}
    if email is not None:
        submitted["email"] = email
    try:
        changed = accounts.update_profile(
            get_session(),
            issuer_context(),
            candidate,
            form,
            issuer_context().clock(),
            email=email,
            current_password=request.form.get("current_password"),
            client=client(),
            client_ip=request.remote_addr,
        )
    except accounts.InvalidProfile as exc:
        return _page(candidate, 400, values=submitted, errors=exc.errors)
    except accounts.CurrentPasswordIncorrect as exc:
        return _page(candidate, 400, values=submitted, errors={"current_password": exc.message})
    except accounts.EmailUnavailable as exc:
        return _page(candidate, 409, values=submitted, errors={"email": exc.message})
    except accounts.LoginThrottled as exc:
        response = _page(candidate, 429, values=submitted, errors={"current_password": exc.message})
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if "email_requested" in changed:
        flash(
            f"Your profile is saved. We sent a link to {email.strip() if email else ''}: your e-mail address "
            "changes when you follow it."
        )
    else:
        flash("Your profile is saved.")
    return redirect(url_for("profile.profile"), code=303)


@bp.post("/profile/password")
@login_required
def change_password() -> Response:
    candidate = current_candidate()
    try:
        accounts.change_password(
            get_session(),
            issuer_context(),
            candidate,
            request.form.get("current_password", ""),
            request.form.get("password", ""),
            issuer_context().clock(),
            confirm=request.form.get("confirm", ""),
            keep_session=request.cookies.get(COOKIE),
            client=client(),
            client_ip=request.remote_addr,
        )
    except accounts.CurrentPasswordIncorrect as exc:
        return _page(candidate, 400, password_errors={"current_password": exc.message})
    except (accounts.WeakPassword, accounts.PasswordMismatch) as exc:
        return _page(candidate, 400, password_errors={"password": exc.message})
    except accounts.LoginThrottled as exc:
        response = _page(candidate, 429, password_errors={"current_password": exc.message})
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    flash("Your password is changed. Your other sessions were logged out.")
    return redirect(url_for("profile.profile"), code=303)


@bp.post("/profile/sessions")
@login_required
def log_out_everywhere() -> Response:
    """'Log out everywhere': every other session of the account ends."""
    ended = accounts.log_out_everywhere(
        get_session(),
        current_candidate(),
        issuer_context().clock(),
        keep_session=request.cookies.get(COOKIE),
        client_ip=request.remote_addr,
    )
    flash(f"You are logged out everywhere else ({ended} other session{'s' if ended != 1 else ''} ended).")
    return redirect(url_for("profile.profile"), code=303)
