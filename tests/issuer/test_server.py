"""`certmanager serve` as a real process (gunicorn): malformed and oversized chunked bodies are
client errors, never 500s or truncated input; the access log holds no reset token; forwarded
headers are trusted only as configured; HSTS on https."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from issuer import runtime
from issuer.db import get_session
from issuer.services.setup import initialize
from tests.conftest import Factory, FakeClock, make_app
from tests.verifier.standalone.servers import Service, free_port

pytestmark = pytest.mark.slow


class Served:
    def __init__(self, base: str, port: int, factory: Factory, service: Service) -> None:
        self.base = base
        self.port = port
        self.factory = factory
        self.service = service

    def raw(self, request: bytes) -> bytes:
        """Send `request` as it is and read the whole answer (the server closes the connection)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as conn:
            conn.sendall(request)
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture
def served(app_env: dict[str, str], clock: FakeClock, tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**app_env, "CERTMANAGER_BASE_URL": base, "CERTMANAGER_TRUSTED_PROXIES": "0"}
    app = make_app(env, clock)
    with app.app_context():
        initialize(get_session(), runtime.of(app).ctx, now=clock())
    service = Service(
        "issuer",
        ["serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, **env},
        port=port,
        log_dir=tmp_path,
    )
    service.start()
    try:
        yield Served(base, port, Factory(app, clock), service)
    finally:
        service.stop()
        app.extensions["certmanager.db"].dispose()


def _chunked(path: str, chunks: list[bytes], *, content_type: str = "application/vc+jwt") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    return head + b"".join(chunks)


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_a_chunked_token_verifies(served: Served) -> None:
    record = served.factory.certified()
    token = record.jwt.encode()
    answer = served.raw(_chunked("/api/v1/verify", [_chunk(token[:1000]), _chunk(token[1000:]), b"0\r\n\r\n"]))
    assert _status(answer) == 200
    assert b'"status": "valid"' in answer


def test_a_bad_chunk_size_is_a_400_not_a_500(served: Served) -> None:
    answer = served.raw(_chunked("/api/v1/verify", [b"zz\r\nhello\r\n0\r\n\r\n"]))
    assert _status(answer) == 400
    answer = served.raw(
        _chunked("/verify", [b"zz\r\nhello\r\n0\r\n\r\n"], content_type="application/x-www-form-urlencoded")
    )
    assert _status(answer) in (400, 413)
    assert "Traceback" not in served.service.log_tail(20000)


def test_a_chunked_body_over_64_kib_is_refused_not_cut(served: Served) -> None:
    record = served.factory.certified()
    padding = b" " * (64 * 1024)  # whitespace a truncating reader would drop, leaving a valid token
    answer = served.raw(_chunked("/api/v1/verify", [_chunk(record.jwt.encode()), _chunk(padding), b"0\r\n\r\n"]))
    assert _status(answer) == 413
    assert b"payload_too_large" in answer


@pytest.mark.parametrize("link", ["reset", "confirm-email"])
def test_the_access_log_never_holds_a_link_token(served: Served, link: str) -> None:
    token = f"Zm9vYmFyYmF6cXV4cXV1eC10aGlzLWlzLWEtdG9rZW4-{link}"
    answer = served.raw(f"GET /{link}/{token}?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    assert _status(answer) == 400  # no such link
    log = served.service.log_tail(20000)
    assert f"/{link}/[redacted]" in log
    assert token not in log


def test_forwarded_proto_from_loopback_is_not_trusted_without_proxies(served: Served) -> None:
    answer = served.raw(
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n"
    )
    assert _status(answer) == 200
    assert b"strict-transport-security" not in answer.lower()


def test_a_trusted_proxy_hop_makes_the_request_https(app_env: dict[str, str], clock: FakeClock) -> None:
    proxied = make_app(app_env, clock, trusted_proxies=1)
    try:
        answer = proxied.test_client().get(
            "/healthz", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "1.2.3.4"}
        )
        assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        proxied.extensions["certmanager.db"].dispose()


def test_hsts_when_the_base_url_is_https(app_env: dict[str, str], clock: FakeClock) -> None:
    secure: Any = make_app(app_env, clock, base_url="https://certs.example.org")
    try:
        answer = secure.test_client().get("/healthz")
        assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        secure.extensions["certmanager.db"].dispose()
