"""A candidate's journey through the portal in Debian Chromium (issue 4), at phone and desktop
sizes: account from the registration feed → 'Never logged in before?' → the e-mailed link →
login by CertManager ID → a pending exam → results import → the certification and its Valid
credential page."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from issuer import runtime
from issuer.db import get_session
from issuer.models import Candidate, MailMessage
from issuer.services import imports
from tests.browser.conftest import Browser, Site
from tests.issuer.feeds_support import REG_HEADER, RES_HEADER, registration, result, write
from tests.issuer.portal_support import PASSWORD, use_fast_hashing


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_hashing(monkeypatch)


@pytest.fixture(params=[("phone", True), ("desktop", False)], ids=["phone-js", "desktop-nojs"])
def journey_browser(request: pytest.FixtureRequest, driver_pool: Any) -> Browser:
    size, js = request.param
    driver = driver_pool.get(size, js)
    driver.delete_all_cookies()
    return Browser(driver, size, js)


def _import(site: Site, kind: str, path: Path) -> None:
    ctx = runtime.of(site.app).ctx
    runner = imports.import_registrations if kind == "registrations" else imports.import_results
    with site.app.app_context():
        report = runner(get_session(), ctx, path, now=ctx.clock(), actor="test")
    assert report.rows_rejected == 0, report.rejected


def _field(driver: Any, label: str) -> Any:
    element = driver.find_element(By.XPATH, f"//label[normalize-space()={label!r}]")
    return driver.find_element(By.ID, element.get_attribute("for"))


def _submit(driver: Any) -> None:
    """Submit the page's form and wait until the next document has loaded. While the old one is
    torn down, chromedriver may answer a probe with a transient error: those are retried."""
    driver.execute_script("window.__cmBeforeSubmit = true;")  # gone once a new document loads
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return window.__cmBeforeSubmit === undefined && document.readyState === 'complete'")
    )


def _heading(driver: Any) -> str:
    return driver.find_element(By.TAG_NAME, "h1").text.strip()


def test_candidate_journey(site: Site, journey_browser: Browser, tmp_path: Path, screenshot_dir: Path) -> None:
    driver = journey_browser.driver
    shots = screenshot_dir / f"journey-{journey_browser.size}"
    shots.mkdir(parents=True, exist_ok=True)
    email = f"journey-{uuid.uuid4().hex[:8]}@example.org"
    today = runtime.of(site.app).ctx.clock().date()
    exam_day = today - timedelta(days=1)
    reg_id = f"BR-{uuid.uuid4().hex[:8]}"
    _import(site, "registrations", write(tmp_path / "reg.csv", REG_HEADER, [
        registration(reg_id, email, "EX-ENT-101", first="Katherine", last="Johnson",
                     registered=(today - timedelta(days=10)).isoformat(), exam_date=exam_day.isoformat()),
    ]))  # fmt: skip

    driver.get(site.url("/login"))
    driver.find_element(By.LINK_TEXT, "Never logged in before?").click()
    _field(driver, "By email address").send_keys(email)
    _submit(driver)
    driver.save_screenshot(str(shots / "1-link-sent.png"))

    with site.app.app_context():
        session = get_session()
        candidate = session.execute(select(Candidate).where(Candidate.email == email)).scalar_one()
        certmanager_id = candidate.certmanager_id
        bodies = session.execute(select(MailMessage.body_text).where(MailMessage.to_addr == email)).scalars().all()
    link = next(m.group(0) for body in bodies if (m := re.search(r"https?://\S+/reset/[A-Za-z0-9_-]+", body)))
    driver.get(link)
    _field(driver, "New password").send_keys(PASSWORD)
    _field(driver, "New password again").send_keys(PASSWORD)
    _submit(driver)

    driver.get(site.url("/login"))
    _field(driver, "CertManager ID or e-mail address").send_keys(certmanager_id)
    _field(driver, "Password").send_keys(PASSWORD)
    _submit(driver)
    assert certmanager_id in driver.find_element(By.TAG_NAME, "header").text  # top right, every page

    driver.get(site.url("/exams"))
    assert _heading(driver) == "Exams"
    assert "Pending" in driver.page_source and "Results expected by" in driver.page_source
    driver.save_screenshot(str(shots / "2-exam-pending.png"))

    _import(
        site, "results", write(tmp_path / "res.csv", RES_HEADER, [result(reg_id, "EX-ENT-101", exam_day.isoformat())])
    )
    driver.get(site.url("/exams"))
    assert "Pass" in driver.find_element(By.TAG_NAME, "main").text

    driver.get(site.url("/certifications"))
    main = driver.find_element(By.TAG_NAME, "main").text
    assert "Certified Network Associate (Enterprise)" in main and "Expiration date" in main
    assert driver.execute_script("return document.documentElement.scrollWidth") <= driver.execute_script(
        "return window.innerWidth"
    )
    driver.save_screenshot(str(shots / "3-certifications.png"))

    driver.find_element(By.LINK_TEXT, "Credential page").click()
    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(lambda d: "/c/" in d.current_url)
    assert _heading(driver) == "Valid"
    assert "Katherine Johnson" in driver.find_element(By.TAG_NAME, "main").text
    driver.save_screenshot(str(shots / "4-credential-page.png"))
