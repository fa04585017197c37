"""The verify API (`POST /api/v1/verify`) as a Flask blueprint, shared by the issuer and the
stand-alone verifier. The host registers a function `token -> VerificationResult` as
`app.extensions["verifier.verify"]`; it may raise `VerifierUnavailable` (→ 503)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, request

from verifier.errors import StatusUnavailable
from verifier.jws import MAX_TOKEN_BYTES
from verifier.result import Check, VerificationResult

api = Blueprint("verify_api", __name__)

PROBLEM_JSON = "application/problem+json"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Accept, If-None-Match",
    "Access-Control-Expose-Headers": "ETag, Retry-After",
    "Access-Control-Max-Age": "86400",
}
RAW_TOKEN_TYPES = frozenset({"application/vc+jwt", "application/jwt", "text/plain", "application/dc+sd-jwt"})


class VerifierUnavailable(Exception):
    """The host cannot verify right now (its database or a dependency is down)."""

    def __init__(self, detail: str, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


class BadEnvelope(Exception):
    code = "bad_envelope"


def problem(status: int, code: str, title: str, detail: str | None = None, **extra: Any) -> Response:
    """An RFC 9457 problem document with our stable `code`."""
    body: dict[str, Any] = {"type": f"about:blank#{code}", "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)


def json_response(payload: Any, status: int = 200, mimetype: str = "application/json") -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), status=status, mimetype=mimetype)


def extract_token() -> str:
    """The token from a JSON envelope or a raw body. Raises BadEnvelope."""
    mimetype = request.mimetype
    raw = request.get_data(cache=False)
    if mimetype == "application/json":
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BadEnvelope("the body is not valid JSON") from None
        if not isinstance(body, dict) or "credential" not in body:
            raise BadEnvelope('the JSON body must be an object {"credential": "<token>"}')
        token = body["credential"]
        if not isinstance(token, str):
            raise BadEnvelope("credential must be a string")
        return token
    if mimetype in RAW_TOKEN_TYPES or mimetype == "":
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadEnvelope("the body is not UTF-8 text") from None
    raise BadEnvelope(f"unsupported Content-Type {mimetype!r}: send application/json, application/vc+jwt or text/plain")


def unavailable_result(detail: str, now: datetime) -> VerificationResult:
    return VerificationResult(status=StatusUnavailable.code, checked_at=now, checks=[Check("status", False, detail)])


def check_rate_limit(scope: str) -> None:
    """The host's RateLimit (if any) for this client; raises 429."""
    limit = current_app.extensions.get("verifier.ratelimit")
    if limit is not None:
        limit.check(scope, request.remote_addr or "unknown")


@api.route("/api/v1/verify", methods=["POST"])
def verify() -> Response:
    check_rate_limit("verify")
    request.max_content_length = MAX_TOKEN_BYTES
    verify_fn: Callable[[str], VerificationResult] = current_app.extensions["verifier.verify"]
    try:
        token = extract_token()
    except BadEnvelope as exc:
        return problem(400, BadEnvelope.code, "Bad request envelope", str(exc))
    try:
        result = verify_fn(token)
    except VerifierUnavailable as exc:
        now_fn: Callable[[], datetime] = current_app.extensions["verifier.clock"]
        response = json_response(unavailable_result(exc.detail, now_fn()).to_dict(), status=503)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    response = json_response(result.to_dict())
    response.headers["Cache-Control"] = "no-store"
    return response


@api.after_request
def _cors(response: Response) -> Response:
    response.headers.update(CORS_HEADERS)
    return response
