"""Certification credentials: build the Open Badges 3.0 payload, sign it, store it."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from issuer.context import IssuerContext
from issuer.errors import CredentialNotFound, UnknownCertification
from issuer.ids import is_credential_id, new_credential_id
from issuer.models import Candidate, Certification, CredentialRecord
from issuer.services import status_lists
from issuer.services.keyring import active_key
from verifier.timeutil import format_datetime

VCDM2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB3_SCHEMA = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"


def identity_hash(certmanager_id: str, salt: str) -> str:
    """`sha256$<hex>` of the CertManager ID plus salt (OB 3.0 IdentityObject, hashed)."""
    return "sha256$" + hashlib.sha256((certmanager_id + salt).encode("utf-8")).hexdigest()


def _identifiers(candidate: Candidate, salt: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "IdentityObject",
            "identityType": "name",
            "hashed": False,
            "identityHash": candidate.full_name,
        },
        {
            "type": "IdentityObject",
            "identityType": "identifier",
            "hashed": True,
            "identityHash": identity_hash(candidate.certmanager_id, salt),
            "salt": salt,
        },
    ]


def issuer_profile(ctx: IssuerContext) -> dict[str, Any]:
    """The issuer's Open Badges Profile (a fresh dict: callers may extend it)."""
    return {
        "id": ctx.issuer_id,
        "type": ["Profile"],
        "name": ctx.settings.issuer_name,
        "url": ctx.settings.base_url,
    }


def achievement(ctx: IssuerContext, code: str) -> dict[str, Any]:
    """The Open Badges Achievement of certification `code` (built once per process and code)."""
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


def certification_valid_from(certification: Certification) -> datetime:
    """A certification holds from the start (UTC) of the exam date that earned it."""
    return datetime.combine(certification.exam_date, time(0, 0, 0), tzinfo=UTC)


def build_certification_payload(
    ctx: IssuerContext,
    *,
    cred_id: str,
    candidate: Candidate,
    certification: Certification,
    list_id: str,
    index: int,
) -> dict[str, Any]:
    url = ctx.credential_url(cred_id)
    status_url = ctx.status_url(list_id)
    cert_def = achievement(ctx, certification.code)
    valid_from = certification_valid_from(certification)
    salt = secrets.token_hex(16)
    payload: dict[str, Any] = {
        "@context": [VCDM2_CONTEXT, OB3_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": cert_def["creator"],  # the issuer's Profile, built once with the achievement
        "name": cert_def["name"],
        "validFrom": format_datetime(valid_from),
        "validUntil": format_datetime(certification.valid_until),
        "awardedDate": format_datetime(certification.granted_at),
        "credentialSubject": {
            "id": candidate.holder_id,
            "type": ["AchievementSubject"],
            "identifier": _identifiers(candidate, salt),
            "achievement": cert_def,
        },
        "credentialStatus": {
            "id": f"{status_url}#{index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": status_lists.PURPOSE,
            "statusListIndex": str(index),
            "statusListCredential": status_url,
        },
        "credentialSchema": [{"id": OB3_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }
    payload.update(
        iss=ctx.issuer_id,
        jti=url,
        sub=candidate.holder_id,
        nbf=int(valid_from.timestamp()),
        exp=int(certification.valid_until.replace(microsecond=0).timestamp()),
    )
    return payload


def issue_for_certification(
    session: Session, ctx: IssuerContext, certification: Certification, *, now: datetime
) -> CredentialRecord:
    """Sign and store a credential for `certification` (inside the caller's transaction)."""
    key = active_key(session)
    if key is None:
        from issuer.errors import NotInitialized

        raise NotInitialized("no active signing key: run `certmanager init`")
    issued_at = now.replace(microsecond=0)
    status_list, index = status_lists.allocate_slot(session, ctx, now)
    cred_id = new_credential_id()
    candidate = certification.candidate
    payload = build_certification_payload(
        ctx,
        cred_id=cred_id,
        candidate=candidate,
        certification=certification,
        list_id=status_list.id,
        index=index,
    )
    record = CredentialRecord(
        id=cred_id,
        kind="certification",
        candidate_id=candidate.id,
        certification_id=certification.id,
        certification_code=certification.code,
        subject_name=candidate.full_name,
        jwt=ctx.signer(key).sign(payload, typ="JWT"),
        signed_by=key.thumbprint,
        status_list_id=status_list.id,
        status_index=index,
        valid_from=certification_valid_from(certification),
        valid_until=certification.valid_until,
        issued_at=issued_at,
        link_replacement=True,
    )
    session.add(record)
    session.flush()
    return record


def reissue(session: Session, ctx: IssuerContext, old: CredentialRecord, *, now: datetime) -> CredentialRecord:
    """A new credential with the same content as `old` (current name, active key, new slot)."""
    if old.kind == "certification" and old.certification is not None:
        return issue_for_certification(session, ctx, old.certification, now=now)
    raise CredentialNotFound(f"credential {old.id} cannot be reissued: it has no certification")


def get_credential(session: Session, cred_id: str) -> CredentialRecord:
    record = session.get(CredentialRecord, cred_id) if is_credential_id(cred_id) else None
    if record is None:
        raise CredentialNotFound(f"no credential {cred_id!r}")
    return record


def list_credentials(session: Session, candidate_id: str | None = None) -> list[CredentialRecord]:
    query = (
        select(CredentialRecord)
        .options(joinedload(CredentialRecord.candidate))
        .order_by(CredentialRecord.issued_at.desc(), CredentialRecord.id)
    )
    if candidate_id is not None:
        query = query.join(Candidate).where(Candidate.certmanager_id == candidate_id)
    return list(session.execute(query).scalars())


def describe(ctx: IssuerContext, record: CredentialRecord, now: datetime) -> dict[str, Any]:
    """The JSON of `certmanager credentials list/show`."""
    out: dict[str, Any] = {
        "id": record.id,
        "url": ctx.credential_url(record.id),
        "candidate_id": record.candidate.certmanager_id,
        "kind": record.kind,
        "certification": record.certification_code,
        "subject_name": record.subject_name,
        "status": record.lifecycle_status(now),
        "issued_at": format_datetime(record.issued_at),
        "valid_from": format_datetime(record.valid_from),
        "valid_until": format_datetime(record.valid_until) if record.valid_until else None,
        "kid": ctx.kid(record.signed_by),
    }
    if record.revoked_at is not None:
        out["revocation"] = {
            "reason": record.revocation_reason,
            "revoked_at": format_datetime(record.revoked_at),
            "note": record.revocation_note,
        }
    if record.replaced_by_id:
        out["replaced_by"] = ctx.credential_url(record.replaced_by_id)
    return out
