"""Share links (STANDARDS §7): LinkedIn 'Add to profile' with 1-based months, the credential page
as certUrl and the credential id as certId; feed shares and e-mail carry only the page URL."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

from wallet_export import share_links

URL = "https://certs.example.org/c/4fJq9ZxKc2Lw8PnR3tYvB1"


def _links(**changes: object) -> object:
    values: dict[str, object] = {
        "url": URL,
        "credential_name": "Certified Network Associate (Enterprise)",
        "issuer_name": "Example & Co Certification",
        "issued": datetime(2026, 1, 15, tzinfo=UTC),
        "expires": datetime(2029, 12, 31, 23, 59, 59, tzinfo=UTC),
        "cert_id": "4fJq9ZxKc2Lw8PnR3tYvB1",
    }
    values.update(changes)
    return share_links(**values)  # type: ignore[arg-type]


def test_linkedin_add_to_profile() -> None:
    link = _links().linkedin_add_to_profile  # type: ignore[attr-defined]
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "www.linkedin.com", "/profile/add")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "startTask": "CERTIFICATION_NAME",
        "name": "Certified Network Associate (Enterprise)",
        "organizationName": "Example & Co Certification",
        "issueYear": "2026",
        "issueMonth": "1",
        "expirationYear": "2029",
        "expirationMonth": "12",
        "certUrl": URL,
        "certId": "4fJq9ZxKc2Lw8PnR3tYvB1",
    }


def test_an_organization_id_is_preferred_and_no_expiry_means_none() -> None:
    link = _links(linkedin_organization_id="1337", expires=None).linkedin_add_to_profile  # type: ignore[attr-defined]
    query = parse_qs(urlsplit(link).query)
    assert query["organizationId"] == ["1337"] and "organizationName" not in query
    assert "expirationYear" not in query and "expirationMonth" not in query


def test_feed_shares_and_mail_carry_the_page_url() -> None:
    links = _links()
    assert parse_qs(urlsplit(links.linkedin_post).query) == {"url": [URL]}  # type: ignore[attr-defined]
    assert parse_qs(urlsplit(links.facebook).query) == {"u": [URL]}  # type: ignore[attr-defined]
    x = parse_qs(urlsplit(links.x_post).query)  # type: ignore[attr-defined]
    assert x["url"] == [URL] and "Certified Network Associate" in x["text"][0]
    mail = links.email  # type: ignore[attr-defined]
    assert mail.startswith("mailto:?subject=") and URL in unquote(mail)
