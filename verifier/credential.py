"""Read a credential out of a JWT payload: both Open Badges shapes (VCDM 2.0 and the older
VCDM 1.1 `vc` claim), with exact claim types. Raises Malformed or Unsupported."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from verifier.errors import Malformed, Unsupported
from verifier.timeutil import format_datetime, parse_datetime

VCDM2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
VCDM1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
CERTIFICATION_TYPES = frozenset({"OpenBadgeCredential", "AchievementCredential"})
TRANSCRIPT_TYPES = frozenset({"ClrCredential"})
MAX_NUMERIC_DATE = 253_402_300_799  # 9999-12-31T23:59:59Z: the last date Python can represent
_INDEX = re.compile(r"^(0|[1-9][0-9]{0,9})$")


@dataclass(frozen=True)
class StatusEntry:
    purpose: str
    index: int
    list_url: str


@dataclass(frozen=True)
class Listed:
    """A certification a credential names, with the expiry signed for it."""

    code: str | None
    name: str | None
    valid_until: datetime | None

    def view(self, now: datetime) -> dict[str, Any]:
        until = self.valid_until
        return {
            "code": self.code,
            "name": self.name,
            "valid_until": _fmt(until),
            "expired": until is not None and until <= now,
        }


@dataclass
class Credential:
    """The parts of a credential the verifier checks and reports."""

    id: str | None
    kind: str
    issuer_id: str
    issuer_name: str | None
    subject_name: str | None
    certifications: list[Listed]
    valid_from: datetime | None
    valid_until: datetime | None
    remarks: str | None
    status_entries: list[StatusEntry] = field(default_factory=list)

    def public_view(self, now: datetime) -> dict[str, Any]:
        """What the verification result shows; `expired` per certification as of `now`."""
        return {
            "id": self.id,
            "kind": self.kind,
            "issuer": {"id": self.issuer_id, "name": self.issuer_name},
            "subject_name": self.subject_name,
            "certifications": [listed.view(now) for listed in self.certifications],
            "valid_from": _fmt(self.valid_from),
            "valid_until": _fmt(self.valid_until),
            "remarks": self.remarks,
            "disclosed": [],
        }


def _fmt(value: datetime | None) -> str | None:
    return format_datetime(value) if value is not None else None


def _int_claim(payload: dict[str, Any], name: str) -> int | None:
    value = payload.get(name)
    if value is None:
        if name in payload:
            raise Malformed(f"{name} is null")
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise Malformed(f"{name} must be an integer NumericDate")
    if not 0 <= value <= MAX_NUMERIC_DATE:
        raise Malformed(f"{name} is out of range")
    return value


def _str_claim(payload: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = payload.get(name)
    if value is None:
        if required or name in payload:
            raise Malformed(f"{name} is missing" if name not in payload else f"{name} is null")
        return None
    if not isinstance(value, str):
        raise Malformed(f"{name} must be a string")
    return value


def _date_field(credential: dict[str, Any], name: str) -> datetime | None:
    value = credential.get(name)
    if value is None:
        if name in credential:
            raise Malformed(f"{name} is null")
        return None
    if not isinstance(value, str):
        raise Malformed(f"{name} must be a date-time string")
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise Malformed(f"{name} is not an ISO 8601 date-time with an offset, within years 1-9999 in UTC") from exc


def _types(value: Any) -> list[str]:
    types = [value] if isinstance(value, str) else value
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise Malformed("type must be a string or a list of strings")
    return types


def _matches(claim: int | None, moment: datetime | None, what: str) -> None:
    if claim is not None and moment is not None and claim != int(moment.timestamp()):
        raise Malformed(f"{what} do not agree")


def parse_credential(payload: dict[str, Any]) -> Credential:
    """Read a credential out of a JWT payload. The caller names what it returns `unverified_*`
    until the signature over the payload verified; nothing here checks it."""
    iss = _str_claim(payload, "iss", required=True)
    assert iss is not None
    nbf = _int_claim(payload, "nbf")
    exp = _int_claim(payload, "exp")
    _int_claim(payload, "iat")
    jti = _str_claim(payload, "jti")
    sub = _str_claim(payload, "sub")

    if "vc" in payload:
        credential = payload["vc"]
        if not isinstance(credential, dict):
            raise Malformed("vc claim must be an object")
        expected_context = VCDM1_CONTEXT
    else:
        credential = payload
        expected_context = VCDM2_CONTEXT

    context = credential.get("@context")
    if not isinstance(context, list) or not context or context[0] != expected_context:
        raise Malformed(f"@context must start with {expected_context}")

    types = _types(credential.get("type"))
    if "VerifiableCredential" not in types:
        raise Malformed("type must include VerifiableCredential")
    if "BitstringStatusListCredential" in types:
        raise Unsupported("a status list credential is not a credential to verify")
    if CERTIFICATION_TYPES.intersection(types):
        kind = "certification"
    elif TRANSCRIPT_TYPES.intersection(types):
        kind = "transcript"
    else:
        raise Unsupported("only Open Badges and CLR credentials are verified here")

    issuer_value = credential.get("issuer", iss if expected_context == VCDM1_CONTEXT else None)
    if isinstance(issuer_value, dict):
        issuer_id = issuer_value.get("id")
        issuer_name = issuer_value.get("name")
        if issuer_name is not None and not isinstance(issuer_name, str):
            raise Malformed("issuer.name must be a string")
    else:
        issuer_id, issuer_name = issuer_value, None
    if not isinstance(issuer_id, str):
        raise Malformed("issuer (or issuer.id) is missing")
    if issuer_id != iss:
        raise Malformed("iss does not equal issuer.id")

    cred_id = credential.get("id", jti)
    if cred_id is not None and not isinstance(cred_id, str):
        raise Malformed("id must be a string")
    if jti is not None and cred_id != jti:
        raise Malformed("jti does not equal id")

    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict):
        raise Malformed("credentialSubject must be an object")
    subject_id = subject.get("id")
    if subject_id is not None and not isinstance(subject_id, str):
        raise Malformed("credentialSubject.id must be a string")
    if sub is not None and subject_id is not None and sub != subject_id:
        raise Malformed("sub does not equal credentialSubject.id")

    if expected_context == VCDM2_CONTEXT:
        valid_from = _date_field(credential, "validFrom")
        valid_until = _date_field(credential, "validUntil")
        _matches(nbf, valid_from, "nbf and validFrom")
        _matches(exp, valid_until, "exp and validUntil")
        if valid_from is None and nbf is not None:
            valid_from = datetime.fromtimestamp(nbf, UTC)
        if valid_until is None and exp is not None:
            valid_until = datetime.fromtimestamp(exp, UTC)
    else:
        valid_from = _date_field(credential, "issuanceDate")
        valid_until = _date_field(credential, "expirationDate")
        _matches(nbf, valid_from, "nbf and issuanceDate")
        _matches(exp, valid_until, "exp and expirationDate")
        valid_from = valid_from or (datetime.fromtimestamp(nbf, UTC) if nbf is not None else None)
        valid_until = valid_until or (datetime.fromtimestamp(exp, UTC) if exp is not None else None)
        if valid_from is None:
            raise Malformed("issuanceDate (nbf) is missing")
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise Malformed("validUntil is before validFrom")

    return Credential(
        id=cred_id,
        kind=kind,
        issuer_id=issuer_id,
        issuer_name=issuer_name,
        subject_name=_subject_name(subject),
        certifications=_certifications(kind, subject, valid_until),
        valid_from=valid_from,
        valid_until=valid_until,
        remarks=_remarks(kind, subject),
        status_entries=_status_entries(credential.get("credentialStatus")),
    )


def _subject_name(subject: dict[str, Any]) -> str | None:
    identifiers = subject.get("identifier")
    if isinstance(identifiers, dict):
        identifiers = [identifiers]
    if identifiers is not None and not (
        isinstance(identifiers, list) and all(isinstance(ident, dict) for ident in identifiers)
    ):
        raise Malformed("credentialSubject.identifier must be an object or a list of objects")
    if identifiers is not None:
        for ident in identifiers:
            if (
                isinstance(ident, dict)
                and ident.get("identityType") == "name"
                and ident.get("hashed") is False
                and isinstance(ident.get("identityHash"), str)
            ):
                return unicodedata.normalize("NFC", ident["identityHash"])
    name = subject.get("name")
    return unicodedata.normalize("NFC", name) if isinstance(name, str) else None


def _achievement_entry(achievement: Any, valid_until: datetime | None) -> Listed:
    if not isinstance(achievement, dict):
        raise Malformed("credentialSubject.achievement must be an object")
    for member in ("id", "humanCode", "name"):
        if member in achievement and not isinstance(achievement[member], str):
            raise Malformed(f"achievement.{member} must be a string")
    return Listed(achievement.get("humanCode") or achievement.get("id"), achievement.get("name"), valid_until)


def _certifications(kind: str, subject: dict[str, Any], valid_until: datetime | None) -> list[Listed]:
    if kind == "certification":
        return [_achievement_entry(subject.get("achievement"), valid_until)]
    # Transcript (CLR 2.0 shaped): one assertion per certification, each with its own expiry.
    out: list[Listed] = []
    for assertion in (
        subject.get("verifiableCredential", []) if isinstance(subject.get("verifiableCredential"), list) else []
    ):
        if not isinstance(assertion, dict):
            continue
        inner = assertion.get("credentialSubject")
        until = None
        if isinstance(assertion.get("validUntil"), str):
            try:
                until = parse_datetime(assertion["validUntil"])
            except ValueError:
                until = None
        if isinstance(inner, dict) and isinstance(inner.get("achievement"), dict):
            out.append(_achievement_entry(inner["achievement"], until))
    return out


def _remarks(kind: str, subject: dict[str, Any]) -> str | None:
    if kind != "transcript":
        return None
    remarks = subject.get("remarks")
    return remarks if isinstance(remarks, str) else None


def _status_entries(value: Any) -> list[StatusEntry]:
    if value is None:
        return []
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise Malformed("credentialStatus must be an object or a list")
    entries: list[StatusEntry] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise Malformed("each credentialStatus needs a type")
        if item["type"] != "BitstringStatusListEntry":
            raise Unsupported("this status method is not supported (only BitstringStatusListEntry)")
        purpose, index, url = item.get("statusPurpose"), item.get("statusListIndex"), item.get("statusListCredential")
        if not isinstance(purpose, str) or not isinstance(url, str) or not url:
            raise Malformed("BitstringStatusListEntry needs statusPurpose and statusListCredential")
        if not isinstance(index, str) or not _INDEX.match(index):
            raise Malformed("statusListIndex must be a base-10 integer string")
        if item.get("statusSize", 1) != 1:
            raise Unsupported("status entries wider than one bit are not supported")
        if purpose in ("revocation", "suspension"):
            entries.append(StatusEntry(purpose, int(index), url))
    return entries
