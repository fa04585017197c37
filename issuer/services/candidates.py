"""Candidate records (accounts grow in the accounts service of a later issue)."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.ids import new_certmanager_id
from issuer.models import Candidate


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_by_email(session: Session, email: str) -> Candidate | None:
    return session.execute(select(Candidate).where(Candidate.email == normalize_email(email))).scalar_one_or_none()


def create_candidate(session: Session, *, email: str, first_name: str, last_name: str, now: datetime) -> Candidate:
    """A new candidate with a fresh CertManager ID (inside the caller's transaction)."""
    while True:
        certmanager_id = new_certmanager_id()
        if session.execute(select(Candidate.id).where(Candidate.certmanager_id == certmanager_id)).first() is None:
            break
    candidate = Candidate(
        certmanager_id=certmanager_id,
        email=normalize_email(email),
        first_name=unicodedata.normalize("NFC", first_name.strip()),
        last_name=unicodedata.normalize("NFC", last_name.strip()),
        holder_id=f"urn:uuid:{uuid.uuid4()}",
        created_at=now,
    )
    session.add(candidate)
    session.flush()
    return candidate
