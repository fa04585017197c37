"""Candidate actions over HTTP for portal tests (flaskr's AuthActions): accounts, CSRF-aware
posts, login, and the outbox."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from argon2 import Parameters, Type
from sqlalchemy import select

from issuer.db import get_session, unit_of_work
from issuer.models import AuditEvent, Candidate, MailMessage
from issuer.services import accounts, candidates
from issuer.services.accounts import passwords
from issuer.web import auth

PASSWORD = "correct horse battery staple"
FAST = Parameters(type=Type.ID, version=19, salt_len=16, hash_len=32, time_cost=1, memory_cost=1024, parallelism=1)
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def use_fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap Argon2 parameters for tests (one test checks the real ones)."""
    monkeypatch.setattr(passwords, "PASSWORD_PARAMETERS", FAST)


class Portal:
    """Candidate actions over HTTP (flaskr's AuthActions), with CSRF tokens read from the pages."""

    def __init__(self, app: Any, clock: Any) -> None:
        self.app = app
        self.clock = clock

    def candidate(self, *, password: str | None = PASSWORD, first: str = "Ada") -> Candidate:
        with self.app.app_context():
            session = get_session()
            with unit_of_work(session):
                candidate = candidates.create_candidate(
                    session,
                    email=f"{first.lower()}-{uuid.uuid4().hex[:6]}@example.org",
                    first_name=first,
                    last_name="Lovelace",
                    now=self.clock(),
                )
                if password is not None:
                    accounts.set_password(candidate, password, self.clock())
            session.expunge(candidate)
            return candidate

    def reload(self, candidate: Candidate) -> Candidate:
        with self.app.app_context():
            fresh = get_session().get(Candidate, candidate.id)
            assert fresh is not None
            get_session().expunge(fresh)
            return fresh

    @staticmethod
    def csrf(client: Any, path: str, **kwargs: Any) -> str:
        page = client.get(path, **kwargs)
        match = TOKEN_FIELD.search(page.get_data(as_text=True))
        assert match is not None, f"no CSRF token on {path}: {page.status_code}"
        return match.group(1)

    def post(self, client: Any, path: str, data: dict[str, str], *, form: str | None = None, **kwargs: Any) -> Any:
        token = self.csrf(client, form or path, **kwargs)
        return client.post(path, data={"csrf_token": token, **data}, **kwargs)

    def login(self, client: Any, identifier: str, password: str = PASSWORD, **kwargs: Any) -> Any:
        return self.post(client, "/login", {"identifier": identifier, "password": password}, **kwargs)

    def outbox(self, kind: str | None = None) -> list[MailMessage]:
        with self.app.app_context():
            query = select(MailMessage).order_by(MailMessage.id)
            if kind is not None:
                query = query.where(MailMessage.kind == kind)
            return list(get_session().execute(query).scalars())

    def audit(self, action: str) -> list[AuditEvent]:
        with self.app.app_context():
            return list(get_session().execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())

    def landing(self) -> str:
        with self.app.test_request_context():
            return auth.landing_url()
