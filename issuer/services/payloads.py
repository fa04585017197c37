"""What we sign: the Open Badges 3.0 certification credential (SPEC §4), the issuer Profile and
the Achievement of each certification. Pure: plain values in, JSON-ready dicts out."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, NamedTuple

from issuer.context import IssuerContext
from issuer.errors import UnknownCertification
from verifier.timeutil import format_datetime

VCDM2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB3_SCHEMA = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
STATUS_PURPOSE = "revocation"


class Holder(NamedTuple):
    """Whom a credential is about: the opaque holder id and the name in clear (never the
    CertManager ID: a login identifier of ~30 bits is reversed from any hash of it)."""

    candidate_id: int
    holder_id: str
    first_name: str
    last_name: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class CertificationGrant(NamedTuple):
    """One certification credential to issue: the certification as it stands now."""

    holder: Holder
    certification_id: int
    code: str
    exam_date: date
    awarded_at: datetime
    valid_until: datetime

    @property
    def valid_from(self) -> datetime:
        """A certification holds from the start (UTC) of the exam date that earned it."""
        return datetime.combine(self.exam_date, time(0, 0, 0), tzinfo=UTC)


def issuer_profile(ctx: IssuerContext) -> dict[str, Any]:
    """The issuer's Open Badges Profile (a fresh dict: callers may extend it)."""
    return {"id": ctx.issuer_id, "type": ["Profile"], "name": ctx.settings.issuer_name, "url": ctx.settings.base_url}


def achievement(ctx: IssuerContext, code: str) -> dict[str, Any]:
    """The Open Badges Achievement of certification `code` (built once per process and code).
    Raises UnknownCertification."""
    cached = ctx.achievements.get(code)
    if cached is None:
        cached = ctx.achievements[code] = _achievement(ctx, code)
    return cached


def _achievement(ctx: IssuerContext, code: str) -> dict[str, Any]:
    cert = ctx.catalog.get(code)
    if cert is None:
        raise UnknownCertification(f"certification {code!r} is not in the catalog")
    exams = ", ".join(f"{e} ({ctx.catalog.exams.get(e, e)})" for e in cert.exams)
    return {
        "id": ctx.achievement_url(cert.code),
        "type": ["Achievement"],
        "achievementType": "Certification",
        "humanCode": cert.code,
        "name": cert.name,
        "description": cert.description,
        "criteria": {"narrative": f"Pass one of: {exams}. Valid for {cert.validity_years} years."},
        "fieldOfStudy": ctx.catalog.tracks.get(cert.track, cert.track),
        "tag": [cert.track, cert.level],
        "creator": issuer_profile(ctx),
    }


def name_identifier(holder: Holder) -> dict[str, Any]:
    """The holder's name in clear, as an Open Badges IdentityObject."""
    return {"type": "IdentityObject", "identityType": "name", "hashed": False, "identityHash": holder.full_name}


# Parts every certification credential shares (never mutated: JSON serialisation only reads them).
_CONTEXT = [VCDM2_CONTEXT, OB3_CONTEXT]
_TYPE = ["VerifiableCredential", "OpenBadgeCredential"]
_SUBJECT_TYPE = ["AchievementSubject"]
_SCHEMA = [{"id": OB3_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}]


def certification(
    ctx: IssuerContext, grant: CertificationGrant, cred_id: str, list_id: str, index: int
) -> dict[str, Any]:
    """The OpenBadgeCredential of `grant`, with the JWT claims of the Open Badges JWT proof."""
    url = ctx.credential_url(cred_id)
    status_url = ctx.status_url(list_id)
    definition = achievement(ctx, grant.code)
    holder = grant.holder
    valid_from = grant.valid_from
    return {
        "@context": _CONTEXT,
        "id": url,
        "type": _TYPE,
        "issuer": definition["creator"],  # the issuer's Profile, built once with the achievement
        "name": definition["name"],
        "validFrom": format_datetime(valid_from),
        "validUntil": format_datetime(grant.valid_until),
        "awardedDate": format_datetime(grant.awarded_at),
        "credentialSubject": {
            "id": holder.holder_id,
            "type": _SUBJECT_TYPE,
            "identifier": [name_identifier(holder)],
            "achievement": definition,
        },
        "credentialStatus": {
            "id": f"{status_url}#{index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": STATUS_PURPOSE,
            "statusListIndex": str(index),
            "statusListCredential": status_url,
        },
        "credentialSchema": _SCHEMA,
        "iss": ctx.issuer_id,
        "jti": url,
        "sub": holder.holder_id,
        "nbf": int(valid_from.timestamp()),
        "exp": int(grant.valid_until.replace(microsecond=0).timestamp()),
    }
