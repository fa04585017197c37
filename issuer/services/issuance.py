"""The one issuance path. Every credential — a first grant, a recertification, a reissue after a
key compromise — is issued here, many at a time, in the caller's unit of work:

    grants ──► status slots (one locked allocation) ──► payloads ──► the key ring's active
    signer ──► one bulk INSERT of the credential rows

Revocation has its own single path (`revocation.revoke`); replacing a credential is both, in
one unit of work (`reissue`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from issuer.context import IssuerContext
from issuer.db import fast_insert
from issuer.errors import CredentialNotFound
from issuer.ids import new_credential_ids
from issuer.models import Candidate, CredentialRecord
from issuer.services import keyring, mail, payloads, revocation, status_lists
from issuer.services.mail import Outgoing
from issuer.services.payloads import CertificationGrant, Holder
from issuer.services.state import lock_issuer_state

Grant = CertificationGrant  # transcripts join here as another grant type


class Issued(NamedTuple):
    id: str
    grant: Grant
    status_list_id: str
    status_index: int


def holder_of(candidate: Candidate) -> Holder:
    return Holder(candidate.id, candidate.holder_id, candidate.first_name, candidate.last_name)


Notify = Callable[[list["Issued"]], Sequence[Outgoing]]


def issue(
    session: Session, ctx: IssuerContext, grants: Sequence[Grant], *, now: datetime, notify: Notify | None = None
) -> list[Issued]:
    """Sign and store one credential per grant (in order) and queue the mail `notify` writes
    about them; nothing is committed here."""
    if not grants:
        return []
    lock_issuer_state(session)  # no key change between reading the signer and committing
    signer = keyring.active_signer(session, ctx)
    slots = status_lists.allocate(session, ctx, len(grants), signer, now)
    thumbprint = signer.kid.removeprefix(ctx.keys_prefix)
    issued_at = now.replace(microsecond=0)
    rows: list[dict[str, object]] = []
    issued: list[Issued] = []
    for grant, (list_id, index), cred_id in zip(grants, slots, new_credential_ids(len(grants)), strict=True):
        token = signer.sign(payloads.certification(ctx, grant, cred_id, list_id, index), typ="JWT")
        rows.append(
            {
                "id": cred_id,
                "kind": "certification",
                "candidate_id": grant.holder.candidate_id,
                "certification_id": grant.certification_id,
                "certification_code": grant.code,
                "subject_name": grant.holder.full_name,
                "jwt": token,
                "signed_by": thumbprint,
                "status_list_id": list_id,
                "status_index": index,
                "valid_from": grant.valid_from,
                "valid_until": grant.valid_until,
                "issued_at": issued_at,
                "link_replacement": True,
            }
        )
        issued.append(Issued(cred_id, grant, list_id, index))
    fast_insert(session, CredentialRecord.__table__, rows)  # type: ignore[arg-type]
    if notify is not None:
        mail.enqueue_many(session, notify(issued), now=now)
    return issued


def grants_for(session: Session, records: Sequence[CredentialRecord]) -> list[Grant]:
    """The grants that reissue `records` as they stand now: the holder's current name, the
    certification's current dates. Raises CredentialNotFound for a credential with no content."""
    ids = [r.id for r in records]
    loaded = {
        r.id: r
        for r in session.execute(
            select(CredentialRecord)
            .where(CredentialRecord.id.in_(ids))
            .options(joinedload(CredentialRecord.candidate), joinedload(CredentialRecord.certification))
        ).scalars()
    }
    grants: list[Grant] = []
    for cred_id in ids:
        record = loaded[cred_id]
        certification = record.certification
        if record.kind != "certification" or certification is None:
            raise CredentialNotFound(f"credential {record.id} cannot be reissued: it has no certification")
        grants.append(
            CertificationGrant(
                holder=holder_of(record.candidate),
                certification_id=certification.id,
                code=certification.code,
                exam_date=certification.exam_date,
                awarded_at=certification.granted_at,
                valid_until=certification.valid_until,
            )
        )
    return grants


def reissue(
    session: Session,
    ctx: IssuerContext,
    olds: Sequence[CredentialRecord],
    *,
    reason: str,
    note: str | None,
    actor: str,
    now: datetime,
    link: bool = True,
) -> dict[str, str]:
    """Issue a replacement for each of `olds` and revoke them with `reason`, each pointing to its
    replacement (publicly unless `link` is False). Returns old id → new id."""
    issued = issue(session, ctx, grants_for(session, olds), now=now)
    replaced = {old.id: new.id for old, new in zip(olds, issued, strict=True)}
    revocation.revoke(
        session, ctx, olds, reason=reason, note=note, actor=actor, now=now, replaced_by=replaced, link=link
    )
    return replaced
