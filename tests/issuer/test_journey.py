"""A candidate's whole journey over HTTP (issue 4): registration import → account e-mail →
'Never logged in before?' → first login → exam pending → results import → certification →
credential page Valid; and candidate A never sees or acts on candidate B's data."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from issuer.cli import main
from issuer.db import get_session, unit_of_work
from issuer.models import Candidate
from issuer.services import accounts
from tests.issuer.feeds_support import REG_HEADER, RES_HEADER, registration, result, write
from tests.issuer.portal_support import PASSWORD, Portal, use_fast_hashing


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_hashing(monkeypatch)


@pytest.fixture
def portal(app: Any, clock: Any) -> Portal:
    return Portal(app, clock)


def imported(kind: str, path: Any) -> None:
    outcome = CliRunner().invoke(main, ["import", kind, str(path)])
    assert outcome.exit_code == 0, outcome.output


def test_the_whole_journey(app, client, portal, tmp_path, clock):
    today = clock().date()
    exam_day = today - timedelta(days=2)
    imported("registrations", write(tmp_path / "reg.csv", REG_HEADER, [
        registration("J1", "Journey.Person@Example.org", "EX-ENT-101", first="Jürgen", last="Ødegård",
                     registered=(today - timedelta(days=20)).isoformat(), exam_date=exam_day.isoformat()),
    ]))  # fmt: skip

    [welcome] = portal.outbox("account_created")
    assert welcome.to_addr == "journey.person@example.org"
    certmanager_id = re.search(r"JPR\d{9}", welcome.body_text).group(0)
    assert "Never logged in before?" in welcome.body_text

    # 'Never logged in before?' → 'By email address' → the e-mailed link sets the first password.
    sent = portal.post(client, "/first-login", {"email": "journey.person@example.org"})
    assert sent.status_code in (200, 303)
    [link] = [m for m in portal.outbox() if "/reset/" in m.body_text]
    token = re.search(r"/reset/([A-Za-z0-9_-]+)", link.body_text).group(1)
    form = f"/reset/{token}"
    done = portal.post(client, form, {"password": PASSWORD, "confirm": PASSWORD}, form=form)
    assert done.status_code in (200, 302, 303), done.get_data(as_text=True)[:500]

    assert portal.login(client, certmanager_id).status_code in (302, 303)
    exams = client.get("/exams").get_data(as_text=True)
    assert "Networking Fundamentals, Associate" in exams and "Pending" in exams
    assert certmanager_id in exams  # top right of every page

    imported("results", write(tmp_path / "res.csv", RES_HEADER, [result("J1", "EX-ENT-101", exam_day.isoformat())]))
    exams = client.get("/exams").get_data(as_text=True)
    assert "Pass" in exams and "Score 800" in exams
    assert len(portal.outbox("results_imported")) == 1

    certifications = client.get("/certifications").get_data(as_text=True)
    assert "Certified Network Associate (Enterprise)" in certifications
    cred_id = re.search(r'href="/c/([A-Za-z0-9]{22})"', certifications).group(1)
    page = client.get(f"/c/{cred_id}").get_data(as_text=True)
    assert '<h1 class="verdict-title">Valid</h1>' in page and "Jürgen Ødegård" in page

    ecert = client.get("/certifications/CNA-ENT/ecertificate.png")
    assert (
        ecert.status_code == 200
        and ecert.data.startswith(b"\x89PNG")
        and ecert.headers["Cache-Control"] == "private, no-store"
    )
    logo = client.get("/certifications/CNA-ENT/logo.png")
    assert logo.status_code == 200 and logo.data.startswith(b"\x89PNG")


def test_pending_exam_shows_the_date_results_are_expected(app, client, portal, tmp_path, clock):
    imported("registrations", write(tmp_path / "reg.csv", REG_HEADER, [
        registration("P1", "pending@example.org", "EX-SEC-101",
                     registered="2026-11-02T08:00:00Z", exam_date="2026-11-27"),
    ]))  # fmt: skip
    with app.app_context():
        session = get_session()
        candidate = session.execute(select(Candidate).where(Candidate.email == "pending@example.org")).scalar_one()
        with unit_of_work(session):
            accounts.set_password(candidate, PASSWORD, clock())
        certmanager_id = candidate.certmanager_id
    portal.login(client, certmanager_id)
    exams = client.get("/exams").get_data(as_text=True)
    # Friday 27 November 2026 + 5 business days = Friday 4 December 2026.
    assert "Results expected by 4 December 2026" in exams


PRIVATE_PAGES = ["/profile", "/exams", "/certifications"]


def test_every_private_page_needs_a_login(client):
    for path in [*PRIVATE_PAGES, "/certifications/CNA-ENT/ecertificate.png", "/certifications/CNA-ENT/logo.png"]:
        response = client.get(path)
        assert response.status_code in (302, 303), path
        assert "/login" in response.headers["Location"]


def test_candidate_a_never_sees_or_acts_on_candidate_b(app, portal, factory, clock):
    record_b = factory.certified("CNA-SEC", first="Bea", last="Private")
    with app.app_context():
        session = get_session()
        bea = session.get(Candidate, record_b.candidate_id)
        with unit_of_work(session):
            accounts.set_password(bea, PASSWORD, clock())
        bea_id, bea_email, bea_cm = bea.id, bea.email, bea.certmanager_id
    ada = portal.candidate(first="Ada")
    client_a = app.test_client()
    portal.login(client_a, ada.certmanager_id)

    for path in PRIVATE_PAGES:
        text = client_a.get(path).get_data(as_text=True)
        assert bea_cm not in text and "Private" not in text and bea_email not in text, path
    # B's certification downloads are not A's: A holds no CNA-SEC.
    assert client_a.get("/certifications/CNA-SEC/ecertificate.png").status_code == 404
    assert client_a.get("/certifications/CNA-SEC/logo.png").status_code == 404
    # A's profile update cannot touch B, whatever ids are posted.
    portal.post(client_a, "/profile", {"company": "Acme", "candidate_id": str(bea_id), "email": bea_email,
                                       "first_name": "Hacked"})  # fmt: skip
    with app.app_context():
        bea_now = get_session().execute(select(Candidate).where(Candidate.id == bea_id)).scalar_one()
        assert (bea_now.company, bea_now.first_name, bea_now.email) == (None, "Bea", bea_email)
