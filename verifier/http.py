"""The verify API (`POST /api/v1/verify`, SPEC §3.4), shared by the issuer and the stand-alone
verifier through the host interface (`verifier.host`)."""

from __future__ import annotations

import ipaddress

from flask import Blueprint, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from verifier.errors import Malformed
from verifier.host import VerifierUnavailable, current_host
from verifier.jws import MAX_TOKEN_BYTES, strict_json_object
from verifier.responses import CORS_HEADERS, json_response, problem
from verifier.result import Check, VerificationResult

api = Blueprint("verify_api", __name__)

RAW_TOKEN_TYPES = frozenset({"application/vc+jwt", "application/jwt", "text/plain", "application/dc+sd-jwt"})


class BadEnvelope(Exception):
    code = "bad_envelope"


def read_body(limit: int) -> bytes:
    """The whole request body, or 413 past `limit` bytes — also for a chunked body, which has no
    Content-Length to refuse it by up front (reading one byte more tells)."""
    request.max_content_length = limit + 1
    body = request.get_data(cache=False)
    if len(body) > limit:
        raise RequestEntityTooLarge()
    return body


def extract_token() -> str:
    """The token from a JSON envelope or a raw body. Raises BadEnvelope."""
    mimetype = request.mimetype
    raw = read_body(MAX_TOKEN_BYTES)
    if mimetype == "application/json":
        try:  # as strictly as a token's own JSON: no duplicate members for two parsers to read apart
            body = strict_json_object(raw, "the JSON body")
        except Malformed as exc:
            raise BadEnvelope(f'{exc.detail}; send an object {{"credential": "<token>"}}') from None
        if "credential" not in body:
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
    raise BadEnvelope(
        f"unsupported Content-Type {mimetype[:80]!r}: send application/json, application/vc+jwt or text/plain"
    )


def unavailable_result(detail: str) -> VerificationResult:
    return VerificationResult(
        status="status_unavailable", checked_at=current_host().now(), checks=[Check("status", False, detail)]
    )


def unavailable(exc: VerifierUnavailable) -> Response:
    response = json_response(unavailable_result(exc.detail).to_dict(), status=503)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def client_key(address: str | None = None) -> str:
    """Whom a per-client limit counts: the IPv4 address, or the IPv6 /64 (one subscriber's
    network hands out a whole /64; counting single addresses would let one client rotate)."""
    value = address if address is not None else (request.remote_addr or "")
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return value or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


@api.route("/api/v1/verify", methods=["POST"])
def verify() -> Response:
    host = current_host()
    host.check_rate("verify", client_key())
    try:
        token = extract_token()
    except BadEnvelope as exc:
        return problem(400, BadEnvelope.code, "Bad request envelope", str(exc))
    try:
        result = host.verify(token)
    except VerifierUnavailable as exc:
        return unavailable(exc)
    response = json_response(result.to_dict())
    response.headers["Cache-Control"] = "no-store"
    return response


@api.after_request
def _cors(response: Response) -> Response:
    response.headers.update(CORS_HEADERS)
    return response
