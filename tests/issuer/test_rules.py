"""Certification rules (SPEC §5.3) through the results import: grants, held prerequisites,
recertification that supersedes, and expiry reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from issuer import runtime
from issuer.cli import main
from issuer.db import get_session
from issuer.models import Certification, CredentialRecord, HeldGrant, MailMessage
from issuer.services import key_compromise, revocation
from issuer.services.reminders import send_due
from tests.issuer.feeds_support import REG_HEADER, RES_HEADER, registration, result, write

EMAIL = "ada@example.org"


class Feeds:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.n = 0

    def take(self, exam: str, exam_date: str, *, score: int = 800, email: str = EMAIL):
        """Register and sit one exam; returns the CLI outcome of the results import."""
        self.n += 1
        reg_id = f"R{self.n}"
        reg = write(
            self.tmp / f"reg{self.n}.csv", REG_HEADER, [registration(reg_id, email, exam, registered=exam_date)]
        )
        assert CliRunner().invoke(main, ["import", "registrations", str(reg)]).exit_code == 0
        res = write(self.tmp / f"res{self.n}.csv", RES_HEADER, [result(reg_id, exam, exam_date, score=score)])
        outcome = CliRunner().invoke(main, ["import", "results", str(res)])
        assert outcome.exit_code == 0, outcome.output
        return outcome


def certs(app) -> dict[str, Certification]:
    with app.app_context():
        return {c.code: c for c in get_session().execute(select(Certification)).scalars()}


def credentials(app, code: str) -> list[CredentialRecord]:
    with app.app_context():
        return list(
            get_session()
            .execute(
                select(CredentialRecord)
                .where(CredentialRecord.certification_code == code)
                .order_by(CredentialRecord.issued_at, CredentialRecord.id)
            )
            .scalars()
        )


def verify(client, record) -> dict:
    return client.post("/api/v1/verify", json={"credential": record.jwt}).get_json()


def test_pass_grants_with_expiry_same_date_three_years_on(app, tmp_path, client):
    Feeds(tmp_path).take("EX-ENT-101", "2026-10-15")
    granted = certs(app)["CNA-ENT"]
    assert granted.valid_until == datetime(2029, 10, 15, 23, 59, 59, tzinfo=UTC)
    [credential] = credentials(app, "CNA-ENT")
    assert verify(client, credential)["status"] == "valid"


def test_failure_grants_nothing(app, tmp_path):
    Feeds(tmp_path).take("EX-ENT-101", "2026-10-15", score=500)
    assert certs(app) == {}


def test_missing_prerequisite_is_held_then_granted_from_its_own_exam_date(app, tmp_path, client):
    feeds = Feeds(tmp_path)
    held = feeds.take("EX-ENT-201", "2026-10-10")
    assert "1 held for prerequisites" in held.output
    assert "CNS-ENT" not in certs(app)
    feeds.take("EX-ENT-101", "2026-10-20")
    now_held = certs(app)
    assert now_held["CNA-ENT"].valid_until == datetime(2029, 10, 20, 23, 59, 59, tzinfo=UTC)
    assert now_held["CNS-ENT"].valid_until == datetime(2029, 10, 10, 23, 59, 59, tzinfo=UTC)  # its own date
    with app.app_context():
        assert get_session().execute(select(HeldGrant)).first() is None
    # The released grant is not a new pass: it recertified nothing (CNA-ENT still has one credential).
    assert len(credentials(app, "CNA-ENT")) == 1
    assert verify(client, credentials(app, "CNS-ENT")[0])["status"] == "valid"


def test_held_grants_chain(app, tmp_path):
    feeds = Feeds(tmp_path)
    feeds.take("EX-ENT-301", "2026-09-01")  # professional: needs CNS-ENT, which needs CNA-ENT
    feeds.take("EX-ENT-201", "2026-09-15")
    assert set(certs(app)) == set()
    feeds.take("EX-ENT-101", "2026-10-01")
    assert set(certs(app)) == {"CNA-ENT", "CNS-ENT", "CNP-ENT"}


def test_same_exam_again_recertifies_and_supersedes(app, tmp_path, client):
    feeds = Feeds(tmp_path)
    feeds.take("EX-ENT-101", "2025-01-10")
    [old] = credentials(app, "CNA-ENT")
    outcome = feeds.take("EX-ENT-101", "2026-10-15")
    assert "1 recertified" in outcome.output
    assert certs(app)["CNA-ENT"].valid_until == datetime(2029, 10, 15, 23, 59, 59, tzinfo=UTC)
    both = {c.id: c for c in credentials(app, "CNA-ENT")}
    old_now = both.pop(old.id)
    [new] = both.values()
    assert old_now.revocation_reason == "superseded" and old_now.replaced_by_id == new.id
    result_old = verify(client, old)
    assert result_old["status"] == "superseded"
    assert result_old["superseded_by"] == f"http://cm.test/c/{new.id}"
    assert verify(client, new)["status"] == "valid"


def test_higher_exam_recertifies_every_active_lower_certification_of_the_track(app, tmp_path):
    feeds = Feeds(tmp_path)
    feeds.take("EX-ENT-101", "2024-03-01")
    feeds.take("EX-SEC-101", "2024-03-02")  # another track: untouched
    feeds.take("EX-ENT-201", "2025-06-01")  # recertifies CNA-ENT to 2028-06-01
    feeds.take("EX-ENT-301", "2026-10-01")
    held = certs(app)
    for code in ("CNA-ENT", "CNS-ENT", "CNP-ENT"):
        assert held[code].valid_until == datetime(2029, 10, 1, 23, 59, 59, tzinfo=UTC), code
    assert held["CNA-SEC"].valid_until == datetime(2027, 3, 2, 23, 59, 59, tzinfo=UTC)
    assert len(credentials(app, "CNA-ENT")) == 3  # granted, then two recertifications


def test_a_lower_exam_does_not_extend_a_higher_certification(app, tmp_path):
    feeds = Feeds(tmp_path)
    feeds.take("EX-ENT-101", "2025-01-01")
    feeds.take("EX-ENT-201", "2025-02-01")
    feeds.take("EX-ENT-101", "2026-10-01")
    held = certs(app)
    assert held["CNS-ENT"].valid_until == datetime(2028, 2, 1, 23, 59, 59, tzinfo=UTC)
    assert held["CNA-ENT"].valid_until == datetime(2029, 10, 1, 23, 59, 59, tzinfo=UTC)


def test_recertification_only_moves_expiry_later(app, tmp_path):
    feeds = Feeds(tmp_path)
    feeds.take("EX-ENT-101", "2026-10-15")
    feeds.take("EX-ENT-101", "2026-09-01")  # an older sitting imported late
    assert certs(app)["CNA-ENT"].valid_until == datetime(2029, 10, 15, 23, 59, 59, tzinfo=UTC)
    assert len(credentials(app, "CNA-ENT")) == 1


def revoke(app, code: str, reason: str, clock) -> None:
    [record] = [c for c in credentials(app, code) if c.revoked_at is None]
    with app.app_context():
        revocation.revoke_credential(
            get_session(), runtime.of(app).ctx, record.id, reason=reason, note=None, actor="support:test", now=clock()
        )


@pytest.mark.parametrize("reason", ["withdrawn", "issued_in_error", "misconduct"])
def test_a_revoked_certification_is_no_prerequisite_and_is_not_granted_again(app, tmp_path, clock, reason):
    feeds = Feeds(tmp_path)
    feeds.take("EX-ENT-101", "2026-09-01")
    revoke(app, "CNA-ENT", reason, clock)
    held = feeds.take("EX-ENT-201", "2026-10-01")  # needs CNA-ENT, which no longer counts
    assert "1 held for prerequisites" in held.output
    assert "CNS-ENT" not in certs(app)
    feeds.take("EX-ENT-101", "2026-10-20")  # passing again neither revives it nor releases the held grant
    [revoked] = credentials(app, "CNA-ENT")
    assert revoked.revocation_reason == reason
    assert certs(app)["CNA-ENT"].valid_until == datetime(2029, 9, 1, 23, 59, 59, tzinfo=UTC)
    assert "CNS-ENT" not in certs(app)
    with app.app_context():
        assert len(get_session().execute(select(HeldGrant)).all()) == 1


def test_a_revoked_certification_is_not_recertified_by_a_higher_exam(app, tmp_path, clock):
    feeds = Feeds(tmp_path)
    feeds.take("EX-ENT-101", "2025-01-01")
    feeds.take("EX-ENT-201", "2025-02-01")
    revoke(app, "CNA-ENT", "misconduct", clock)
    feeds.take("EX-ENT-201", "2026-10-01")  # recertifies CNS-ENT, not the revoked CNA-ENT
    held = certs(app)
    assert held["CNS-ENT"].valid_until == datetime(2029, 10, 1, 23, 59, 59, tzinfo=UTC)
    assert held["CNA-ENT"].valid_until == datetime(2028, 2, 1, 23, 59, 59, tzinfo=UTC)  # as when revoked
    assert len(credentials(app, "CNA-ENT")) == 2  # granted, recertified once before the revocation


def test_a_certification_reissued_after_a_key_compromise_still_counts(app, tmp_path, clock):
    feeds = Feeds(tmp_path)
    feeds.take("EX-ENT-101", "2026-09-01")
    [old] = credentials(app, "CNA-ENT")
    with app.app_context():
        key_compromise.mark_compromised(get_session(), runtime.of(app).ctx, old.signed_by, now=clock(), actor="test")
    feeds.take("EX-ENT-201", "2026-10-01")
    assert "CNS-ENT" in certs(app)


def test_expiry_reminders_90_and_30_days_once_each(app, tmp_path, clock):
    Feeds(tmp_path).take("EX-ENT-101", "2026-10-15")
    ctx = runtime.of(app).ctx
    expiry = datetime(2029, 10, 15, 23, 59, 59, tzinfo=UTC)

    def run(at: datetime) -> tuple[int, int]:
        with app.app_context():
            report = send_due(get_session(), ctx, now=at, actor="test")
            return report.sent_90, report.sent_30

    assert run(expiry - timedelta(days=120)) == (0, 0)
    assert run(expiry - timedelta(days=89)) == (1, 0)
    assert run(expiry - timedelta(days=80)) == (0, 0)
    assert run(expiry - timedelta(days=29)) == (0, 1)
    assert run(expiry - timedelta(days=5)) == (0, 0)
    assert run(expiry + timedelta(days=1)) == (0, 0)
    with app.app_context():
        reminders = (
            get_session().execute(select(MailMessage).where(MailMessage.kind == "expiry_reminder")).scalars().all()
        )
    assert len(reminders) == 2
    assert all(m.to_addr == EMAIL and "15 October 2029" in m.body_text for m in reminders)


def test_reminders_start_afresh_after_recertification(app, tmp_path):
    feeds = Feeds(tmp_path)
    feeds.take("EX-ENT-101", "2023-12-01")  # expires 2026-12-01: inside the 30-day window now
    ctx = runtime.of(app).ctx
    with app.app_context():
        first = send_due(get_session(), ctx, now=datetime(2026, 11, 20, tzinfo=UTC), actor="test")
    assert (first.sent_90, first.sent_30) == (0, 1)  # only the nearer one, never both at once
    feeds.take("EX-ENT-101", "2026-11-15")
    with app.app_context():
        later = send_due(get_session(), ctx, now=datetime(2029, 9, 1, tzinfo=UTC), actor="test")
    assert (later.sent_90, later.sent_30) == (1, 0)


def test_a_revoked_certification_gets_no_reminders(app, tmp_path, clock):
    feeds = Feeds(tmp_path)
    feeds.take("EX-ENT-101", "2023-12-01")  # expires 2026-12-01: inside the 30-day window now
    revoke(app, "CNA-ENT", "withdrawn", clock)
    with app.app_context():
        report = send_due(get_session(), runtime.of(app).ctx, now=datetime(2026, 11, 20, tzinfo=UTC), actor="test")
    assert (report.sent_90, report.sent_30) == (0, 0)


def test_reminders_cli(app):
    outcome = CliRunner().invoke(main, ["reminders", "send"])
    assert outcome.exit_code == 0 and "Reminders queued" in outcome.output
