"""Mail delivery (SPEC §5.10, §3.2 CERTMANAGER_SMTP_URL, §3.3 `certmanager mail flush`): the outbox
is delivered to a real SMTP server that the tests run on loopback (aiosmtpd), or to the spool dir.
Runs on SQLite and, in the PostgreSQL pass, on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import os
import re
import ssl
import stat
import subprocess
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from issuer import runtime
from issuer.config import load_settings
from issuer.db import get_session, unit_of_work
from issuer.errors import ConfigError
from issuer.mail_transport import (
    MessageRejected,
    Sender,
    SmtpConfig,
    SmtpTransport,
    SpoolTransport,
    TransportUnavailable,
    build_message,
    parse_smtp_url,
    transport_for,
)
from issuer.models import MailMessage
from issuer.services.mail import (
    BACKOFF,
    MAX_ATTEMPTS,
    SENDING_LEASE,
    DeliveryReport,
    Outgoing,
    deliver_all_due,
    deliver_due,
    enqueue,
)
from tests.cli_support import run_cli
from tests.conftest import FakeClock, make_app
from tests.verifier.standalone.servers import ROOT, Service, certmanager_command, free_port, wait_for

TEXT = "Hello Ada,\n\nYour certification is ready.\n"
HTML = "<p>Hello Ada,</p><p>Your certification is <b>ready</b>.</p>"
ISSUER_NAME = "Example Certification Program"


# --------------------------------------------------------------------------- the SMTP server


class Recorder:
    """aiosmtpd handler: keeps every envelope; refuses recipients at `refuse@…` for good."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if address.startswith("refuse@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=(login, password) == ("mailer", "s3cret:pw"), handled=False)


class SmtpServer:
    """A real SMTP server on 127.0.0.1:`port`, which a test can stop and start again."""

    def __init__(self, port: int, *, auth: bool = False, **smtp_options: Any) -> None:
        self.port = port
        self.recorder = Recorder()
        self._options = smtp_options
        if auth:
            self._options.update(authenticator=self.recorder.authenticate, auth_required=True)
        self._controller: Controller | None = None

    def start(self) -> None:
        assert self._controller is None
        self._controller = Controller(
            self.recorder, hostname="127.0.0.1", port=self.port, server_hostname="mail.test", **self._options
        )
        self._controller.start()

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    @property
    def envelopes(self) -> list[Any]:
        return list(self.recorder.envelopes)

    def messages(self) -> list[EmailMessage]:
        """The received messages, parsed (with SMTP's CRLF line ends made plain newlines)."""
        return [
            email.message_from_bytes(e.original_content.replace(b"\r\n", b"\n"), policy=default_policy)
            for e in self.envelopes
        ]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Any]:
        """The envelopes, once there are at least `count` (or the deadline has passed)."""
        result, _ = wait_for(lambda: len(self.recorder.envelopes), lambda n: n >= count, timeout=timeout)
        return self.envelopes


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    """A port where nothing listens yet (connections are refused) until the test starts it."""
    server = SmtpServer(free_port())
    try:
        yield server
    finally:
        server.stop()


def _mail_app(app_env: dict[str, str], clock: FakeClock, monkeypatch: pytest.MonkeyPatch, smtp_url: str | None) -> Any:
    env = dict(app_env)
    if smtp_url is not None:
        env["CERTMANAGER_SMTP_URL"] = smtp_url
    for key, value in env.items():
        monkeypatch.setenv(key, value)  # `certmanager mail flush`, run in-process, reads these
    return make_app(app_env, clock, smtp_url=smtp_url)


@pytest.fixture
def mail_app(
    app_env: dict[str, str], clock: FakeClock, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    application = _mail_app(app_env, clock, monkeypatch, f"smtp://127.0.0.1:{smtp.port}")
    yield application
    application.extensions["certmanager.db"].dispose()


@pytest.fixture
def down_app(
    app_env: dict[str, str], clock: FakeClock, smtp_down: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    application = _mail_app(app_env, clock, monkeypatch, f"smtp://127.0.0.1:{smtp_down.port}")
    yield application
    application.extensions["certmanager.db"].dispose()


@pytest.fixture
def spool_app(app_env: dict[str, str], clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("CERTMANAGER_SMTP_URL", raising=False)
    application = _mail_app(app_env, clock, monkeypatch, None)
    yield application
    application.extensions["certmanager.db"].dispose()


# --------------------------------------------------------------------------- helpers


def put(session: Any, *, now: Any, **fields: Any) -> int | None:
    return enqueue(session, Outgoing(**fields), now=now)


def queue(
    app: Any, clock: FakeClock, *, to: str = "ada@example.org", subject: str = "Your certification", **kw: Any
) -> int:
    """Enqueue one message and commit, as an event's service would; returns its outbox id."""
    with app.app_context():
        session = get_session()
        with unit_of_work(session):
            message_id = put(session, to=to, kind="test", subject=subject, text=TEXT, html=HTML, now=clock(), **kw)
        assert message_id is not None
        return message_id


def deliver(app: Any, clock: FakeClock, **kw: Any) -> DeliveryReport:
    with app.app_context():
        return deliver_due(get_session(), runtime.of(app).ctx, now=clock(), **kw)


def row(app: Any, message_id: int) -> MailMessage:
    with app.app_context():
        session = get_session()
        found = session.execute(select(MailMessage).where(MailMessage.id == message_id)).scalar_one()
        session.expunge(found)
        return found


def outbox(app: Any) -> list[MailMessage]:
    with app.app_context():
        session = get_session()
        rows = list(session.execute(select(MailMessage).order_by(MailMessage.id)).scalars())
        session.expunge_all()
        return rows


# --------------------------------------------------------------------------- the outbox and SMTP


def test_a_rolled_back_enqueue_sends_nothing(mail_app: Any, clock: FakeClock, smtp: SmtpServer) -> None:
    with mail_app.app_context():
        session = get_session()
        with pytest.raises(RuntimeError), unit_of_work(session):
            put(session, to="ada@example.org", kind="test", subject="S", text=TEXT, html=HTML, now=clock())
            raise RuntimeError("the event that caused the message failed")
    report = deliver(mail_app, clock)
    assert report == DeliveryReport()
    assert outbox(mail_app) == []
    assert smtp.envelopes == []


def test_a_committed_message_arrives_once_with_text_and_html(mail_app: Any, clock: FakeClock, smtp: SmtpServer) -> None:
    message_id = queue(mail_app, clock, subject="Your CNA-ENT certification")
    report = deliver(mail_app, clock)
    assert (report.claimed, report.sent, report.retrying, report.failed) == (1, 1, 0, 0)

    [envelope] = smtp.wait_for(1)
    assert envelope.mail_from == "no-reply@cm.test"
    assert envelope.rcpt_tos == ["ada@example.org"]
    [received] = smtp.messages()
    sender = received["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (ISSUER_NAME, "no-reply@cm.test")
    assert received["To"] == "ada@example.org"
    assert received["Subject"] == "Your CNA-ENT certification"
    assert received["Auto-Submitted"] == "auto-generated"
    assert received["Date"].datetime == clock()
    assert received.get_content_type() == "multipart/alternative"
    assert received.get_body(("plain",)).get_content() == TEXT
    assert received.get_body(("html",)).get_content().strip() == HTML

    stored = row(mail_app, message_id)
    assert (stored.status, stored.attempts, stored.sent_at, stored.last_error) == ("sent", 1, clock(), None)
    assert stored.message_id == received["Message-ID"]
    assert re.fullmatch(r"<[^<>@]+@cm\.test>", stored.message_id)

    # Nothing is ever sent twice: not now, not later.
    assert deliver(mail_app, clock) == DeliveryReport()
    clock.advance(days=2)
    assert deliver(mail_app, clock) == DeliveryReport()
    assert len(smtp.envelopes) == 1  # the server records a message before it answers 250


def test_a_text_only_message_is_a_single_part(mail_app: Any, clock: FakeClock, smtp: SmtpServer) -> None:
    with mail_app.app_context():
        session = get_session()
        with unit_of_work(session):
            put(session, to="ada@example.org", kind="test", subject="S", text=TEXT, html=None, now=clock())
    assert deliver(mail_app, clock).sent == 1
    [received] = smtp.messages()
    assert received.get_content_type() == "text/plain"
    assert received.get_content() == TEXT


def test_a_bulk_notice_is_rendered_when_it_is_sent(mail_app: Any, clock: FakeClock, smtp: SmtpServer) -> None:
    context = {"subject": "New exam results", "exams_url": "http://cm.test/exams", "first_name": "Zoë <b>",
               "certmanager_id": "JPR123456789"}  # fmt: skip
    with mail_app.app_context():
        session = get_session()
        with unit_of_work(session):
            put(session, to="zoe@example.org", kind="results_imported", subject="New exam results", text=None,
                html=None, context=context, now=clock())  # fmt: skip
            put(session, to="x@example.org", kind="results_imported", subject="Broken", text=None, html=None,
                context={"subject": "Broken"}, now=clock())  # fmt: skip
    report = deliver(mail_app, clock)
    assert (report.sent, report.failed) == (1, 1)  # a context that cannot render fails that message only
    [received] = smtp.messages()
    assert received["To"] == "zoe@example.org"
    text = received.get_body(preferencelist=("plain",)).get_content()
    html = received.get_body(preferencelist=("html",)).get_content()
    assert "Zoë <b>" in text and "JPR123456789" in text and "http://cm.test/exams" in text
    assert "Zoë &lt;b&gt;" in html and "<b>" not in html.replace("&lt;b&gt;", "")
    [broken] = [m for m in outbox(mail_app) if m.to_addr == "x@example.org"]
    assert broken.status == "failed" and "cannot render" in (broken.last_error or "")


def test_a_dedupe_key_already_queued_is_not_queued_twice(mail_app: Any, clock: FakeClock, smtp: SmtpServer) -> None:
    queue(mail_app, clock, dedupe_key="result:R-1")
    with mail_app.app_context():
        session = get_session()
        with unit_of_work(session):
            again = put(
                session,
                to="ada@example.org",
                kind="test",
                subject="S",
                text=TEXT,
                html=None,
                now=clock(),
                dedupe_key="result:R-1",
            )
            assert again is None
            # Twice in one transaction: the first is seen by the second too.
            first = put(
                session,
                to="b@example.org",
                kind="test",
                subject="S",
                text=TEXT,
                html=None,
                now=clock(),
                dedupe_key="result:R-2",
            )
            second = put(
                session,
                to="b@example.org",
                kind="test",
                subject="S",
                text=TEXT,
                html=None,
                now=clock(),
                dedupe_key="result:R-2",
            )
            assert first is not None and second is None
    assert len(outbox(mail_app)) == 2
    assert deliver(mail_app, clock).sent == 2
    assert sorted(e.rcpt_tos[0] for e in smtp.wait_for(2)) == ["ada@example.org", "b@example.org"]
    # Delivered, the key still holds: re-running the event mails nobody.
    with mail_app.app_context():
        session = get_session()
        assert (
            put(
                session,
                to="ada@example.org",
                kind="test",
                subject="S",
                text=TEXT,
                html=None,
                now=clock(),
                dedupe_key="result:R-1",
            )
            is None
        )


def test_smtp_down_keeps_the_message_pending_then_delivers_it_once(
    down_app: Any, clock: FakeClock, smtp_down: SmtpServer
) -> None:
    message_id = queue(down_app, clock)
    report = deliver(down_app, clock)
    assert (report.claimed, report.sent, report.retrying, report.failed) == (1, 0, 1, 0)
    assert "Connection refused" in (report.last_error or "")

    stored = row(down_app, message_id)
    assert (stored.status, stored.attempts, stored.sent_at) == ("pending", 1, None)
    assert stored.next_attempt_at == clock() + BACKOFF[0]
    assert f"127.0.0.1:{smtp_down.port}" in (stored.last_error or "")

    # Not due before its backoff has passed, even once the server is back.
    smtp_down.start()
    assert deliver(down_app, clock) == DeliveryReport()
    clock.advance(seconds=30)
    assert deliver(down_app, clock) == DeliveryReport()
    assert smtp_down.envelopes == []

    clock.advance(seconds=31)
    assert deliver(down_app, clock).sent == 1
    assert len(smtp_down.wait_for(1)) == 1
    stored = row(down_app, message_id)
    assert (stored.status, stored.attempts, stored.sent_at) == ("sent", 2, clock())
    clock.advance(hours=1)
    assert deliver(down_app, clock) == DeliveryReport()
    assert len(smtp_down.envelopes) == 1


def test_a_message_fails_after_the_last_attempt(down_app: Any, clock: FakeClock, smtp_down: SmtpServer) -> None:
    message_id = queue(down_app, clock)
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = deliver(down_app, clock)
        stored = row(down_app, message_id)
        assert stored.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert (report.retrying, stored.status) == (1, "pending")
            waits.append(stored.next_attempt_at - clock())
            clock.advance(seconds=(stored.next_attempt_at - clock()).total_seconds())
        else:
            assert (report.failed, stored.status) == (1, "failed")
            assert stored.last_error
    assert tuple(waits) == BACKOFF  # 1 min, 5 min, 30 min, 2 h, 12 h
    smtp_down.start()
    clock.advance(days=30)
    assert deliver(down_app, clock) == DeliveryReport()
    assert smtp_down.envelopes == []


def test_the_last_error_never_holds_the_smtp_password(
    app_env: dict[str, str], clock: FakeClock, smtp_down: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"smtp+starttls://mailer:hunter2-secret@127.0.0.1:{smtp_down.port}"
    app = _mail_app(app_env, clock, monkeypatch, url)
    try:
        message_id = queue(app, clock)
        report = deliver(app, clock)
        assert report.retrying == 1
        assert "hunter2" not in (report.last_error or "") + (row(app, message_id).last_error or "")
        assert "hunter2" not in repr(parse_smtp_url(url))
    finally:
        app.extensions["certmanager.db"].dispose()


def test_a_sender_that_crashed_mid_send_is_retried_after_its_lease(
    mail_app: Any, clock: FakeClock, smtp: SmtpServer
) -> None:
    class Crash(BaseException):
        pass

    class CrashingTransport:
        def send(self, email: EmailMessage, *, outbox_id: int, now: dt.datetime) -> None:
            raise Crash  # the process dies between the claim and the send

        def close(self) -> None:
            pass

    message_id = queue(mail_app, clock)
    with pytest.raises(Crash):
        deliver(mail_app, clock, transport=CrashingTransport())
    stored = row(mail_app, message_id)
    assert (stored.status, stored.attempts) == ("sending", 1)

    # While the lease runs, nobody else takes it.
    assert deliver(mail_app, clock) == DeliveryReport()
    clock.advance(minutes=9)
    assert deliver(mail_app, clock) == DeliveryReport()
    clock.advance(seconds=SENDING_LEASE.total_seconds() - 9 * 60 + 1)
    assert deliver(mail_app, clock).sent == 1
    assert len(smtp.wait_for(1)) == 1
    stored = row(mail_app, message_id)
    assert (stored.status, stored.attempts) == ("sent", 2)
    [received] = smtp.messages()
    assert received["Message-ID"] == stored.message_id  # the same id as the lost attempt


def test_a_crashed_last_attempt_ends_failed_not_resent(mail_app: Any, clock: FakeClock, smtp: SmtpServer) -> None:
    message_id = queue(mail_app, clock)
    with mail_app.app_context():
        session = get_session()
        with unit_of_work(session):
            session.execute(
                update(MailMessage)
                .where(MailMessage.id == message_id)
                .values(status="sending", attempts=MAX_ATTEMPTS, next_attempt_at=clock() + SENDING_LEASE)
            )
    clock.advance(seconds=SENDING_LEASE.total_seconds() + 1)
    report = deliver(mail_app, clock)
    assert (report.claimed, report.failed, report.sent) == (1, 1, 0)
    assert row(mail_app, message_id).status == "failed"
    assert smtp.envelopes == []


def test_a_refused_recipient_fails_at_once_and_the_rest_still_go(
    mail_app: Any, clock: FakeClock, smtp: SmtpServer
) -> None:
    refused = queue(mail_app, clock, to="refuse@example.org")
    fine = queue(mail_app, clock, to="ada@example.org")
    report = deliver(mail_app, clock)
    assert (report.sent, report.failed, report.retrying) == (1, 1, 0)
    stored = row(mail_app, refused)
    assert (stored.status, stored.attempts) == ("failed", 1)
    assert "550" in (stored.last_error or "")
    assert row(mail_app, fine).status == "sent"
    assert [e.rcpt_tos for e in smtp.wait_for(1)] == [["ada@example.org"]]


def test_a_header_injection_is_never_sent(mail_app: Any, clock: FakeClock, smtp: SmtpServer) -> None:
    message_id = queue(mail_app, clock, subject="Hello\r\nBcc: victim@example.org")
    report = deliver(mail_app, clock)
    assert (report.claimed, report.failed, report.sent) == (1, 1, 0)
    stored = row(mail_app, message_id)
    assert stored.status == "failed"
    assert "cannot build the message" in (stored.last_error or "")
    assert smtp.envelopes == []


def test_smtp_down_stops_the_batch_instead_of_waiting_on_every_message(
    down_app: Any, clock: FakeClock, smtp_down: SmtpServer
) -> None:
    ids = [queue(down_app, clock, to=f"c{i}@example.org") for i in range(5)]
    connects: list[int] = []

    class CountingTransport(SmtpTransport):
        def _connect(self) -> Any:
            connects.append(1)
            return super()._connect()

    report = deliver(down_app, clock, transport=CountingTransport(parse_smtp_url(f"smtp://127.0.0.1:{smtp_down.port}")))
    assert (report.claimed, report.retrying) == (5, 5)
    assert len(connects) == 1
    assert {row(down_app, i).status for i in ids} == {"pending"}


# --------------------------------------------------------------------------- concurrency


def test_concurrent_deliveries_never_send_a_message_twice(mail_app: Any, clock: FakeClock, smtp: SmtpServer) -> None:
    count = 60
    with mail_app.app_context():
        session = get_session()
        with unit_of_work(session):
            for i in range(count):
                put(session, to=f"c{i}@example.org", kind="test", subject=f"#{i}", text=TEXT, html=None, now=clock())
    database = mail_app.extensions["certmanager.db"]
    ctx = runtime.of(mail_app).ctx
    barrier = threading.Barrier(3)
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with database.session() as session:
                barrier.wait(timeout=10)
                transport = transport_for(ctx.settings)
                reports.append(deliver_all_due(session, ctx, now=clock(), transport=transport, limit=7))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sum(r.sent for r in reports) == count
    assert sum(r.claimed for r in reports) == count
    envelopes = smtp.wait_for(count)
    recipients = [e.rcpt_tos[0] for e in envelopes]
    assert len(recipients) == count
    assert sorted(recipients) == sorted(f"c{i}@example.org" for i in range(count))
    assert {m.status for m in outbox(mail_app)} == {"sent"}
    assert all(m.attempts == 1 for m in outbox(mail_app))


@pytest.mark.slow
def test_concurrent_flush_processes_never_send_a_message_twice(
    mail_app: Any, clock: FakeClock, smtp: SmtpServer, tmp_path: Path
) -> None:
    count = 300
    with mail_app.app_context():
        session = get_session()
        with unit_of_work(session):
            for i in range(count):
                put(session, to=f"p{i}@example.org", kind="test", subject=f"#{i}", text=TEXT, html=None, now=clock())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [*certmanager_command(), "mail", "flush"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, errout) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, errout[-3000:]
    sent = [int(m.group(1)) for _o, e in outputs for m in [re.search(r"mail: (\d+) sent", e)] if m]
    assert sum(sent) == count, sent
    recipients = [e.rcpt_tos[0] for e in smtp.wait_for(count)]
    assert sorted(recipients) == sorted(f"p{i}@example.org" for i in range(count))
    assert {m.status for m in outbox(mail_app)} == {"sent"}


# --------------------------------------------------------------------------- spool


def test_without_an_smtp_url_each_message_is_spooled_as_a_0600_eml(spool_app: Any, clock: FakeClock) -> None:
    ids = [queue(spool_app, clock, to=f"c{i}@example.org", subject=f"Message {i}") for i in range(2)]
    report = deliver(spool_app, clock)
    assert report.sent == 2
    spool = Path(runtime.of(spool_app).ctx.settings.instance_dir) / "mail"
    files = sorted(spool.iterdir())
    assert [f.name for f in files if not f.name.endswith(".eml")] == []  # no temp file left behind
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700
    stamp = clock().strftime("%Y%m%dT%H%M%S%fZ")
    assert [f.name for f in files] == [f"{stamp}-{i}.eml" for i in ids]
    for i, path in enumerate(files):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        parsed = email.message_from_bytes(path.read_bytes(), policy=default_policy)
        assert parsed["To"] == f"c{i}@example.org"
        assert parsed["Subject"] == f"Message {i}"
        assert parsed["From"].addresses[0].addr_spec == "no-reply@cm.test"
        assert parsed["Message-ID"] == row(spool_app, ids[i]).message_id
        assert parsed.get_body(("plain",)).get_content() == TEXT
        assert parsed.get_body(("html",)).get_content().strip() == HTML
    assert {m.status for m in outbox(spool_app)} == {"sent"}
    assert deliver(spool_app, clock) == DeliveryReport()
    assert len(list(spool.iterdir())) == 2


def test_an_unwritable_spool_is_retried(tmp_path: Path, spool_app: Any, clock: FakeClock) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    message_id = queue(spool_app, clock)
    report = deliver(spool_app, clock, transport=SpoolTransport(blocker / "mail"))
    assert report.retrying == 1
    assert "mail spool" in (row(spool_app, message_id).last_error or "")


# --------------------------------------------------------------------------- TLS and login


def _tls_contexts(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for 127.0.0.1, and a client trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")  # smtps: TLS from the start
@pytest.mark.parametrize("scheme", ["smtp+starttls", "smtps"])
def test_tls_and_login(
    scheme: str, tmp_path: Path, app_env: dict[str, str], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_tls, client_tls = _tls_contexts(tmp_path)
    port = free_port()
    if scheme == "smtps":  # TLS from the first byte (aiosmtpd only counts STARTTLS as TLS for AUTH)
        options: dict[str, Any] = {"ssl_context": server_tls, "auth_require_tls": False}
    else:
        options = {"tls_context": server_tls, "require_starttls": True}
    server = SmtpServer(port, auth=True, **options)
    server.start()
    app = _mail_app(app_env, clock, monkeypatch, None)
    try:
        good = queue(app, clock)
        config = parse_smtp_url(f"{scheme}://mailer:s3cret%3Apw@127.0.0.1:{port}")
        assert deliver(app, clock, transport=SmtpTransport(config, ssl_context=client_tls)).sent == 1
        assert [e.rcpt_tos for e in server.wait_for(1)] == [["ada@example.org"]]
        assert server.recorder.logins == [("mailer", "s3cret:pw")]
        assert row(app, good).status == "sent"

        bad = queue(app, clock, to="bob@example.org")
        wrong = parse_smtp_url(f"{scheme}://mailer:wrong-pw@127.0.0.1:{port}")
        report = deliver(app, clock, transport=SmtpTransport(wrong, ssl_context=client_tls))
        assert report.retrying == 1
        stored = row(app, bad)
        assert stored.status == "pending"
        assert "535" in (stored.last_error or "") and "wrong-pw" not in (stored.last_error or "")

        # A server whose certificate the client does not trust: no login, no message.
        logins = len(server.recorder.logins)
        clock.advance(minutes=2)
        report = deliver(app, clock, transport=SmtpTransport(config))
        assert report.retrying == 1
        assert "TLS" in (row(app, bad).last_error or "")
        assert len(server.recorder.logins) == logins
        assert len(server.envelopes) == 1
    finally:
        server.stop()
        app.extensions["certmanager.db"].dispose()


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1:2525", SmtpConfig("smtp", "127.0.0.1", 2525)),
        ("smtp://mail.example.org", SmtpConfig("smtp", "mail.example.org", 25)),
        ("smtps://user:p%40ss@mail.example.org", SmtpConfig("smtps", "mail.example.org", 465, "user", "p@ss")),
        ("smtps://user:pw@mail.example.org:2465", SmtpConfig("smtps", "mail.example.org", 2465, "user", "pw")),
        (
            "smtp+starttls://u%40x:pw@mail.example.org",
            SmtpConfig("smtp+starttls", "mail.example.org", 587, "u@x", "pw"),
        ),
        ("SMTP+STARTTLS://mail.example.org:2587/", SmtpConfig("smtp+starttls", "mail.example.org", 2587)),
    ],
)
def test_smtp_urls(url: str, expected: SmtpConfig) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example.org",
        "mail.example.org:25",
        "smtp://",
        "smtp://mail.example.org:99999",
        "smtp://mail.example.org:port",
        "smtp://mail.example.org/inbox",
        "smtp://mail.example.org?tls=1",
        "smtps://user@mail.example.org",
        "smtp://user:topsecret@mail.example.org",
    ],
)
def test_bad_smtp_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_smtp_url(url)
    assert "CERTMANAGER_SMTP_URL" in caught.value.message
    assert "topsecret" not in caught.value.message
    assert caught.value.exit_code == 2


def test_transport_for_settings(app_env: dict[str, str], clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _mail_app(app_env, clock, monkeypatch, None)
    settings = runtime.of(app).ctx.settings
    app.extensions["certmanager.db"].dispose()
    spool = transport_for(settings)
    assert isinstance(spool, SpoolTransport)
    assert spool.directory == Path(settings.instance_dir) / "mail"
    smtp = transport_for(settings.with_overrides(smtp_url="smtps://u:p@mail.example.org"))
    assert isinstance(smtp, SmtpTransport)
    assert smtp.config.port == 465
    with pytest.raises(ConfigError):
        transport_for(settings.with_overrides(smtp_url="smtp//nope"))


@pytest.mark.parametrize(
    ("base_url", "domain"),
    [
        ("https://certs.example.org", "certs.example.org"),
        ("http://127.0.0.1:5000", "[127.0.0.1]"),
        ("http://[::1]:5000", "[IPv6:::1]"),
    ],
)
def test_mail_is_from_no_reply_at_the_base_url_host(base_url: str, domain: str, tmp_path: Path) -> None:
    settings = load_settings({}, instance_dir=tmp_path, base_url=base_url, issuer_name="Acme Certs")
    sender = Sender.from_settings(settings)
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    built = build_message(
        sender=sender, to="a@example.org", subject="S", text="t", html=None, message_id=f"<1@{domain}>", now=now
    )
    parsed = email.message_from_bytes(built.as_bytes(), policy=default_policy)
    address = parsed["From"].addresses[0]
    assert (address.display_name, address.addr_spec) == ("Acme Certs", f"no-reply@{domain}")
    assert parsed["Date"].datetime == now


def test_errors_carry_stable_codes() -> None:
    assert TransportUnavailable("x").code == "mail_transport_unavailable"
    assert MessageRejected("x").code == "mail_rejected"


# --------------------------------------------------------------------------- the CLI


def test_mail_flush_delivers_what_is_due(mail_app: Any, clock: FakeClock, smtp: SmtpServer, runner: Any) -> None:
    for i in range(3):
        queue(mail_app, clock, to=f"c{i}@example.org")
    result = run_cli(runner, "mail", "flush")
    assert result.exit_code == 0, result.output
    assert "mail: 3 sent, 0 to retry, 0 failed" in result.stderr
    assert len(smtp.wait_for(3)) == 3
    again = run_cli(runner, "mail", "flush")
    assert again.exit_code == 0, again.output
    assert "mail: 0 sent" in again.stderr
    assert len(smtp.envelopes) == 3


def test_mail_flush_reports_a_server_that_is_down(down_app: Any, clock: FakeClock, runner: Any) -> None:
    queue(down_app, clock)
    result = run_cli(runner, "mail", "flush")
    assert result.exit_code == 0, result.output
    assert "1 to retry" in result.stderr and "Connection refused" in result.stderr


@pytest.mark.parametrize("command", [("mail", "flush"), ("serve", "--port", "5999")])
def test_a_malformed_smtp_url_stops_flush_and_serve(
    command: tuple[str, ...], spool_app: Any, runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERTMANAGER_SMTP_URL", "smtp://mailer:topsecret@mail.example.org")
    result = run_cli(runner, *command)
    assert result.exit_code == 2, result.output
    assert "CERTMANAGER_SMTP_URL" in result.stderr
    assert "topsecret" not in result.output
    monkeypatch.setenv("CERTMANAGER_SMTP_URL", "http://mail.example.org")
    result = run_cli(runner, *command)
    assert result.exit_code == 2, result.output
    assert "smtp://, smtps:// or smtp+starttls://" in result.stderr


# --------------------------------------------------------------------------- background delivery


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, msg: str, *args: Any) -> None:
        self.lines.append(("info", msg % args))

    def exception(self, msg: str, *args: Any) -> None:
        self.lines.append(("exception", msg % args))


def test_the_background_loop_delivers_and_survives_failures(mail_app: Any, clock: FakeClock, smtp: SmtpServer) -> None:
    from issuer.server import MailLoop

    queue(mail_app, clock, to="first@example.org")
    loop = MailLoop(mail_app, interval=0.05)
    log = Log()
    loop.start(log)
    loop.start(log)  # a second start does nothing
    try:
        assert [e.rcpt_tos for e in smtp.wait_for(1)] == [["first@example.org"]]
        queue(mail_app, clock, to="second@example.org")
        assert len(smtp.wait_for(2)) == 2
    finally:
        loop.stop()
    assert ("info", "mail: 1 sent, 0 to retry, 0 failed") in log.lines
    assert len(smtp.envelopes) == 2

    class BrokenDatabase:
        def session(self) -> Any:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

        def dispose(self) -> None:
            pass

    loop.tick(BrokenDatabase(), log)  # logged, not raised
    assert log.lines[-1][0] == "exception"


def test_serve_runs_the_mail_loop_and_the_verifier_does_not(mail_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from issuer import server
    from verifier.settings import verifier_settings
    from verifier.standalone import create_verifier_app

    started: list[dict[str, Any]] = []

    class FakeGunicorn:
        def __init__(self, app: Any, options: dict[str, Any]) -> None:
            started.append(options)

        def run(self) -> None:
            pass

    monkeypatch.setattr(server, "_Gunicorn", FakeGunicorn)
    server.run(mail_app, host="127.0.0.1", port=1, workers=1)
    server.run(mail_app, host="127.0.0.1", port=1, workers=1, deliver_mail=False)
    verifier_app = create_verifier_app(verifier_settings(env={}, trusted=("http://127.0.0.1:5000",)))
    server.run(verifier_app, host="127.0.0.1", port=1, workers=1)
    assert ["when_ready" in options for options in started] == [True, False, False]
    assert callable(started[0]["when_ready"]) and callable(started[0]["on_exit"])


@pytest.mark.slow
def test_certmanager_serve_delivers_in_the_background(
    mail_app: Any, clock: FakeClock, smtp: SmtpServer, app_env: dict[str, str], tmp_path: Path
) -> None:
    from issuer.services.setup import initialize

    with mail_app.app_context():
        initialize(get_session(), runtime.of(mail_app).ctx, now=clock())
    queue(mail_app, clock, to="before@example.org")
    port = free_port()
    env = {**os.environ, **app_env, "CERTMANAGER_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}"}
    service = Service("issuer", ["serve", "--port", str(port), "--workers", "2"], env=env, port=port, log_dir=tmp_path)
    service.start(ready_path="/readyz")
    try:
        assert len(smtp.wait_for(1, timeout=30)) == 1, service.log_tail()
        queue(mail_app, clock, to="after@example.org")  # picked up by a later pass of the loop
        assert len(smtp.wait_for(2, timeout=30)) == 2, service.log_tail()
    finally:
        service.stop()
    # One loop in the master, not one per worker: each message arrived exactly once.
    assert sorted(e.rcpt_tos[0] for e in smtp.envelopes) == ["after@example.org", "before@example.org"]
    assert {m.status for m in outbox(mail_app)} == {"sent"}
