"""Signing certification credentials in bulk, from plain tuples (no ORM objects on the hot path).

(A worker process signing half of each chunk was tried and measured: pickling the work cost as
much as the signatures saved on two cores, so signing stays in the importing process.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from issuer.context import IssuerContext
from issuer.models import SigningKeyRecord
from issuer.services.credentials import build_certification_payload
from keys import SigningKey

# (cred_id, holder_id, certmanager_id, first_name, last_name, code, exam_date, granted_at, valid_until, list_id, index)
Item = tuple[str, str, str, str, str, str, date, datetime, datetime, str, int]


@dataclass(frozen=True)
class Holder:
    """What a payload reads of a candidate."""

    holder_id: str
    certmanager_id: str
    first_name: str
    last_name: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Granted:
    """What a payload reads of a certification."""

    code: str
    exam_date: date
    granted_at: datetime
    valid_until: datetime


def _sign(ctx: IssuerContext, signer: SigningKey, item: Item) -> str:
    cred_id, holder_id, cm_id, first, last, code, exam_date, granted_at, valid_until, list_id, index = item
    payload = build_certification_payload(
        ctx,
        cred_id=cred_id,
        candidate=Holder(holder_id, cm_id, first, last),  # type: ignore[arg-type]
        certification=Granted(code, exam_date, granted_at, valid_until),  # type: ignore[arg-type]
        list_id=list_id,
        index=index,
    )
    return signer.sign(payload, typ="JWT")


class CredentialSigner:
    """Signs certification credentials from plain tuples with one key (the active one when the
    import started)."""

    def __init__(self, ctx: IssuerContext, key: SigningKeyRecord) -> None:
        self.thumbprint = key.thumbprint
        self._ctx = ctx
        self._signer = ctx.signer(key)

    def sign(self, items: list[Item]) -> list[str]:
        return [_sign(self._ctx, self._signer, item) for item in items]
