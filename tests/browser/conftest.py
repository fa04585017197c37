"""Browser fixtures: the real app served over HTTP on loopback (werkzeug, threaded, in a
background thread) and headless Debian Chromium, one browser per (viewport, JavaScript) combo.

Chromium and chromedriver come from Debian (/usr/bin); Selenium Manager never runs because the
driver path and the browser binary are both given explicitly."""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from werkzeug.serving import make_server

from issuer import runtime
from issuer.db import get_session, unit_of_work
from issuer.services import candidates, certifications, revocation
from issuer.services.setup import initialize
from tests.conftest import PASSPHRASE, SECRET, DatabaseTarget, FakeClock, _fresh_database, make_app

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SIZES: dict[str, tuple[int, int]] = {"phone": (390, 844), "desktop": (1280, 900)}
COMBOS = [(size, js) for size in SIZES for js in (True, False)]
CERT_CODE = "CNA-ENT"
HOLDER_FIRST, HOLDER_LAST = "Grace", "Hopper"
REVOKED_FIRST, REVOKED_LAST = "Alan", "Turing"


@dataclass
class Site:
    base_url: str
    app: Any
    valid_id: str
    valid_jwt: str
    revoked_id: str
    holder_name: str
    revoked_holder_name: str
    cert_name: str

    def url(self, path: str) -> str:
        return self.base_url + path


def _issue(app: Any, now: datetime, first: str, last: str) -> Any:
    ctx = runtime.of(app).ctx
    with app.app_context():
        session = get_session()
        with unit_of_work(session):
            candidate = candidates.create_candidate(
                session,
                email=f"{first.lower()}-{uuid.uuid4().hex[:6]}@example.org",
                first_name=first,
                last_name=last,
                now=now,
            )
            _, record = certifications.grant(
                session, ctx, candidate, CERT_CODE, (now - timedelta(days=3)).date(), now=now
            )
        session.refresh(record)
        session.expunge(record)
        return record


@pytest.fixture(scope="module")
def site(database_target: DatabaseTarget, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One live server per module: a valid and a revoked credential, base URL on a free port."""
    instance_dir = tmp_path_factory.mktemp("browser-instance")
    holder: dict[str, Any] = {}

    def dispatch(environ: Any, start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    # Bind first (port 0 = a free port), so the app is built with its real base URL.
    server = make_server("127.0.0.1", 0, dispatch, threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    app_env = {
        "CERTMANAGER_INSTANCE_DIR": str(instance_dir),
        "CERTMANAGER_DATABASE_URL": _fresh_database(database_target, instance_dir),
        "CERTMANAGER_BASE_URL": base_url,
        "CERTMANAGER_SECRET_KEY": SECRET,
        "CERTMANAGER_KEY_PASSPHRASE": PASSPHRASE,
        "CERTMANAGER_RATELIMIT_VERIFY": "0",
    }
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    app = make_app(app_env, clock, base_url=base_url)
    app.config["TESTING"] = False  # serve as in production (errors as pages, CSRF as configured)
    with app.app_context():
        initialize(get_session(), runtime.of(app).ctx, now=clock())
    valid = _issue(app, clock(), HOLDER_FIRST, HOLDER_LAST)
    revoked = _issue(app, clock(), REVOKED_FIRST, REVOKED_LAST)
    with app.app_context():
        revocation.revoke_credential(
            get_session(),
            runtime.of(app).ctx,
            revoked.id,
            reason="withdrawn",
            note="browser test",
            actor="test",
            now=clock(),
        )
    holder["app"] = app
    thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
    thread.start()
    try:
        yield Site(
            base_url=base_url,
            app=app,
            valid_id=valid.id,
            valid_jwt=valid.jwt,
            revoked_id=revoked.id,
            holder_name=f"{HOLDER_FIRST} {HOLDER_LAST}",
            revoked_holder_name=f"{REVOKED_FIRST} {REVOKED_LAST}",
            cert_name=runtime.of(app).ctx.catalog.get(CERT_CODE).name,
        )
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["certmanager.db"].dispose()


def _launch(size: str, js: bool, profile_dir: Path) -> WebDriver:
    width, height = SIZES[size]
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile_dir}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    if not js:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    # Headless windows have a minimum width (500 px) and the window size is not the viewport:
    # pin the viewport itself (a phone is a mobile viewport, so <meta name=viewport> applies).
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == "phone"},
    )
    driver.set_page_load_timeout(20)
    return driver


class DriverPool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.drivers: dict[tuple[str, bool], WebDriver] = {}

    def get(self, size: str, js: bool) -> WebDriver:
        key = (size, js)
        if key not in self.drivers:
            self.drivers[key] = _launch(size, js, self.root / f"{size}-{'js' if js else 'nojs'}")
        return self.drivers[key]

    def quit_all(self) -> None:
        for driver in self.drivers.values():
            driver.quit()
        self.drivers.clear()


@pytest.fixture(scope="session")
def driver_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriverPool]:
    pool = DriverPool(tmp_path_factory.mktemp("chromium-profiles"))
    yield pool
    pool.quit_all()


@dataclass
class Browser:
    driver: WebDriver
    size: str
    js: bool

    @property
    def width(self) -> int:
        return SIZES[self.size][0]

    @property
    def height(self) -> int:
        return SIZES[self.size][1]


@pytest.fixture(params=COMBOS, ids=[f"{size}-{'js' if js else 'nojs'}" for size, js in COMBOS])
def browser(request: pytest.FixtureRequest, driver_pool: DriverPool) -> Browser:
    size, js = request.param
    driver = driver_pool.get(size, js)
    driver.delete_all_cookies()
    return Browser(driver, size, js)


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """Screenshots go to $CERTMANAGER_SCREENSHOTS when set (kept), else to the test's tmp_path."""
    configured = os.environ.get("CERTMANAGER_SCREENSHOTS")
    path = Path(configured) if configured else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def screenshot_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_") + ".png"
