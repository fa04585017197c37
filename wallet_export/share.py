"""Share links for a credential page: LinkedIn (add to profile, post), X, Facebook, e-mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode


@dataclass(frozen=True)
class ShareLinks:
    linkedin_add_to_profile: str
    linkedin_post: str
    x_post: str
    facebook: str
    email: str


def share_links(
    *,
    url: str,
    credential_name: str,
    issuer_name: str,
    issued: datetime,
    expires: datetime | None,
    cert_id: str,
    linkedin_organization_id: str | None = None,
) -> ShareLinks:
    """Links that open each network's share dialog for `url` (STANDARDS §7)."""
    profile: dict[str, str | int] = {"startTask": "CERTIFICATION_NAME", "name": credential_name}
    if linkedin_organization_id:
        profile["organizationId"] = linkedin_organization_id
    else:
        profile["organizationName"] = issuer_name
    profile.update(issueYear=issued.year, issueMonth=issued.month)
    if expires is not None:
        profile.update(expirationYear=expires.year, expirationMonth=expires.month)
    profile.update(certUrl=url, certId=cert_id)
    text = f"I hold the {credential_name} certification from {issuer_name}."
    body = f"{text}\n\nCheck it here (signature, expiry and revocation are verified live):\n{url}\n"
    return ShareLinks(
        linkedin_add_to_profile="https://www.linkedin.com/profile/add?" + urlencode(profile),
        linkedin_post="https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": url}),
        x_post="https://x.com/intent/tweet?" + urlencode({"text": text, "url": url}),
        facebook="https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": url}),
        email=f"mailto:?subject={quote(credential_name + ' — ' + issuer_name)}&body={quote(body)}",
    )
