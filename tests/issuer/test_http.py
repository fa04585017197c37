"""The public HTTP contract (SPEC §3.4): content negotiation, the verify API's envelopes and
limits, CORS without cookies, discovery documents, the credential page, and 503 when the
database is down."""

from __future__ import annotations

import json
import re
from base64 import urlsafe_b64decode
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.conftest import BASE_URL, PASSPHRASE, SECRET, make_app

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM
    body = json.loads(response.get_data(as_text=True))
    assert body["status"] == status
    assert isinstance(body.get("title"), str)
    if code is not None:
        assert body["code"] == code
    assert "Traceback" not in response.get_data(as_text=True)
    return body


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: list[str] = []
        self.images: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "meta" and ("property" in a or "name" in a):
            self.meta[a.get("property") or a["name"]] = a.get("content", "")
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])
        elif tag == "img":
            self.images.append(a)


# --- /c/<id> content negotiation -----------------------------------------------------------


def test_unknown_credential_is_404_html_for_people(client: Any) -> None:
    response = client.get("/c/" + "Z" * 22, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("ref", ["Z" * 22, "Z" * 22 + ".jwt", "not-an-id"])
def test_unknown_credential_is_problem_json_for_machines(client: Any, ref: str) -> None:
    response = client.get(f"/c/{ref}", headers={"Accept": "application/json"})
    assert_problem(response, 404, "credential_not_found")


@pytest.mark.parametrize("ref", ["Z" * 22 + ".jwt", "Z" * 22 + ".vc.jwt", "not-an-id.jwt", "Z" * 22 + ".pdf"])
def test_an_unknown_credential_document_is_problem_json_even_for_a_browser(client: Any, ref: str) -> None:
    # A browser asking for the .jwt of an unknown id gets problem+json, not an HTML page (SPEC §3.4).
    response = client.get(f"/c/{ref}", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert_problem(response, 404, "credential_not_found")
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_jwt_is_served_exactly_as_signed(client: Any, factory: Any) -> None:
    record = factory.certified("CNA-ENT")
    by_suffix = client.get(f"/c/{record.id}.jwt")
    assert by_suffix.status_code == 200
    assert by_suffix.mimetype == "application/vc+jwt"
    assert by_suffix.get_data(as_text=True) == record.jwt
    by_accept = client.get(f"/c/{record.id}", headers={"Accept": "application/vc+jwt"})
    assert by_accept.status_code == 200
    assert by_accept.mimetype == "application/vc+jwt"
    assert by_accept.get_data(as_text=True) == record.jwt


@pytest.mark.parametrize(
    ("accept", "mimetype"),
    [
        ("application/vc+jwt, */*;q=0.1", "application/vc+jwt"),
        ("application/vc+jwt, text/html;q=0.5", "application/vc+jwt"),
        ("application/json, */*;q=0.1", "application/json"),
        ("text/html, application/vc+jwt;q=0.5", "text/html"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html"),
        ("*/*", "text/html"),
    ],
)
def test_content_negotiation_follows_q_values(client: Any, factory: Any, accept: str, mimetype: str) -> None:
    """RFC 9110 §12.5.1: the client's preference (q) decides, whatever fallback it also lists."""
    record = factory.certified("CNA-ENT")
    response = client.get(f"/c/{record.id}", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.mimetype == mimetype
    if mimetype == "application/vc+jwt":
        assert response.get_data(as_text=True) == record.jwt
    assert "Accept" in response.headers.get("Vary", "")


def test_json_view_is_the_verification_result(client: Any, factory: Any) -> None:
    record = factory.certified("CNA-ENT")
    response = client.get(f"/c/{record.id}", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == "valid" and body["verified"] is True
    assert body["credential"]["id"] == f"{BASE_URL}/c/{record.id}"
    assert body["credential"]["subject_name"] == "Ada Lovelace"


# --- POST /api/v1/verify --------------------------------------------------------------------


@pytest.mark.parametrize(
    "send",
    [
        lambda c, t: c.post("/api/v1/verify", json={"credential": t}),
        lambda c, t: c.post("/api/v1/verify", data=t, content_type="application/vc+jwt"),
        lambda c, t: c.post("/api/v1/verify", data=t, content_type="text/plain; charset=utf-8"),
    ],
    ids=["json", "vc+jwt", "text/plain"],
)
def test_verify_api_envelopes(client: Any, factory: Any, send: Any) -> None:
    record = factory.certified("CNA-ENT")
    response = send(client, record.jwt)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == "valid" and body["verified"] is True
    assert {c["check"] for c in body["checks"]} >= {"format", "signature", "issuer", "validity_period", "status"}
    assert body["checked_at"]


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"token": "x"}', "application/json"),
        (b'["a.b.c"]', "application/json"),
        (b'{"credential": 42}', "application/json"),
        (b'{"credential": null}', "application/json"),
        (b"credential=a.b.c", "application/x-www-form-urlencoded"),
        (b"a.b.c", "image/png"),
        # Two parsers could read a different token out of these: refused, never guessed.
        (b'{"credential": "a.b.c", "credential": "d.e.f"}', "application/json"),
        (b'{"credential": "a.b.c", "n": NaN}', "application/json"),
        (b'{"credential": "a.b.c\\udfff"}', "application/json"),
    ],
    ids=[
        "not-json",
        "no-credential",
        "not-object",
        "number",
        "null",
        "form",
        "unsupported-type",
        "duplicate-credential",
        "nan",
        "lone-surrogate",
    ],  # fmt: skip
)
def test_bad_envelopes_are_400_problems(client: Any, data: bytes, content_type: str) -> None:
    response = client.post("/api/v1/verify", data=data, content_type=content_type)
    assert_problem(response, 400)
    assert response.headers.get("Access-Control-Allow-Origin") == "*"


def test_verify_api_only_takes_post(client: Any) -> None:
    assert_problem(client.get("/api/v1/verify"), 405)


def test_empty_token_is_malformed(client: Any) -> None:
    for response in (
        client.post("/api/v1/verify", json={"credential": ""}),
        client.post("/api/v1/verify", data=b"", content_type="text/plain"),
    ):
        assert response.status_code == 200
        body = response.get_json()
        assert body["status"] == "malformed" and body["verified"] is False


def test_oversized_body_is_413_problem(client: Any) -> None:
    response = client.post("/api/v1/verify", json={"credential": "a" * (64 * 1024 + 10)})
    assert_problem(response, 413)
    assert response.headers.get("Access-Control-Allow-Origin") == "*"
    raw = client.post("/api/v1/verify", data=b"a" * (64 * 1024 + 1), content_type="text/plain")
    assert_problem(raw, 413)


@pytest.fixture
def limited_client(app: Any, app_env: dict[str, str], clock: Any) -> Any:
    limited = make_app(app_env, clock, ratelimit_verify="3/minute")
    yield limited.test_client()
    limited.extensions["certmanager.db"].dispose()


PREFLIGHT = {
    "Origin": "https://employer.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "Content-Type",
}


def test_rate_limit_is_429_problem(limited_client: Any) -> None:
    for _ in range(3):
        assert limited_client.post("/api/v1/verify", json={"credential": ""}).status_code == 200
    response = limited_client.post("/api/v1/verify", json={"credential": ""}, headers={"Origin": "https://x.example"})
    assert_problem(response, 429, "rate_limited")
    assert response.headers.get("Access-Control-Allow-Origin") == "*"  # a browser client can read it


def test_preflights_do_not_use_up_the_verify_limit(limited_client: Any) -> None:
    """A CORS preflight carries no token and is not a verification. Counting it halves a browser
    client's quota, and a preflight answered 429 makes the browser report an opaque CORS failure
    instead of letting the page read the 429 problem."""
    for _ in range(3):
        assert limited_client.options("/api/v1/verify", headers=PREFLIGHT).status_code in (200, 204)
    for _ in range(3):
        assert limited_client.post("/api/v1/verify", json={"credential": ""}).status_code == 200
    preflight = limited_client.options("/api/v1/verify", headers=PREFLIGHT)
    assert preflight.status_code in (200, 204)
    assert preflight.headers.get("Access-Control-Allow-Origin") == "*"
    assert_problem(limited_client.post("/api/v1/verify", json={"credential": ""}), 429, "rate_limited")


# --- CORS, cookies ----------------------------------------------------------------------------


def test_public_routes_are_cors_open_and_set_no_cookie(client: Any, factory: Any) -> None:
    record = factory.certified("CNA-ENT")
    part = record.jwt.split(".")[1]
    status_url = json.loads(urlsafe_b64decode(part + "=" * (-len(part) % 4)))["credentialStatus"][
        "statusListCredential"
    ]
    thumbprint = client.get("/.well-known/jwks.json").get_json(force=True)["keys"][0]["kid"].rsplit("/", 1)[-1]
    origin = {"Origin": "https://employer.example"}
    gets = [
        ("/.well-known/jwks.json", {}),
        (f"/keys/{thumbprint}", {}),
        ("/.well-known/did.json", {}),
        ("/issuer", {}),
        (status_url.removeprefix(BASE_URL), {}),
        (f"/c/{record.id}", {"Accept": "text/html"}),
        (f"/c/{record.id}", {"Accept": "application/json"}),
        (f"/c/{record.id}.jwt", {}),
        (f"/c/{record.id}/qr.png", {}),
        (f"/c/{record.id}/qr.svg", {}),
    ]
    for path, headers in gets:
        response = client.get(path, headers={**origin, **headers})
        assert response.status_code == 200, path
        assert response.headers.get("Access-Control-Allow-Origin") == "*", path
        assert "Set-Cookie" not in response.headers, path
        assert response.headers.get("Access-Control-Allow-Credentials") != "true", path
    posted = client.post("/api/v1/verify", json={"credential": record.jwt}, headers=origin)
    assert posted.status_code == 200
    assert posted.headers.get("Access-Control-Allow-Origin") == "*"
    assert "Set-Cookie" not in posted.headers
    missing = client.get("/c/" + "Z" * 22, headers={**origin, "Accept": "application/json"})
    assert missing.headers.get("Access-Control-Allow-Origin") == "*"
    assert "Set-Cookie" not in missing.headers


def test_preflight_on_the_verify_api(client: Any) -> None:
    response = client.options("/api/v1/verify", headers=PREFLIGHT)
    assert response.status_code in (200, 204)
    assert response.headers.get("Access-Control-Allow-Origin") == "*"
    assert "POST" in response.headers.get("Access-Control-Allow-Methods", "")
    assert "content-type" in response.headers.get("Access-Control-Allow-Headers", "").lower()
    assert "Set-Cookie" not in response.headers


# --- health and discovery documents ------------------------------------------------------------


def test_health_endpoints(client: Any) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_did_web_document(client: Any) -> None:
    response = client.get("/.well-known/did.json")
    assert response.status_code == 200
    doc = json.loads(response.get_data(as_text=True))
    assert doc["id"] == "did:web:cm.test"
    methods = doc["verificationMethod"]
    assert methods
    jwks = client.get("/.well-known/jwks.json").get_json(force=True)["keys"]
    assert [m["publicKeyJwk"] for m in methods] == jwks
    for method in methods:
        assert method["type"] == "JsonWebKey"
        assert method["controller"] == "did:web:cm.test"
        assert method["id"].startswith("did:web:cm.test#")
        assert "d" not in method["publicKeyJwk"]
    assert set(doc["assertionMethod"]) == {m["id"] for m in methods}


def test_issuer_profile(client: Any) -> None:
    response = client.get("/issuer")
    assert response.status_code == 200
    profile = json.loads(response.get_data(as_text=True))
    assert profile["id"] == f"{BASE_URL}/issuer"
    types = profile["type"] if isinstance(profile["type"], list) else [profile["type"]]
    assert "Profile" in types
    assert profile["name"]


# --- the credential page -------------------------------------------------------------------


def test_credential_page(client: Any, factory: Any) -> None:
    record = factory.certified("CNA-ENT", first="Grace", last="Hopper")
    url = f"{BASE_URL}/c/{record.id}"
    response = client.get(f"/c/{record.id}", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    page = PageParser()
    page.feed(html)

    assert page.meta.get("og:title")
    assert page.meta.get("og:type")
    assert page.meta.get("og:url") == url
    assert page.meta.get("og:image", "").startswith(BASE_URL + "/")
    assert "Grace Hopper" in html
    cert_name = client.get("/achievements/CNA-ENT").get_json()["name"]
    assert cert_name in html
    assert any("/qr." in img.get("src", "") and img.get("alt") for img in page.images)

    def link(prefix: str) -> str:
        found = [h for h in page.links if h.startswith(prefix)]
        assert found, f"no {prefix} link in {page.links}"
        return found[0]

    linkedin = parse_qs(urlsplit(link("https://www.linkedin.com/profile/add")).query)
    assert linkedin["certUrl"] == [url]
    assert linkedin["name"] == [cert_name]
    tweet = parse_qs(urlsplit(link("https://x.com/intent/tweet")).query)
    assert tweet["url"] == [url]
    facebook = parse_qs(urlsplit(link("https://www.facebook.com/sharer")).query)
    assert facebook["u"] == [url]
    assert url in unquote(link("mailto:"))

    # Without JavaScript the verdict is already in the HTML.
    assert re.search(r"<h1[^>]*>\s*Valid\s*</h1>", html)


# --- database unreachable ------------------------------------------------------------------


@pytest.fixture
def down_client(app_env: dict[str, str], clock: Any) -> Any:
    broken = make_app(
        app_env,
        clock,
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/x",
        secret_key=SECRET,
        key_passphrase=PASSPHRASE,
    )
    yield broken.test_client()
    broken.extensions["certmanager.db"].dispose()


def test_database_down_credential_page_is_503(down_client: Any) -> None:
    html = down_client.get("/c/" + "Q" * 22, headers={"Accept": "text/html"})
    assert html.status_code == 503
    assert html.headers.get("Retry-After")
    assert "Traceback" not in html.get_data(as_text=True)
    as_json = down_client.get("/c/" + "Q" * 22, headers={"Accept": "application/json"})
    assert_problem(as_json, 503)
    assert as_json.headers.get("Retry-After")


def test_database_down_verify_api_is_503_status_unavailable(down_client: Any, factory: Any) -> None:
    token = factory.certified("CNA-ENT").jwt  # genuine, issued while the database was up
    response = down_client.post("/api/v1/verify", json={"credential": token})
    assert response.status_code == 503
    assert response.headers.get("Retry-After")
    body = json.loads(response.get_data(as_text=True))
    assert body["status"] == "status_unavailable"
    assert body["verified"] is False
    assert isinstance(body["checks"], list) and body["checked_at"]


def test_database_down_readyz_is_a_503_problem_and_healthz_still_answers(down_client: Any) -> None:
    body = assert_problem(down_client.get("/readyz"), 503, "database_unavailable")  # whatever it accepts
    assert body["detail"]
    assert down_client.get("/healthz").status_code == 200


def test_credential_page_escapes_what_the_credential_says(client: Any, factory: Any) -> None:
    record = factory.certified("CNA-ENT", first="<script>alert(1)</script>", last="O'Brien & Co")
    html = client.get(f"/c/{record.id}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "O&#39;Brien &amp; Co" in html or "O&#x27;Brien &amp; Co" in html


@pytest.mark.parametrize("path", ["/.well-known/jwks.json", "/status/" + "Q" * 16, "/.well-known/did.json"])
def test_database_down_public_documents_are_503(down_client: Any, path: str) -> None:
    response = down_client.get(path, headers={"Accept": "application/json"})
    assert_problem(response, 503)
    assert response.headers.get("Retry-After")
    assert response.headers.get("Access-Control-Allow-Origin") == "*"


def test_behind_trusted_proxies_the_client_address_comes_from_x_forwarded_for(app_env, clock, factory) -> None:
    proxied = make_app(app_env, clock, ratelimit_verify="1/minute", trusted_proxies=1)
    client = proxied.test_client()
    token = factory.certified().jwt

    def post(ip: str) -> int:
        return client.post("/api/v1/verify", json={"credential": token}, headers={"X-Forwarded-For": ip}).status_code

    assert [post("203.0.113.7"), post("203.0.113.8"), post("203.0.113.7")] == [200, 200, 429]
    proxied.extensions["certmanager.db"].dispose()

    direct = make_app(app_env, clock, ratelimit_verify="1/minute")  # no trusted proxy: the header is ignored
    client = direct.test_client()
    statuses = [
        client.post("/api/v1/verify", json={"credential": token}, headers={"X-Forwarded-For": ip}).status_code
        for ip in ("203.0.113.7", "203.0.113.8")
    ]
    assert statuses == [200, 429]
    direct.extensions["certmanager.db"].dispose()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/keys/nope", 404),
        ("/keys/" + "A" * 43, 404),
        ("/status/nope", 404),
        ("/status/" + "Q" * 16, 404),
        ("/achievements/NOPE", 404),
        ("/c/" + "Q" * 22 + ".jwt", 404),
        ("/.well-known/nope.json", 404),
    ],
)
def test_machine_documents_answer_problems_in_json_whatever_the_client_accepts(
    client: Any, path: str, status: int
) -> None:
    """Wallets and verifiers fetch these with no Accept header, or `*/*`: an HTML page would be
    read as a broken document. Every answer is problem+json with a stable code."""
    for accept in (None, "*/*", "text/html"):
        headers = {"Accept": accept} if accept else {}
        assert_problem(client.get(path, headers=headers), status)


@pytest.mark.parametrize("host", ["a..b", ".", "a" * 64, "x." + "a" * 64 + ".com", "h" * 4000])
@pytest.mark.parametrize("path", ["/", "/verify", "/login", "/c/" + "Q" * 22, "/verifier-static/cm.css"])
def test_a_host_header_no_url_can_carry_is_a_400_page_not_a_500(client: Any, host: str, path: str) -> None:
    """A probe found that such a Host made every HTML page a 500: the error page could not build
    its links without a URL adapter. It is a 400, in plain words, as a page or as problem+json."""
    page = client.get(path, headers={"Host": host, "Accept": "text/html"})
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert "Traceback" not in page.get_data(as_text=True)
    assert_problem(client.get(path, headers={"Host": host, "Accept": "application/json"}), 400)
