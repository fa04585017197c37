"""Reading issued credentials: one by id, lists for the CLI, and their JSON description."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from issuer.context import IssuerContext
from issuer.errors import CredentialNotFound
from issuer.ids import is_credential_id
from issuer.models import Candidate, CredentialRecord
from verifier.timeutil import format_datetime


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
