"""The portal's layout in Chromium at phone (390×844) and desktop (1280×900) sizes: no page scrolls
sideways, every pill/badge sits whole (unclipped) inside its table cell or card, the header and
navigation stay inside the viewport with the CertManager ID top right on the brand's row and every
navigation item on one line. Screenshots go to $CERTMANAGER_SCREENSHOTS when set (e.g. /tmp/shots)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from issuer import runtime
from issuer.db import get_session, unit_of_work
from issuer.models import Candidate, CredentialRecord
from issuer.services import accounts, imports, revocation
from tests.browser.conftest import Browser, Site
from tests.issuer.feeds_support import REG_HEADER, RES_HEADER, registration, result, write
from tests.issuer.portal_support import PASSWORD, use_fast_hashing

TIMEOUT = 10
PAGES = {
    "login": "/login",
    "home": "/",
    "error": "/c/NoSuchCredential000000000",
    "verify": "/verify",
    "credential": "/c/{valid_id}",
    "revoked-credential": "/c/{revoked_id}",
    "profile": "/profile",
    "exams": "/exams",
    "certifications": "/certifications",
}
PRIVATE = {"profile", "exams", "certifications"}


@dataclass
class Account:
    certmanager_id: str
    email: str


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_hashing(monkeypatch)


@pytest.fixture(scope="module")
def account(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    """A candidate with a pending, a passed and a failed exam, and an active and a revoked
    certification, all through the real import and revocation services."""
    ctx = runtime.of(site.app).ctx
    today = ctx.clock().date()
    tmp = tmp_path_factory.mktemp("layout-feeds")
    email = f"layout-{uuid.uuid4().hex[:8]}@example.org"
    tag = uuid.uuid4().hex[:6]
    exams = {"EX-ENT-101": 800, "EX-SEC-101": 760, "EX-DC-101": 540, "EX-ENT-401": None}
    regs = [
        registration(f"L-{tag}-{n}", email, exam, first="Maria Guadalupe", last="Gutiérrez-Villanueva",
                     registered=(today - timedelta(days=20)).isoformat(),
                     exam_date=(today - timedelta(days=2 + n)).isoformat())
        for n, exam in enumerate(exams)
    ]  # fmt: skip
    results = [
        result(f"L-{tag}-{n}", exam, (today - timedelta(days=2 + n)).isoformat(), score=score)
        for n, (exam, score) in enumerate(exams.items())
        if score is not None
    ]
    with pytest.MonkeyPatch.context() as mp, site.app.app_context():
        use_fast_hashing(mp)
        session = get_session()
        now = ctx.clock()
        imports.import_registrations(session, ctx, write(tmp / "reg.csv", REG_HEADER, regs), now=now, actor="test")
        imports.import_results(session, ctx, write(tmp / "res.csv", RES_HEADER, results), now=now, actor="test")
        candidate = session.execute(select(Candidate).where(Candidate.email == email)).scalar_one()
        with unit_of_work(session):
            accounts.set_password(candidate, PASSWORD, now)
        security = session.execute(
            select(CredentialRecord).where(
                CredentialRecord.candidate_id == candidate.id, CredentialRecord.certification_code == "CNA-SEC"
            )
        ).scalar_one()
        revocation.revoke_credential(session, ctx, security.id, reason="withdrawn", note=None, actor="test", now=now)
        yield Account(candidate.certmanager_id, email)


def wait_for_load(driver: Any) -> None:
    WebDriverWait(driver, TIMEOUT, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return window.__cmBeforeSubmit === undefined && document.readyState === 'complete'")
    )


def log_in(browser: Browser, site: Site, account: Account) -> None:
    driver = browser.driver
    driver.get(site.url("/login"))
    driver.find_element(By.ID, "identifier").send_keys(account.certmanager_id)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.execute_script("window.__cmBeforeSubmit = true;")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for_load(driver)
    assert account.certmanager_id in driver.find_element(By.TAG_NAME, "header").text


def open_page(browser: Browser, url: str) -> None:
    browser.driver.get(url)
    wait_for_load(browser.driver)


# Each pill against its table cell or card; each header/nav item against the viewport; every
# scrolling box (the Exams table's wrapper) must not hide part of its content.
LAYOUT_PROBLEMS = """
const problems = [];
const width = window.innerWidth;
const doc = document.documentElement;
if (doc.scrollWidth > width) problems.push(`page is ${doc.scrollWidth}px wide in a ${width}px viewport`);
const inside = (a, b) => a.left >= b.left - 0.5 && a.right <= b.right + 0.5 && a.top >= b.top - 0.5
  && a.bottom <= b.bottom + 0.5;
for (const pill of document.querySelectorAll('.pill')) {
  const box = pill.closest('td, th, .card');
  if (!box) { problems.push(`pill "${pill.textContent}" is in no cell or card`); continue; }
  const p = pill.getBoundingClientRect();
  if (p.width === 0 || p.height === 0) problems.push(`pill "${pill.textContent}" is not shown`);
  if (!inside(p, box.getBoundingClientRect()))
    problems.push(`pill "${pill.textContent}" sticks out of its ${box.tagName}`);
  if (!inside(p, {left: 0, right: width, top: -Infinity, bottom: Infinity}))
    problems.push(`pill "${pill.textContent}" is outside the viewport`);
  if (pill.getClientRects().length !== 1) problems.push(`pill "${pill.textContent}" breaks over lines`);
  for (let up = pill.parentElement; up; up = up.parentElement) {
    if (getComputedStyle(up).overflowX !== 'visible' && !inside(p, up.getBoundingClientRect()))
      problems.push(`pill "${pill.textContent}" is clipped by ${up.tagName}.${up.className}`);
  }
}
for (const el of document.querySelectorAll('header.site *, .portal-nav *')) {
  const r = el.getBoundingClientRect();
  if (r.width && (r.left < -0.5 || r.right > width + 0.5))
    problems.push(`header item "${el.textContent.trim()}" overflows`);
}
for (const el of document.querySelectorAll('main *')) {
  if (el.clientWidth <= 1) continue;  // visually hidden on purpose (a caption for screen readers)
  const style = getComputedStyle(el);
  if (['auto', 'scroll', 'hidden'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1)
    problems.push(`${el.tagName}.${el.className} hides ${el.scrollWidth - el.clientWidth}px of its content`);
}
return problems;
"""


def save_full_page(browser: Browser, path: Path) -> None:
    """A screenshot of the whole page: the viewport stretched to the page's height, then restored."""
    driver = browser.driver
    height = max(browser.height, driver.execute_script("return document.documentElement.scrollHeight"))
    metrics = {"width": browser.width, "deviceScaleFactor": 1, "mobile": browser.size == "phone"}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": height})
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": browser.height})


# The logged-in header: the CertManager ID at the top right, on the brand's row (as the FAQ says),
# and every navigation item on one line of text.
HEADER_PROBLEMS = """
const problems = [];
const brand = document.querySelector('header.site .brand').getBoundingClientRect();
const id = document.querySelector('header.site .cm-id').getBoundingClientRect();
const site = document.querySelector('header.site');
const contentRight = site.getBoundingClientRect().right - parseFloat(getComputedStyle(site).paddingRight);
if (id.top >= brand.bottom) problems.push('the CertManager ID wraps below the brand');
if (contentRight - id.right > 1) problems.push('the CertManager ID is not at the right');
for (const a of document.querySelectorAll('.portal-nav a, .portal-nav button')) {
  const lineHeight = parseFloat(getComputedStyle(a).lineHeight) || 24;
  const range = document.createRange();
  range.selectNodeContents(a);
  const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
  if (lines.size > 1) problems.push(`"${a.textContent.trim()}" breaks over ${lines.size} lines`);
  if (a.getBoundingClientRect().height < 40) problems.push(`"${a.textContent.trim()}" is a small target`);
}
return problems;
"""


@pytest.fixture(
    params=[("phone", False), ("desktop", False)],
    ids=["phone", "desktop"],
)
def layout_browser(request: pytest.FixtureRequest, driver_pool: Any) -> Browser:
    size, js = request.param
    driver = driver_pool.get(size, js)
    driver.delete_all_cookies()
    return Browser(driver, size, js)


@pytest.mark.parametrize("page", list(PAGES))
def test_page_fits_and_pills_sit_inside_their_boxes(
    site: Site, account: Account, layout_browser: Browser, page: str, screenshot_dir: Path
) -> None:
    if page in PRIVATE:
        log_in(layout_browser, site, account)
    open_page(layout_browser, site.url(PAGES[page].format(valid_id=site.valid_id, revoked_id=site.revoked_id)))
    driver = layout_browser.driver
    assert len(driver.find_elements(By.TAG_NAME, "h1")) == 1
    save_full_page(layout_browser, screenshot_dir / f"{page}-{layout_browser.size}.png")
    assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    assert driver.execute_script(LAYOUT_PROBLEMS) == []
    if page in PRIVATE:
        assert driver.execute_script(HEADER_PROBLEMS) == []
    if page == "exams":
        assert {"Pending", "Pass", "Fail"} <= {p.text for p in driver.find_elements(By.CSS_SELECTOR, ".pill")}
    if page == "certifications":
        pills = [p.text for p in driver.find_elements(By.CSS_SELECTOR, ".pill")]
        assert "Active" in pills and "Revoked" in pills


def test_favicon_is_linked_and_served(site: Site, layout_browser: Browser) -> None:
    open_page(layout_browser, site.url("/login"))
    driver = layout_browser.driver
    icons = driver.execute_script(
        "return [...document.querySelectorAll('link[rel~=icon]')].map(l => [l.href, l.type || ''])"
    )
    assert any(href.endswith(".svg") for href, _ in icons), icons
    for href, _ in icons:
        loaded = driver.execute_script(
            "const r = new XMLHttpRequest(); r.open('GET', arguments[0], false); r.send(); return r.status", href
        )
        assert loaded == 200, href
