"""The capped fetcher of the stand-alone verifier (SPEC §4): which URLs it fetches at all,
redirects, size and time caps — against a real HTTP server on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from verifier.fetch import Fetcher, FetchError, fetchable, parse_max_age


class Server:
    def __init__(self) -> None:
        self.hits: list[str] = []
        self.other: Server | None = None
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self._server.server_port
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def app(self, environ, start_response):  # noqa: ANN001 - WSGI
        request = Request(environ)
        self.hits.append(request.path)
        path = request.path
        if path == "/ok":
            response = Response("hello", headers={"ETag": '"v1"', "Cache-Control": "public, max-age=42"})
            if request.headers.get("If-None-Match") == '"v1"':
                response = Response(status=304, headers={"ETag": '"v1"'})
        elif path == "/same-origin-redirect":
            response = Response(status=302, headers={"Location": "/ok"})
        elif path == "/cross-origin-redirect":
            assert self.other is not None
            response = Response(status=302, headers={"Location": f"{self.other.base}/ok"})
        elif path == "/loop":
            response = Response(status=302, headers={"Location": "/loop"})
        elif path == "/big-declared":
            response = Response(b"x" * (2 * 1024 * 1024))
        elif path == "/big-chunked":

            def chunks() -> Iterator[bytes]:
                for _ in range(200):
                    yield b"y" * 16384

            response = Response(chunks())  # no Content-Length: streamed
        elif path == "/drip":

            def drip() -> Iterator[bytes]:
                for _ in range(1000):
                    yield b"z"
                    time.sleep(0.05)

            response = Response(drip())
        elif path == "/gone":
            response = Response('{"code": "key_compromised"}', status=410, mimetype="application/problem+json")
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[Server, Server]]:
    a, b = Server(), Server()
    a.other = b
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture
def servers(running: tuple[Server, Server]) -> tuple[Server, Server]:
    for server in running:
        server.hits.clear()
    return running


def test_fetches_with_validators_and_cache_headers(servers):
    a, _ = servers
    fetched = Fetcher().get(f"{a.base}/ok", accept="text/plain")
    assert (fetched.status, fetched.body, fetched.etag, fetched.max_age) == (200, b"hello", '"v1"', 42)
    again = Fetcher().get(f"{a.base}/ok", accept="text/plain", etag='"v1"')
    assert again.status == 304 and again.body == b""


def test_follows_a_redirect_within_the_origin_only(servers):
    a, b = servers
    assert Fetcher().get(f"{a.base}/same-origin-redirect", accept="*/*").body == b"hello"
    with pytest.raises(FetchError, match="another origin"):
        Fetcher().get(f"{a.base}/cross-origin-redirect", accept="*/*")
    assert b.hits == []  # the other origin was never contacted
    with pytest.raises(FetchError, match="too many redirects"):
        Fetcher().get(f"{a.base}/loop", accept="*/*")


@pytest.mark.parametrize("path", ["/big-declared", "/big-chunked"])
def test_refuses_more_than_one_mebibyte(servers, path):
    a, _ = servers
    with pytest.raises(FetchError, match="larger than 1 MiB"):
        Fetcher().get(a.base + path, accept="*/*")


def test_a_never_ending_response_is_cut_at_the_total_deadline(servers):
    a, _ = servers
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than"):
        Fetcher(total_seconds=1.0).get(f"{a.base}/drip", accept="*/*")
    assert time.monotonic() - started < 3


def test_other_statuses_are_returned_for_the_caller_to_judge(servers):
    a, _ = servers
    fetched = Fetcher().get(f"{a.base}/gone", accept="*/*")
    assert fetched.status == 410 and b"key_compromised" in fetched.body


def test_connection_refused_is_a_fetch_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError):
        Fetcher().get(f"http://127.0.0.1:{port}/x", accept="*/*")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://issuer.example/status/1", True),
        ("http://127.0.0.1:5000/x", True),
        ("http://127.8.9.10/x", True),
        ("http://[::1]:8080/x", True),
        ("http://localhost/x", True),
        ("http://issuer.example/x", False),  # plain http off loopback
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://10.0.0.1/x", False),
        ("ftp://127.0.0.1/x", False),
        ("file:///etc/passwd", False),
        ("https://user:pw@issuer.example/x", False),
    ],
)
def test_only_https_or_loopback_http_is_fetchable(url, allowed):
    assert fetchable(url) is allowed


def test_a_refused_url_is_never_contacted(monkeypatch):
    def no_network(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("a refused URL must not be contacted")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(FetchError, match="refusing"):
        Fetcher().get("http://169.254.169.254/latest/meta-data", accept="*/*")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("public, max-age=300", 300),
        ("max-age=0", 0),
        ("no-store", 0),
        ("no-cache, max-age=60", 0),
        ("public", None),
        (None, None),
        ("max-age=soon", None),
    ],
)
def test_cache_control_max_age(header, expected):
    assert parse_max_age(header) == expected
