"""`/verify` on the issuer: paste a token or link, upload a QR photo or a baked badge (SPEC §3.4)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from tests.conftest import make_app


def _png(image: Image.Image, **text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_itxt(key, value)
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def _post(client, *, accept="text/html", **form):
    return client.post("/verify", data=form, headers={"Accept": accept}, content_type="multipart/form-data")


def test_form_has_labelled_fields_and_sets_no_cookie(client):
    response = client.get("/verify")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<label for="credential">Paste a credential or a link</label>' in html
    assert '<label for="file">' in html and 'id="file"' in html
    assert 'enctype="multipart/form-data"' in html
    assert "Set-Cookie" not in response.headers


def test_pasted_token_shows_the_verdict(client, factory):
    record = factory.certified(first="Zoë", last="Ångström")
    response = _post(client, credential=record.jwt + "\n")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<h1 class="verdict-title">Valid</h1>' in html
    assert "Zoë Ångström" in html
    assert "Set-Cookie" not in response.headers


def test_pasted_token_as_json(client, factory):
    record = factory.certified()
    body = _post(client, accept="application/json", credential=record.jwt).get_json()
    assert body["status"] == "valid" and body["verified"] is True


def test_pasted_link_leads_to_the_credential_page(client, factory):
    record = factory.certified()
    response = _post(client, credential=f"http://cm.test/c/{record.id}")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/c/{record.id}")
    as_json = _post(client, accept="application/json", credential=f"http://cm.test/c/{record.id}#share")
    assert as_json.get_json()["status"] == "valid"


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/c/AAAAAAAAAAAAAAAAAAAAAA",
        "http://cm.test/status/abc",
        "http://cm.test.evil.example/c/AAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_foreign_or_odd_links_are_refused_without_fetching(client, link, monkeypatch):
    import socket

    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("no URL may be fetched"))
    response = _post(client, credential=link)
    assert response.status_code == 422
    assert 'role="alert"' in response.get_data(as_text=True)
    problem = _post(client, accept="application/json", credential=link)
    assert problem.mimetype == "application/problem+json"
    assert problem.get_json()["code"] == "link_not_resolvable"


@pytest.mark.parametrize("link", ["http://[", "https://[::1", "http://cm.test:99999/c/AAAAAAAAAAAAAAAAAAAAAA"])
def test_text_that_only_looks_like_a_link_is_refused_in_plain_words(client, link):
    page = _post(client, credential=link)
    assert page.status_code == 422
    assert "This is not a link we can read" in page.get_data(as_text=True)
    problem = _post(client, accept="application/json", credential=link)
    assert problem.status_code == 422 and problem.get_json()["code"] == "link_not_resolvable"


@pytest.mark.parametrize(
    "link",
    ["http://cm.test/c/AAAAAAAAAAAAAAAAAAAAAA", "http://cm.test/c/short", "HTTP://CM.TEST/c/not-an-id.jwt"],
)
def test_our_own_link_with_an_unknown_id_says_there_is_no_such_credential(client, link):
    # Not "only links to this issuer can be checked": it is this issuer's link, to nothing.
    page = _post(client, credential=link)
    assert page.status_code == 404
    assert "We have no credential at this link" in page.get_data(as_text=True)
    problem = _post(client, accept="application/json", credential=link)
    assert problem.status_code == 404 and problem.get_json()["code"] == "credential_not_found"


def test_uploaded_qr_code_photo(client, factory):
    record = factory.certified()
    qr = client.get(f"/c/{record.id}/qr.png").data
    # A "photo": the code scaled up, on a grey background, as JPEG.
    code = Image.open(io.BytesIO(qr)).convert("RGB").resize((500, 500), Image.NEAREST)
    photo = Image.new("RGB", (1600, 1200), (170, 170, 160))
    photo.paste(code, (600, 350))
    jpeg = io.BytesIO()
    photo.save(jpeg, format="JPEG", quality=80)
    response = _post(client, file=(io.BytesIO(jpeg.getvalue()), "IMG_0001.jpg"))
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/c/{record.id}")
    body = _post(client, accept="application/json", file=(io.BytesIO(qr), "qr.png")).get_json()
    assert body["status"] == "valid"


def test_uploaded_baked_png_and_svg_badges(client, factory):
    record = factory.certified()
    baked_png = _png(Image.new("RGB", (64, 64), "navy"), openbadgecredential=record.jwt)
    assert (
        _post(client, accept="application/json", file=(io.BytesIO(baked_png), "badge.png")).get_json()["status"]
        == "valid"
    )
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0" '
        f'width="10" height="10"><openbadges:credential verify="{record.jwt}"></openbadges:credential>'
        '<rect width="10" height="10"/></svg>'
    ).encode()
    body = _post(client, accept="application/json", file=(io.BytesIO(svg), "badge.svg")).get_json()
    assert body["status"] == "valid"


def _big_png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("1", (width, height), 1).save(out, format="PNG", optimize=True)
    return out.getvalue()


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"%PDF-1.7 not an image", 415, "unsupported_image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, 422, "image_unreadable"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><!DOCTYPE x [<!ENTITY a 'b'>]></svg>", 422, "image_unreadable"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", 422, "no_credential_found"),
        (b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024), 413, "file_too_large"),
    ],
)
def test_bad_uploads_get_clear_errors(client, payload, status, code):
    response = _upload(client, payload, accept="application/json")
    assert response.status_code == status
    assert response.get_json()["code"] == code
    page = _upload(client, payload)
    assert page.status_code == status and 'role="alert"' in page.get_data(as_text=True)


def _upload(client, payload: bytes, accept: str = "text/html"):
    """A multipart body built by hand: the test client would spool a large one to a temporary
    file it never closes."""
    boundary = "----cmtestboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        "/verify", data=body, content_type=f"multipart/form-data; boundary={boundary}", headers={"Accept": accept}
    )


def test_pixel_floods_are_refused_before_decoding(client):
    flood = _big_png(6000, 5000)  # 30 megapixels, a few KB on disk
    assert len(flood) < 200_000
    response = _upload(client, flood, accept="application/json")
    assert response.status_code == 413 and response.get_json()["code"] == "image_too_large"


def test_image_without_a_code(client):
    blank = _png(Image.new("RGB", (300, 300), "white"))
    response = _post(client, accept="application/json", file=(io.BytesIO(blank), "blank.png"))
    assert response.status_code == 422 and response.get_json()["code"] == "no_code_found"


def test_nothing_to_verify(client):
    response = _post(client, accept="application/json", credential="   ")
    assert response.status_code == 400 and response.get_json()["code"] == "nothing_to_verify"


def test_garbage_is_not_genuine(client):
    html = _post(client, credential="definitely not a credential").get_data(as_text=True)
    assert "Not genuine" in html and "Valid</h1>" not in html


def test_uploads_are_rate_limited(app_env, clock, factory):
    limited = make_app(app_env, clock, ratelimit_verify="2/minute")
    client = limited.test_client()
    codes = [_post(client, accept="application/json", credential="x").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert client.get("/verify").status_code == 200  # the form itself is not limited
    limited.extensions["certmanager.db"].dispose()


def test_svg_with_an_unknown_encoding_is_unreadable_not_a_crash(client):
    svg = b'<?xml version="1.0" encoding="nope"?><svg xmlns="http://www.w3.org/2000/svg"/>'
    response = _upload(client, svg, accept="application/json")
    assert response.status_code == 422 and response.get_json()["code"] == "image_unreadable"


def test_links_are_matched_case_insensitively_in_scheme_and_host(client, factory):
    record = factory.certified()
    for link in (f"HTTP://CM.TEST/c/{record.id}", f"http://cm.test/c/{record.id}?utm_source=linkedin"):
        body = _post(client, accept="application/json", credential=link).get_json()
        assert body["status"] == "valid", link
    # The id itself is case-sensitive: changing its case is another (unknown) credential.
    swapped = record.id.swapcase()
    assert _post(client, accept="application/json", credential=f"http://cm.test/c/{swapped}").status_code == 404


@pytest.mark.parametrize(
    "tail", ["/qr.png", "/anything", "/", ".jwt/more", ".pdf", ".jwt.jwt"], ids=lambda t: t.replace("/", "~")
)
def test_only_a_credential_page_or_its_jwt_link_is_resolved(client, factory, tail):
    """`/c/<id>` and `/c/<id>.jwt` are links to a credential; `/c/<id>/anything` is not one, and
    is not quietly read as one."""
    record = factory.certified()
    problem = _post(client, accept="application/json", credential=f"http://cm.test/c/{record.id}{tail}")
    assert problem.status_code == 404 and problem.get_json()["code"] == "credential_not_found"
    for good in ("", ".jwt", "?src=qr"):
        body = _post(client, accept="application/json", credential=f"http://cm.test/c/{record.id}{good}").get_json()
        assert body["status"] == "valid"
