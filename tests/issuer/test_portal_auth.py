"""The portal's authentication over HTTP (SPEC §3.4, §5.1, §6; SECURITY A4): login by CertManager ID
or e-mail, 'Never logged in before?', 'Forgot Password or CertManager ID', reset links, the
`cm_session` cookie, timeouts, throttling, CSRF, the header, the 'Profile', and no cookies on
public routes."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from issuer import runtime
from issuer.db import get_session
from issuer.models import MailMessage, StatusListRecord
from issuer.services import accounts, origin
from issuer.services.accounts import login
from issuer.throttle import Rule
from issuer.web import auth
from tests.conftest import make_app
from tests.issuer.portal_support import PASSWORD, TOKEN_FIELD, Portal, use_fast_hashing


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_hashing(monkeypatch)


@pytest.fixture
def portal(app: Any, clock: Any) -> Portal:
    return Portal(app, clock)


def session_cookie(client: Any) -> str | None:
    cookie = client.get_cookie(auth.COOKIE)
    return cookie.value if cookie is not None else None


def set_cookie_headers(response: Any) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def link_token(message: MailMessage) -> str:
    match = re.search(r"/reset/([A-Za-z0-9_-]+)", message.body_text)
    assert match is not None
    return match.group(1)


def text_of(response: Any) -> str:
    return response.get_data(as_text=True)


class FormParser(HTMLParser):
    """Inputs and selects with their labels, to check that every field has a visible <label>."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []
        self.labels: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.fields.append(a.get("id") or "")
        if tag == "label" and a.get("for"):
            self.labels.add(a["for"] or "")


def assert_every_field_labelled(html: str) -> None:
    parser = FormParser()
    parser.feed(html)
    assert parser.fields
    assert all(field and field in parser.labels for field in parser.fields), (parser.fields, parser.labels)


# --- pages and vocabulary --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/first-login", "/forgot"])
def test_pages_use_the_faq_words_label_every_field_and_carry_csrf(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    html = text_of(response)
    assert TOKEN_FIELD.search(html)
    assert_every_field_labelled(html)
    assert response.headers["Cache-Control"] == "no-store"
    if path == "/login":
        assert "CertManager ID" in html
        assert "Never logged in before?" in html
        assert "Forgot Password or CertManager ID" in html
    if path == "/first-login":
        assert "By email address" in html


# --- login -----------------------------------------------------------------------------------


def test_login_by_id_and_by_email_in_any_case(portal: Portal, app: Any) -> None:
    candidate = portal.candidate()
    for identifier in (candidate.certmanager_id.lower(), candidate.email.upper()):
        client = app.test_client()
        response = portal.login(client, identifier)
        assert response.status_code == 303
        assert response.headers["Location"] == portal.landing()
        assert session_cookie(client)
        page = client.get("/profile")
        assert page.status_code == 200
        assert candidate.certmanager_id in text_of(page)
        assert client.get("/login").headers["Location"] == portal.landing()  # already logged in


@pytest.mark.parametrize("case", ["wrong_password", "unknown_id", "unknown_email", "no_password"])
def test_failed_logins_all_look_the_same(portal: Portal, app: Any, case: str) -> None:
    known = portal.candidate()
    never = portal.candidate(password=None)
    identifier, password = {
        "wrong_password": (known.certmanager_id, "not the password"),
        "unknown_id": ("JPR000000001", PASSWORD),
        "unknown_email": ("nobody@example.org", PASSWORD),
        "no_password": (never.email, PASSWORD),
    }[case]
    client = app.test_client()
    response = portal.login(client, identifier, password)
    assert response.status_code == 401
    message = "The CertManager ID or e-mail address and password do not match our records."
    assert message in text_of(response)
    assert not any(h.startswith(auth.COOKIE + "=") for h in set_cookie_headers(response))
    assert session_cookie(client) is None
    [event] = portal.audit("auth.login_failed")
    assert event.details["reason"] == {"unknown_id": "unknown_account", "unknown_email": "unknown_account"}.get(
        case, case
    )


def test_session_cookie_flags(portal: Portal, app: Any) -> None:
    candidate = portal.candidate()
    response = portal.login(app.test_client(), candidate.certmanager_id)
    [header] = [h for h in set_cookie_headers(response) if h.startswith(auth.COOKIE + "=")]
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert {"httponly", "path"} <= attributes
    assert "samesite=lax" in header.lower()
    assert "path=/" in header.lower()
    assert "secure" not in attributes  # the base URL is http://
    value = header.split(";")[0].split("=", 1)[1]
    assert len(value) >= 43  # 32 random bytes, base64url


def test_session_cookie_is_secure_behind_https(app_env: dict[str, str], clock: Any, portal: Portal) -> None:
    candidate = portal.candidate()
    https_app = make_app(app_env, clock, base_url="https://cm.example")
    with https_app.app_context():  # the database was initialised for http://cm.test
        origin.move(get_session(), runtime.of(https_app).ctx, now=clock(), actor="test")
    try:
        # Over HTTPS Flask-WTF also checks the Referer, as a browser would send it.
        https = {"base_url": "https://cm.example", "headers": {"Referer": "https://cm.example/login"}}
        response = portal.login(https_app.test_client(), candidate.certmanager_id, **https)
        assert response.status_code == 303
        [header] = [h for h in set_cookie_headers(response) if h.startswith(auth.COOKIE + "=")]
        assert "secure" in header.lower()
    finally:
        https_app.extensions["certmanager.db"].dispose()


def test_every_login_gets_a_new_session_id(portal: Portal, app: Any) -> None:
    candidate = portal.candidate()
    client = app.test_client()
    client.set_cookie(auth.COOKIE, "planted-by-an-attacker-0123456789")  # session fixation attempt
    portal.login(client, candidate.certmanager_id)
    first = session_cookie(client)
    assert first and first != "planted-by-an-attacker-0123456789"
    # Logging in again (a stale login tab) replaces the session too.
    portal.post(client, "/login", {"identifier": candidate.email, "password": PASSWORD}, form="/forgot")
    second = session_cookie(client)
    assert second and second != first
    stale = app.test_client()
    stale.set_cookie(auth.COOKIE, first)
    assert stale.get("/profile").status_code == 302  # the replaced session ended server-side


def test_logout_ends_the_session_server_side(portal: Portal, app: Any) -> None:
    candidate = portal.candidate()
    client = app.test_client()
    portal.login(client, candidate.certmanager_id)
    old = session_cookie(client)
    assert old
    response = portal.post(client, "/logout", {}, form="/profile")
    assert response.status_code == 303
    assert session_cookie(client) is None
    assert "You have logged out." in text_of(client.get("/login"))
    replay = app.test_client()
    replay.set_cookie(auth.COOKIE, old)
    response = replay.get("/profile")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert len(portal.audit("auth.logout")) == 1


def test_login_required_redirects_with_a_local_next(portal: Portal, app: Any) -> None:
    client = app.test_client()
    response = client.get("/profile")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/profile"
    candidate = portal.candidate()
    response = portal.post(
        client, "/login", {"identifier": candidate.certmanager_id, "password": PASSWORD, "next": "/profile"}
    )
    assert response.headers["Location"] == "/profile"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"])
def test_next_must_be_local(portal: Portal, app: Any, target: str) -> None:
    candidate = portal.candidate()
    response = portal.post(
        app.test_client(), "/login", {"identifier": candidate.certmanager_id, "password": PASSWORD, "next": target}
    )
    assert response.headers["Location"] == portal.landing()


def test_api_clients_get_problem_json_not_a_redirect(client: Any) -> None:
    response = client.get("/profile", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert json.loads(text_of(response))["code"] == "login_required"


# --- timeouts --------------------------------------------------------------------------------


def test_idle_timeout(portal: Portal, app: Any, clock: Any) -> None:
    candidate = portal.candidate()
    client = app.test_client()
    portal.login(client, candidate.certmanager_id)
    clock.advance(minutes=25)
    assert client.get("/profile").status_code == 200  # activity keeps it alive
    clock.advance(minutes=25)
    assert client.get("/profile").status_code == 200
    clock.advance(minutes=31)
    response = client.get("/profile")
    assert response.status_code == 302
    assert session_cookie(client) is None  # the dead cookie is cleared


def test_absolute_timeout(portal: Portal, app: Any, clock: Any) -> None:
    candidate = portal.candidate()
    client = app.test_client()
    portal.login(client, candidate.certmanager_id)
    for _ in range(28):
        clock.advance(minutes=25)
        assert client.get("/profile").status_code == 200
    clock.advance(minutes=21)  # 12 h 01 min after login
    assert client.get("/profile").status_code == 302


# --- throttling ------------------------------------------------------------------------------


def test_throttling_per_identifier_and_client_never_locks_out_others(portal: Portal, app: Any) -> None:
    candidate = portal.candidate()
    attacker = app.test_client()
    mallory = {"environ_base": {"REMOTE_ADDR": "203.0.113.7"}}
    for _ in range(5):
        assert portal.login(attacker, candidate.certmanager_id, "guess guess guess", **mallory).status_code == 401
    refused = portal.login(attacker, candidate.certmanager_id, PASSWORD, **mallory)  # even the right password
    assert refused.status_code == 429
    assert "Too many failed logins" in text_of(refused)
    assert int(refused.headers["Retry-After"]) > 0
    assert session_cookie(attacker) is None
    assert portal.audit("auth.login_failed")[-1].details["reason"] == "throttled"

    owner = app.test_client()
    allowed = portal.login(owner, candidate.email, environ_base={"REMOTE_ADDR": "198.51.100.20"})
    assert allowed.status_code == 303
    assert session_cookie(owner)


def test_throttling_per_client_across_identifiers(
    app_env: dict[str, str], clock: Any, portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(login, "LOGIN_PER_CLIENT", Rule("login-client", 3, timedelta(hours=1)))
    throttled_app = make_app(app_env, clock)
    try:
        client = throttled_app.test_client()
        here = {"environ_base": {"REMOTE_ADDR": "203.0.113.9"}}
        for n in range(3):
            assert portal.login(client, f"JPR00000000{n}", "guess guess", **here).status_code == 401
        assert portal.login(client, "JPR000000009", "guess guess", **here).status_code == 429
    finally:
        throttled_app.extensions["certmanager.db"].dispose()


def test_link_requests_are_throttled_per_address(portal: Portal, app: Any) -> None:
    client = app.test_client()
    for _ in range(3):
        assert portal.post(client, "/forgot", {"email": "someone@example.org"}).status_code == 200
    assert portal.post(client, "/forgot", {"email": "someone@example.org"}).status_code == 429
    assert portal.post(client, "/forgot", {"email": "other@example.org"}).status_code == 200


# --- 'Never logged in before?' and 'Forgot Password or CertManager ID' -------------------------


@pytest.mark.parametrize("path", ["/first-login", "/forgot"])
def test_link_pages_answer_the_same_for_any_address(portal: Portal, app: Any, path: str) -> None:
    no_password = portal.candidate(password=None)
    with_password = portal.candidate()
    answers = []
    for address in (no_password.email, with_password.email.upper(), "nobody@example.org"):
        client = app.test_client()
        response = portal.post(client, path, {"email": address})
        answers.append((response.status_code, text_of(response), sorted(set_cookie_headers(response))))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 200
    assert "If this address belongs to a CertManager account" in answers[0][1]
    sent = portal.outbox()
    assert sorted(m.to_addr for m in sent) == sorted([no_password.email, with_password.email])


def test_first_login_by_email_sets_a_password(portal: Portal, app: Any) -> None:
    candidate = portal.candidate(password=None)
    client = app.test_client()
    portal.post(client, "/first-login", {"email": candidate.email})
    [message] = portal.outbox("first_login")
    assert candidate.certmanager_id in message.body_text
    token = link_token(message)
    page = client.get(f"/reset/{token}")
    assert page.status_code == 200
    assert candidate.certmanager_id in text_of(page)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert_every_field_labelled(text_of(page))
    response = portal.post(
        client, f"/reset/{token}", {"password": "my first real passphrase", "confirm": "my first real passphrase"}
    )
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert portal.login(app.test_client(), candidate.certmanager_id, "my first real passphrase").status_code == 303
    assert len(portal.outbox("password_changed")) == 1


def test_reset_link_refuses_weak_and_mismatched_passwords(portal: Portal, app: Any) -> None:
    candidate = portal.candidate()
    client = app.test_client()
    portal.post(client, "/forgot", {"email": candidate.email})
    token = link_token(portal.outbox("password_reset")[-1])
    cases = [
        ({"password": "short", "confirm": "short"}, "at least 8 characters"),
        ({"password": "iloveyou123", "confirm": "iloveyou123"}, "common or leaked"),
        ({"password": f"x {candidate.certmanager_id}", "confirm": f"x {candidate.certmanager_id}"}, "CertManager ID"),
        ({"password": "a long new passphrase", "confirm": "a long new passphrase?"}, "not the same"),
    ]
    for data, message in cases:
        response = portal.post(client, f"/reset/{token}", data)
        assert response.status_code == 400
        assert message in text_of(response)
    assert portal.login(app.test_client(), candidate.email).status_code == 303  # unchanged


def test_reset_link_is_single_use(portal: Portal, app: Any) -> None:
    candidate = portal.candidate()
    client = app.test_client()
    portal.post(client, "/forgot", {"email": candidate.email})
    token = link_token(portal.outbox("password_reset")[-1])
    data = {"password": "a long new passphrase", "confirm": "a long new passphrase"}
    assert portal.post(client, f"/reset/{token}", data).status_code == 303
    again = client.get(f"/reset/{token}")
    assert again.status_code == 400
    assert "no longer valid" in text_of(again)
    reused = client.post(f"/reset/{token}", data={"csrf_token": portal.csrf(client, "/forgot"), **data})
    assert reused.status_code == 400


def test_reset_link_expires(portal: Portal, app: Any, clock: Any) -> None:
    candidate = portal.candidate()
    client = app.test_client()
    portal.post(client, "/forgot", {"email": candidate.email})
    token = link_token(portal.outbox("password_reset")[-1])
    clock.advance(minutes=15, seconds=1)
    assert client.get(f"/reset/{token}").status_code == 400


def test_newer_link_invalidates_the_older_one(portal: Portal, app: Any, clock: Any) -> None:
    candidate = portal.candidate()
    client = app.test_client()
    portal.post(client, "/forgot", {"email": candidate.email})
    clock.advance(minutes=2)
    portal.post(client, "/forgot", {"email": candidate.email})
    older, newer = (link_token(m) for m in portal.outbox("password_reset"))
    assert client.get(f"/reset/{older}").status_code == 400
    assert client.get(f"/reset/{newer}").status_code == 200


def test_reset_ends_other_sessions(portal: Portal, app: Any) -> None:
    candidate = portal.candidate()
    laptop = app.test_client()
    portal.login(laptop, candidate.certmanager_id)
    assert laptop.get("/profile").status_code == 200
    phone = app.test_client()
    portal.post(phone, "/forgot", {"email": candidate.email})
    token = link_token(portal.outbox("password_reset")[-1])
    portal.post(phone, f"/reset/{token}", {"password": "a long new passphrase", "confirm": "a long new passphrase"})
    assert laptop.get("/profile").status_code == 302
    assert portal.audit("auth.password_changed")[-1].details["sessions_ended"] == 1


# --- CSRF ------------------------------------------------------------------------------------


def test_posts_without_a_csrf_token_are_refused(portal: Portal, app: Any) -> None:
    # Flask-WTF ignores TESTING; set the switch explicitly so this test says what it relies on.
    app.config["WTF_CSRF_ENABLED"] = True
    candidate = portal.candidate()
    client = app.test_client()
    client.get("/login")  # a session exists, only the token is missing
    response = client.post("/login", data={"identifier": candidate.certmanager_id, "password": PASSWORD})
    assert response.status_code == 400
    assert "csrf_invalid" in text_of(response)
    assert session_cookie(client) is None
    for path in ("/forgot", "/first-login"):
        assert client.post(path, data={"email": candidate.email}).status_code == 400
    assert portal.outbox() == []

    portal.login(client, candidate.certmanager_id)
    assert client.post("/profile", data={"company": "Evil Corp"}).status_code == 400
    assert client.post("/logout").status_code == 400
    assert client.get("/profile").status_code == 200  # still logged in
    assert portal.reload(candidate).company is None


# --- header and profile ----------------------------------------------------------------------


def test_certmanager_id_top_right_and_nav_when_logged_in(portal: Portal, app: Any) -> None:
    candidate = portal.candidate()
    client = app.test_client()
    assert 'class="cm-id"' not in text_of(client.get("/login"))
    portal.login(client, candidate.certmanager_id)
    html = text_of(client.get("/profile"))
    header = html.split("</header>")[0]
    assert re.search(rf'class="cm-id">CertManager ID <strong>{candidate.certmanager_id}</strong>', header)
    nav = html.split('<nav class="portal-nav"')[1].split("</nav>")[0]
    assert 'href="/profile"' in nav and 'aria-current="page"' in nav
    for endpoint, label in auth.NAV:
        assert (f">{label}</a>" in nav) == (endpoint in app.view_functions)
    assert "Log out" in nav


def test_profile_update_persists_and_the_name_stays(portal: Portal, app: Any) -> None:
    candidate = portal.candidate()
    client = app.test_client()
    portal.login(client, candidate.certmanager_id)
    page = client.get("/profile")
    html = text_of(page)
    assert page.headers["Cache-Control"] == "no-store"
    assert "Update/Confirm" in html
    assert "government-issued photo identification" in html
    assert 'name="first_name"' not in html and 'name="last_name"' not in html
    assert_every_field_labelled(html)
    data = {
        "phone": "+1 (555) 010-7788",
        "company": "Analytical Engines Ltd",
        "job_title": "Network Engineer",
        "address": "12 Marylebone Road",
        "city": "London",
        "postal_code": "NW1 5LR",
        "country": "GB",
        "email": candidate.email,
        "first_name": "Mallory",
        "last_name": "Intruder",
    }
    response = portal.post(client, "/profile", data)
    assert response.status_code == 303
    assert "Your profile is saved." in text_of(client.get("/profile"))
    stored = portal.reload(candidate)
    assert (stored.first_name, stored.last_name) == ("Ada", "Lovelace")
    assert stored.company == "Analytical Engines Ltd"
    assert stored.country == "GB"
    assert stored.postal_code == "NW1 5LR"
    assert 'value="GB" selected' in text_of(client.get("/profile"))
    assert portal.audit("profile.changed")


def test_profile_refuses_an_unknown_country(portal: Portal, app: Any) -> None:
    candidate = portal.candidate()
    client = app.test_client()
    portal.login(client, candidate.certmanager_id)
    response = portal.post(client, "/profile", {"country": "ZZ", "company": "Kept?", "email": candidate.email})
    assert response.status_code == 400
    assert "Choose a country from the list." in text_of(response)
    assert portal.reload(candidate).company is None


def test_changing_email_needs_the_current_password_and_the_link_sent_to_the_new_address(
    portal: Portal, app: Any
) -> None:
    candidate = portal.candidate()
    client = app.test_client()
    portal.login(client, candidate.certmanager_id)
    without = portal.post(client, "/profile", {"email": "new-address@example.org"})
    assert without.status_code == 400
    assert "current password is not correct" in text_of(without)
    wrong = portal.post(client, "/profile", {"email": "new-address@example.org", "current_password": "nope"})
    assert wrong.status_code == 400
    assert portal.outbox() == []
    ok = portal.post(client, "/profile", {"email": "new-address@example.org", "current_password": PASSWORD})
    assert ok.status_code == 303
    profile = text_of(client.get("/profile"))
    assert "We sent a link to new-address@example.org" in profile
    assert "Waiting for confirmation" in profile
    assert portal.reload(candidate).email == candidate.email  # nothing changes before the link is followed
    assert portal.login(app.test_client(), "new-address@example.org").status_code == 401

    [sent] = portal.outbox("email_confirmation")
    assert sent.to_addr == "new-address@example.org"
    path = re.search(r"/confirm-email/[A-Za-z0-9_-]+", sent.body_text).group(0)  # type: ignore[union-attr]
    elsewhere = app.test_client()  # the new mailbox may be read on another device, logged out
    page = elsewhere.get(path)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert "new-address@example.org" in text_of(page) and candidate.certmanager_id in text_of(page)
    assert portal.reload(candidate).email == candidate.email  # opening the link (a mail scanner) changes nothing
    confirmed = portal.post(elsewhere, path, {})
    assert confirmed.status_code == 303 and confirmed.headers["Location"].endswith("/login")
    assert portal.reload(candidate).email == "new-address@example.org"
    [notice] = portal.outbox("email_changed")
    assert notice.to_addr == candidate.email
    assert portal.login(app.test_client(), "new-address@example.org").status_code == 303
    assert portal.login(app.test_client(), candidate.email).status_code == 401
    again = elsewhere.get(path)
    assert again.status_code == 400 and "no longer valid" in text_of(again)


def test_change_password_keeps_this_session_and_ends_the_others(portal: Portal, app: Any) -> None:
    candidate = portal.candidate()
    here, elsewhere = app.test_client(), app.test_client()
    portal.login(here, candidate.certmanager_id)
    portal.login(elsewhere, candidate.certmanager_id)
    new = "an even longer passphrase"
    data = {"current_password": PASSWORD, "password": new, "confirm": new}
    response = portal.post(here, "/profile/password", data, form="/profile")
    assert response.status_code == 303
    assert here.get("/profile").status_code == 200
    assert elsewhere.get("/profile").status_code == 302
    assert len(portal.outbox("password_changed")) == 1
    wrong = portal.post(here, "/profile/password", {**data, "current_password": "nope"}, form="/profile")
    assert wrong.status_code == 400


def test_a_session_only_ever_reaches_its_own_profile(portal: Portal, app: Any) -> None:
    alice = portal.candidate(first="Alice")
    bob = portal.candidate(first="Bob")
    client = app.test_client()
    portal.login(client, alice.certmanager_id)
    html = text_of(client.get("/profile"))
    assert alice.certmanager_id in html and bob.certmanager_id not in html and bob.email not in html
    for trick in ({"candidate_id": str(bob.id)}, {"certmanager_id": bob.certmanager_id}, {"id": str(bob.id)}):
        data = {"company": "Hijacked", "email": alice.email, **trick}
        assert portal.post(client, "/profile", data).status_code == 303
    assert portal.reload(bob).company is None
    assert portal.reload(alice).company == "Hijacked"
    html = text_of(client.get(f"/profile?candidate_id={bob.id}&certmanager_id={bob.certmanager_id}"))
    assert bob.certmanager_id not in html


# --- public routes stay cookie-free ------------------------------------------------------------


def test_public_routes_set_no_cookies_even_when_logged_in(portal: Portal, app: Any, factory: Any) -> None:
    record = factory.certified("CNA-ENT")
    candidate = portal.candidate()
    anonymous = app.test_client()
    logged_in = app.test_client()
    portal.login(logged_in, candidate.certmanager_id)
    with app.app_context():
        status_list = get_session().execute(select(StatusListRecord.id)).scalars().first()
    for client in (anonymous, logged_in):
        responses = [
            client.get(f"/c/{record.id}"),
            client.get(f"/c/{record.id}", headers={"Accept": "application/json"}),
            client.get(f"/c/{record.id}/qr.svg"),
            client.get("/.well-known/jwks.json"),
            client.get("/verify"),
            client.post("/api/v1/verify", json={"credential": record.jwt}),
            client.post("/verify", data={"credential": record.jwt}),
            client.get(f"/status/{status_list}"),
        ]
        for response in responses:
            assert response.status_code < 400, response.request.path
            assert set_cookie_headers(response) == [], response.request.path
    # And a logged-in visitor's public page does not show the account header.
    assert 'class="cm-id"' not in text_of(logged_in.get(f"/c/{record.id}"))


@pytest.mark.parametrize(("path", "field"), [("/login", "identifier"), ("/forgot", "email"), ("/first-login", "email")])
def test_control_characters_in_addresses_are_bad_input_not_an_outage(
    portal: Portal, client: Any, path: str, field: str
) -> None:
    data = {field: "a\x00@b.cd"}
    if path == "/login":
        data["password"] = "whatever-it-is"
    response = portal.post(client, path, data)
    assert response.status_code < 500, response.status_code


def test_profile_refuses_an_address_with_control_characters(portal: Portal, client: Any) -> None:
    candidate = portal.candidate()
    portal.login(client, candidate.certmanager_id)
    portal.post(client, "/profile", {"email": "a\x00@b.cd", "current_password": PASSWORD})
    assert portal.reload(candidate).email == candidate.email


def test_passwords_with_control_characters_are_refused() -> None:
    with pytest.raises(accounts.WeakPassword):
        accounts.check_password_policy("\x00" * 20, certmanager_id="JPR000000001", email="a@b.cd")
