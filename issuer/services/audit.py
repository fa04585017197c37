"""The audit log: who did what to which object, written in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from issuer.models import AuditEvent


def record(session: Session, *, actor: str, action: str, target: str, now: datetime, **details: Any) -> None:
    session.add(AuditEvent(at=now, actor=actor, action=action, target=target, details=details))
