"""Responses every host sends the same way: RFC 9457 problem documents with our stable `code`,
JSON, the CORS headers of the public routes, and whether a client wants JSON."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request

PROBLEM_JSON = "application/problem+json"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Accept, If-None-Match",
    "Access-Control-Expose-Headers": "ETag, Retry-After",
    "Access-Control-Max-Age": "86400",
}


def problem(status: int, code: str, title: str, detail: str | None = None, **extra: Any) -> Response:
    """An RFC 9457 problem document with our stable `code`."""
    body: dict[str, Any] = {"type": f"about:blank#{code}", "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)


def json_response(payload: Any, status: int = 200, mimetype: str = "application/json") -> Response:
    # ensure_ascii=False writes UTF-8; every string in a payload is valid Unicode (the token
    # parser refuses lone surrogates), so encoding cannot fail.
    return Response(json.dumps(payload, ensure_ascii=False), status=status, mimetype=mimetype)


# Documents that programs fetch (wallets, verifiers, monitors), often with no Accept header or
# `*/*`: their errors are problem+json whatever the client says it accepts.
MACHINE_PATHS = ("/api/", "/keys/", "/status/", "/achievements/", "/.well-known/", "/readyz", "/healthz")


def wants_json() -> bool:
    """Machine paths, raw credential downloads, and clients that prefer JSON to HTML."""
    path = request.path
    if path.startswith(MACHINE_PATHS) or path.endswith(".jwt"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", PROBLEM_JSON], "text/html")
    return best in ("application/json", PROBLEM_JSON)
