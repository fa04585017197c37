"""The candidate's 'Certifications' page tells the truth about revoked certifications (SPEC §5.3,
§5.6): a certification whose current credential was revoked shows 'Revoked', the reason in plain
words and the date, and offers no eCertificate, logo or credential link; its downloads answer 404.
A credential replaced by a newer one (superseded, or reissued after a key compromise) is not the
current one: the replacement is, and the certification stays active."""

from __future__ import annotations

import re
from typing import Any

import pytest

from issuer import runtime
from issuer.db import get_session, unit_of_work
from issuer.models import Candidate
from issuer.services import accounts, key_compromise, revocation
from tests.issuer.portal_support import PASSWORD, use_fast_hashing
from verifier.timeutil import long_date

CODE = "CNA-ENT"
NAME = "Certified Network Associate (Enterprise)"
SUPPORT_LINE = "Contact Certification Program Support if you think this is a mistake."


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_hashing(monkeypatch)


def holder(app: Any, factory: Any, clock: Any) -> tuple[str, Any]:
    """A candidate holding CNA-ENT (through the real services) with a password; (CertManager ID, credential)."""
    record = factory.certified(CODE)
    with app.app_context():
        session = get_session()
        candidate = session.get(Candidate, record.candidate_id)
        assert candidate is not None
        with unit_of_work(session):
            accounts.set_password(candidate, PASSWORD, clock())
        return candidate.certmanager_id, record


def logged_in(app: Any, certmanager_id: str) -> Any:
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token is not None
    login = client.post(
        "/login", data={"csrf_token": token.group(1), "identifier": certmanager_id, "password": PASSWORD}
    )
    assert login.status_code in (302, 303)
    return client


def logged_in_holder(app: Any, factory: Any, clock: Any) -> tuple[Any, Any]:
    """A candidate holding CNA-ENT, logged in; (client, credential)."""
    certmanager_id, record = holder(app, factory, clock)
    return logged_in(app, certmanager_id), record


def revoke(app: Any, cred_id: str, reason: str, now: Any) -> None:
    with app.app_context():
        revocation.revoke_credential(
            get_session(), runtime.of(app).ctx, cred_id, reason=reason, note=None, actor="test", now=now
        )


def main_of(html: str) -> str:
    match = re.search(r"<main[^>]*>(.*)</main>", html, re.S)
    assert match is not None
    return match.group(1)


def visible_text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_active_certification_offers_its_downloads_and_credential_page(app, factory, clock):
    client, record = logged_in_holder(app, factory, clock)
    main = main_of(client.get("/certifications").get_data(as_text=True))
    assert "Active" in visible_text(main) and "Revoked" not in visible_text(main)
    assert f"/certifications/{CODE}/ecertificate.png" in main and f"/certifications/{CODE}/logo.png" in main
    assert f"/c/{record.id}" in main
    assert client.get(f"/certifications/{CODE}/logo.png").status_code == 200


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("withdrawn", "withdrawn"),
        ("issued_in_error", "issued in error"),
        ("misconduct", "misconduct"),
        ("key_compromise", "the signing key was compromised"),
    ],
)
def test_revoked_certification_says_so_and_offers_nothing_to_download(app, factory, clock, reason, words):
    certmanager_id, record = holder(app, factory, clock)
    clock.advance(days=2)
    revoke(app, record.id, reason, clock())
    client = logged_in(app, certmanager_id)

    page = client.get("/certifications")
    assert page.status_code == 200
    main = main_of(page.get_data(as_text=True))
    text = visible_text(main)
    assert NAME in text and CODE in text
    assert "Revoked" in text and "Active" not in text
    assert words in text
    assert long_date(clock()) in text  # the date it was revoked
    assert SUPPORT_LINE in text
    # No live links: no eCertificate, no logo (not even as an image), no QR code or credential page.
    assert "ecertificate.png" not in main and "logo.png" not in main
    assert f"/c/{record.id}" not in main and "qr." not in main
    # The portal's download routes keep refusing it.
    assert client.get(f"/certifications/{CODE}/ecertificate.png").status_code == 404
    assert client.get(f"/certifications/{CODE}/logo.png").status_code == 404


def test_revoked_after_expiry_shows_as_revoked_not_expired(app, factory, clock):
    certmanager_id, record = holder(app, factory, clock)
    revoke(app, record.id, "misconduct", clock())
    clock.advance(days=4 * 365)
    client = logged_in(app, certmanager_id)
    text = visible_text(main_of(client.get("/certifications").get_data(as_text=True)))
    assert "Revoked" in text and "misconduct" in text and "Expired" not in text


def test_replaced_credential_is_not_the_current_one(app, factory, clock):
    """Reissued after a key compromise: the old credential is revoked, the new one is current."""
    client, record = logged_in_holder(app, factory, clock)
    clock.advance(minutes=5)
    with app.app_context():
        report = key_compromise.mark_compromised(
            get_session(), runtime.of(app).ctx, record.signed_by, now=clock(), actor="test", reissue=True
        )
    new_id = report.reissued[record.id]
    main = main_of(client.get("/certifications").get_data(as_text=True))
    text = visible_text(main)
    assert "Active" in text and "Revoked" not in text
    assert f"/c/{new_id}" in main and f"/c/{record.id}" not in main
    assert client.get(f"/certifications/{CODE}/ecertificate.png").status_code == 200


def test_replacement_revoked_later_shows_revoked(app, factory, clock):
    certmanager_id, record = holder(app, factory, clock)
    with app.app_context():
        report = key_compromise.mark_compromised(
            get_session(), runtime.of(app).ctx, record.signed_by, now=clock(), actor="test", reissue=True
        )
    clock.advance(days=1)
    revoke(app, report.reissued[record.id], "withdrawn", clock())
    client = logged_in(app, certmanager_id)
    main = main_of(client.get("/certifications").get_data(as_text=True))
    text = visible_text(main)
    assert "Revoked" in text and "withdrawn" in text and "Active" not in text
    assert long_date(clock()) in text
    assert "logo.png" not in main and "/c/" not in main


def test_expired_certification_shows_the_expiry_date(app, factory, clock):
    certmanager_id, record = holder(app, factory, clock)
    clock.advance(days=3 * 365 + 10)
    client = logged_in(app, certmanager_id)
    main = main_of(client.get("/certifications").get_data(as_text=True))
    text = visible_text(main)
    assert "Expired" in text and long_date(record.valid_until) in text and "Revoked" not in text
    assert "logo.png" not in main
