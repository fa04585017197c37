"""The public credential page `/c/<id>` and the human verifier `/verify` in a real browser
(headless Debian Chromium), at phone (390×844) and desktop (1280×900) viewports, with JavaScript
on and off: every page must work without JavaScript (SPEC §3.4)."""

from __future__ import annotations

import io
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from PIL import Image
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import Browser, Site

TIMEOUT = 10
PASTE_LABEL = "Paste a credential or a link"
UPLOAD_LABEL = "Or upload a photo or screenshot"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- helpers -------------------------------------------------------------------------------


def wait(browser: Browser) -> WebDriverWait[Any]:
    return WebDriverWait(browser.driver, TIMEOUT)


def open_page(browser: Browser, url: str) -> None:
    browser.driver.get(url)
    wait(browser).until(lambda d: d.execute_script("return document.readyState") == "complete")


def submit_and_wait(browser: Browser) -> None:
    """Click the form's 'Verify' button and wait until the next document has loaded."""
    driver = browser.driver
    form = driver.find_element(By.ID, "verify-form")
    button = form.find_element(By.XPATH, ".//button[@type='submit' and normalize-space()='Verify']")
    driver.execute_script("window.__cmBeforeSubmit = true;")  # gone once a new document loads
    button.click()
    # While the old document is torn down, chromedriver may answer a probe with a transient error.
    WebDriverWait(driver, TIMEOUT, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return window.__cmBeforeSubmit === undefined && document.readyState === 'complete'")
    )


def heading(browser: Browser) -> str:
    h1s = browser.driver.find_elements(By.TAG_NAME, "h1")
    assert len(h1s) == 1, [h.text for h in h1s]
    return h1s[0].text.strip()


def field_by_label(browser: Browser, label_start: str) -> WebElement:
    """The form control a visible <label for=…> (whose text starts with `label_start`) names."""
    label = browser.driver.find_element(By.XPATH, f"//label[starts-with(normalize-space(.), '{label_start}')]")
    assert label.is_displayed()
    target = label.get_dom_attribute("for")
    assert target, f"label {label.text!r} has no for= attribute"
    return browser.driver.find_element(By.ID, target)


def paste(browser: Browser, field: WebElement, text: str) -> None:
    """Put `text` into `field` as a paste would. WebDriver types key by key (seconds for a JWT),
    so all but the last character are set at once and the last one is typed for real."""
    field.clear()
    if len(text) > 1:
        browser.driver.execute_script("arguments[0].value = arguments[1];", field, text[:-1])
    field.send_keys(text[-1])
    assert field.get_attribute("value") == text


def path_of(browser: Browser) -> str:
    return urlsplit(browser.driver.current_url).path


def rect(browser: Browser, element: WebElement) -> dict[str, float]:
    box: dict[str, float] = browser.driver.execute_script(
        "var r = arguments[0].getBoundingClientRect();"
        "return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height};",
        element,
    )
    return box


def assert_viewport(browser: Browser) -> None:
    inner = browser.driver.execute_script("return [window.innerWidth, window.innerHeight]")
    assert inner == [browser.width, browser.height], inner


def assert_no_horizontal_scroll(browser: Browser) -> None:
    scroll_width, inner_width = browser.driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll_width <= inner_width, f"page is {scroll_width}px wide in a {inner_width}px viewport"


def assert_within_width(browser: Browser, element: WebElement, what: str) -> None:
    """The element is displayed, non-empty and horizontally inside the viewport (scrolled to the page top)."""
    assert element.is_displayed(), f"{what} is not displayed"
    box = rect(browser, element)
    assert box["width"] > 0 and box["height"] > 0, (what, box)
    assert box["left"] >= 0 and box["right"] <= browser.width, f"{what} sticks out of the viewport: {box}"


def assert_above_the_fold(browser: Browser, element: WebElement, what: str) -> None:
    browser.driver.execute_script("window.scrollTo(0, 0)")
    box = rect(browser, element)
    assert 0 <= box["top"] and box["bottom"] <= browser.height, f"{what} is not on the first screen: {box}"


def screenshot(browser: Browser, directory: Path, name: str) -> Path:
    browser.driver.execute_script("window.scrollTo(0, 0)")
    path = directory / name
    assert browser.driver.save_screenshot(str(path)), "save_screenshot failed"
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 5_000, f"{path} is only {len(data)} bytes"
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (browser.width, browser.height), image.size
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 50, "screenshot is (nearly) blank"
    return path


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # loopback only
        assert response.status == 200
        body: bytes = response.read()
    return body


def assert_js_state(browser: Browser, copy_button: WebElement) -> None:
    """app.js un-hides the Copy link button: its `hidden` attribute tells whether JS ran at all."""
    if browser.js:
        wait(browser).until(lambda _: copy_button.get_dom_attribute("hidden") is None)
    else:
        assert copy_button.get_dom_attribute("hidden") is not None, "JavaScript ran although it is disabled"


# --- 1. the credential page of a valid credential ------------------------------------------


def test_valid_credential_page(browser: Browser, site: Site, screenshot_dir: Path, screenshot_name: str) -> None:
    driver = browser.driver
    page_url = site.url(f"/c/{site.valid_id}")
    open_page(browser, page_url)
    assert_viewport(browser)

    assert heading(browser) == "Valid"
    verdict = driver.find_element(By.CSS_SELECTOR, "section.verdict")
    assert "verdict-valid" in (verdict.get_dom_attribute("class") or "")
    holder = driver.find_element(By.ID, "holder")
    assert holder.is_displayed() and holder.text.strip() == site.holder_name
    cert = driver.find_element(By.XPATH, f"//dd/strong[normalize-space()='{site.cert_name}']")
    assert cert.is_displayed()

    # The QR code image has really loaded.
    qr = driver.find_element(By.CSS_SELECTOR, "section.share .qr img")
    wait(browser).until(
        lambda _: driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", qr)
    )
    assert qr.is_displayed()
    assert rect(browser, qr)["width"] >= 100
    screenshot(browser, screenshot_dir, screenshot_name)  # before the JS-dependent checks below

    # Share section: the link, the QR downloads and one button per network.
    share_url = field_by_label(browser, "Link to this credential")
    assert share_url.get_attribute("value") == page_url
    download = driver.find_element(By.LINK_TEXT, "Download QR (PNG)")
    assert download.get_attribute("href") == site.url(f"/c/{site.valid_id}/qr.png")
    expected = {
        "Add to LinkedIn profile": ("https://www.linkedin.com/profile/add?", "certUrl"),
        "Post on LinkedIn": ("https://www.linkedin.com/sharing/share-offsite/?", "url"),
        "Post on X": ("https://x.com/intent/tweet?", "url"),
        "Share on Facebook": ("https://www.facebook.com/sharer/sharer.php?", "u"),
    }
    for text, (prefix, param) in expected.items():
        link = driver.find_element(By.LINK_TEXT, text)
        href = link.get_attribute("href") or ""
        assert href.startswith(prefix), (text, href)
        assert parse_qs(urlsplit(href).query)[param] == [page_url], (text, href)
        assert_within_width(browser, link, text)
    email = driver.find_element(By.LINK_TEXT, "Send by e-mail")
    assert (email.get_attribute("href") or "").startswith("mailto:")
    assert page_url in unquote(email.get_attribute("href") or "")
    assert_within_width(browser, email, "e-mail button")

    # Copy link: shown by JavaScript only; without JavaScript it must not be there to click.
    copy_button = driver.find_element(By.CSS_SELECTOR, "button[data-copy]")
    assert_js_state(browser, copy_button)
    if browser.js:
        assert copy_button.is_displayed() and copy_button.text.strip() == "Copy link"
        assert_within_width(browser, copy_button, "Copy link button")
    else:
        assert not copy_button.is_displayed(), "the Copy link button shows although JavaScript is off"

    # Layout: no sideways scrolling, the verdict is on the first screen.
    assert_no_horizontal_scroll(browser)
    assert_within_width(browser, verdict, "verdict box")
    assert_above_the_fold(browser, verdict, "verdict box")
    assert_within_width(browser, share_url, "share URL field")


# --- 2. a revoked credential ---------------------------------------------------------------


def test_revoked_credential_page(browser: Browser, site: Site, screenshot_dir: Path, screenshot_name: str) -> None:
    driver = browser.driver
    open_page(browser, site.url(f"/c/{site.revoked_id}"))

    assert heading(browser) == "Revoked"
    verdict = driver.find_element(By.CSS_SELECTOR, "section.verdict")
    assert "verdict-revoked" in (verdict.get_dom_attribute("class") or "")
    assert driver.find_element(By.ID, "holder").text.strip() == site.revoked_holder_name
    assert driver.find_element(By.XPATH, "//dt[normalize-space()='Revoked on']").is_displayed()

    # Nothing invites anyone to share a revoked credential.
    assert driver.find_elements(By.CSS_SELECTOR, "section.share, #share-title, #share-url, [data-copy]") == []
    for text in ("Add to LinkedIn profile", "Post on LinkedIn", "Post on X", "Share on Facebook", "Send by e-mail"):
        assert driver.find_elements(By.LINK_TEXT, text) == [], text

    assert_no_horizontal_scroll(browser)
    assert_within_width(browser, verdict, "verdict box")
    assert_above_the_fold(browser, verdict, "verdict box")
    screenshot(browser, screenshot_dir, screenshot_name)


# --- 3. /verify ----------------------------------------------------------------------------


def open_verify(browser: Browser, site: Site) -> None:
    open_page(browser, site.url("/verify"))


def test_verify_form_layout(browser: Browser, site: Site, screenshot_dir: Path, screenshot_name: str) -> None:
    open_verify(browser, site)
    assert_viewport(browser)
    assert heading(browser) == "Verify a credential"
    textarea = field_by_label(browser, PASTE_LABEL)
    assert textarea.tag_name == "textarea"
    upload = field_by_label(browser, UPLOAD_LABEL)
    assert upload.tag_name == "input" and upload.get_dom_attribute("type") == "file"
    button = browser.driver.find_element(By.XPATH, "//form[@id='verify-form']//button[normalize-space()='Verify']")
    for element, what in ((textarea, "textarea"), (upload, "file input"), (button, "Verify button")):
        assert_within_width(browser, element, what)
    assert_above_the_fold(browser, button, "Verify button")
    # The camera scanner needs JavaScript (and BarcodeDetector); without JS it must stay hidden.
    if not browser.js:
        assert not browser.driver.find_element(By.ID, "scanner").is_displayed()
    assert_no_horizontal_scroll(browser)
    screenshot(browser, screenshot_dir, screenshot_name)


def test_verify_pasted_token(browser: Browser, site: Site, screenshot_dir: Path, screenshot_name: str) -> None:
    open_verify(browser, site)
    paste(browser, field_by_label(browser, PASTE_LABEL), site.valid_jwt)
    submit_and_wait(browser)

    assert path_of(browser) == "/verify"
    assert heading(browser) == "Valid"
    assert browser.driver.find_element(By.ID, "holder").text.strip() == site.holder_name
    assert browser.driver.find_element(By.XPATH, f"//dd/strong[normalize-space()='{site.cert_name}']").is_displayed()
    verdict = browser.driver.find_element(By.CSS_SELECTOR, "section.verdict")
    assert_within_width(browser, verdict, "verdict box")
    assert_above_the_fold(browser, verdict, "verdict box")
    another = browser.driver.find_element(By.LINK_TEXT, "Verify another credential")
    assert_within_width(browser, another, "'Verify another credential'")
    assert_no_horizontal_scroll(browser)
    screenshot(browser, screenshot_dir, screenshot_name)


def test_verify_pasted_link_opens_credential_page(browser: Browser, site: Site) -> None:
    open_verify(browser, site)
    page_url = site.url(f"/c/{site.valid_id}")
    paste(browser, field_by_label(browser, PASTE_LABEL), page_url)
    submit_and_wait(browser)

    assert browser.driver.current_url == page_url  # 303 See Other to the credential page
    assert heading(browser) == "Valid"
    assert browser.driver.find_element(By.ID, "holder").text.strip() == site.holder_name


def test_verify_uploaded_qr_opens_credential_page(browser: Browser, site: Site, tmp_path: Path) -> None:
    qr_file = tmp_path / "qr.png"
    qr_file.write_bytes(fetch(site.url(f"/c/{site.valid_id}/qr.png")))
    assert qr_file.read_bytes().startswith(PNG_SIGNATURE)

    open_verify(browser, site)
    field_by_label(browser, UPLOAD_LABEL).send_keys(str(qr_file))
    submit_and_wait(browser)

    assert browser.driver.current_url == site.url(f"/c/{site.valid_id}")
    assert heading(browser) == "Valid"
    assert browser.driver.find_element(By.ID, "holder").text.strip() == site.holder_name


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


@pytest.mark.parametrize("kind", ["text", "tampered-jwt"])
def test_verify_garbage_is_not_genuine(
    browser: Browser, site: Site, kind: str, screenshot_dir: Path, screenshot_name: str
) -> None:
    pasted = "this is certainly not a credential" if kind == "text" else _tampered(site.valid_jwt)
    open_verify(browser, site)
    paste(browser, field_by_label(browser, PASTE_LABEL), pasted)
    submit_and_wait(browser)

    title = heading(browser)
    assert title != "Valid"
    assert title == "Not genuine"
    verdict = browser.driver.find_element(By.CSS_SELECTOR, "section.verdict")
    assert "verdict-valid" not in (verdict.get_dom_attribute("class") or "")
    assert_within_width(browser, verdict, "verdict box")
    assert_no_horizontal_scroll(browser)
    screenshot(browser, screenshot_dir, screenshot_name)


def test_verify_foreign_link_shows_error(
    browser: Browser, site: Site, screenshot_dir: Path, screenshot_name: str
) -> None:
    foreign = f"https://evil.example/c/{site.valid_id}"
    open_verify(browser, site)
    paste(browser, field_by_label(browser, PASTE_LABEL), foreign)
    submit_and_wait(browser)

    assert path_of(browser) == "/verify"
    assert heading(browser) == "Verify a credential"
    alert = browser.driver.find_element(By.CSS_SELECTOR, "[role=alert]")
    assert alert.is_displayed()
    assert "Cannot verify this" in alert.text
    assert site.url("/c/") in alert.text  # it says which links it accepts
    textarea = field_by_label(browser, PASTE_LABEL)
    assert textarea.get_attribute("value") == foreign  # the input is kept for correction
    assert textarea.get_dom_attribute("aria-describedby") == alert.get_dom_attribute("id")
    assert_within_width(browser, alert, "error message")
    assert_no_horizontal_scroll(browser)
    screenshot(browser, screenshot_dir, screenshot_name)


# --- 4. accessibility basics ---------------------------------------------------------------


@pytest.mark.parametrize("page", ["credential", "revoked-credential", "verify"])
def test_accessibility_basics(browser: Browser, site: Site, page: str) -> None:
    path = {
        "credential": f"/c/{site.valid_id}",
        "revoked-credential": f"/c/{site.revoked_id}",
        "verify": "/verify",
    }[page]
    open_page(browser, site.url(path))
    driver = browser.driver

    lang = driver.find_element(By.TAG_NAME, "html").get_dom_attribute("lang")
    assert lang and lang.strip(), "<html> has no lang"
    assert len(driver.find_elements(By.TAG_NAME, "h1")) == 1

    controls: list[Any] = driver.find_elements(
        By.CSS_SELECTOR, "input:not([type=hidden]):not([type=submit]):not([type=button]), textarea, select"
    )
    if page == "verify":
        assert len(controls) >= 2
    for control in controls:
        control_id = control.get_dom_attribute("id")
        assert control_id, f"a <{control.tag_name}> has no id, so no <label for> can name it"
        labels = driver.find_elements(By.CSS_SELECTOR, f"label[for='{control_id}']")
        assert len(labels) == 1, f"#{control_id} has {len(labels)} <label for>"
        assert labels[0].text.strip(), f"the label of #{control_id} is empty"
        if control.is_displayed():
            assert labels[0].is_displayed(), f"the label of #{control_id} is not visible"
