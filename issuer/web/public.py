"""Public, cookie-free, CORS-open documents: keys, DID, issuer profile, status lists, health."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, render_template, request
from sqlalchemy import text

from issuer.db import get_session
from issuer.errors import KeyNotFound
from issuer.models import SigningKeyRecord
from issuer.services import keyring, status_lists
from issuer.services.payloads import OB3_CONTEXT, VCDM2_CONTEXT, achievement, issuer_profile
from issuer.web import issuer_context
from verifier.responses import CORS_HEADERS, json_response, problem

bp = Blueprint("public", __name__)

_KEYS_MAX_AGE = 300


@bp.after_request
def _cors(response: Response) -> Response:
    response.headers.update(CORS_HEADERS)
    return response


def _cached(response: Response, max_age: int) -> Response:
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response


@bp.get("/")
def home() -> str:
    return render_template("home.html", ctx=issuer_context())


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    ring = keyring.load_ring(get_session(), issuer_context())
    return _cached(json_response(ring.jwks(), mimetype="application/jwk-set+json"), _KEYS_MAX_AGE)


@bp.get("/keys/<thumbprint>")
def key(thumbprint: str) -> Response:
    record = get_session().get(SigningKeyRecord, thumbprint) if len(thumbprint) <= 64 else None
    if record is None:
        raise KeyNotFound(f"no key {thumbprint!r}")
    if record.state == "compromised":
        return problem(
            410,
            "key_compromised",
            "Key compromised",
            "This key was reported compromised; nothing it signed is trusted.",
        )
    if record.state == "retired":
        return problem(410, "key_retired", "Key retired", "This key is no longer published.")
    ctx = issuer_context()
    entry = keyring.load_ring(get_session(), ctx).get(ctx.kid(thumbprint))
    assert entry is not None
    return _cached(json_response(dict(entry.key.jwk), mimetype="application/jwk+json"), _KEYS_MAX_AGE)


def did_web(base_url: str) -> str:
    parts = urlsplit(base_url)
    did = "did:web:" + quote(parts.netloc, safe="")
    path = parts.path.strip("/")
    return did + ("" if not path else ":" + path.replace("/", ":"))


@bp.get("/.well-known/did.json")
def did_document() -> Response:
    ctx = issuer_context()
    did = did_web(ctx.settings.base_url)
    methods: list[dict[str, Any]] = []
    for jwk in keyring.load_ring(get_session(), ctx).jwks()["keys"]:
        thumbprint = jwk["kid"].rsplit("/", 1)[-1]
        methods.append({"id": f"{did}#{thumbprint}", "type": "JsonWebKey", "controller": did, "publicKeyJwk": jwk})
    document = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"],
        "id": did,
        "alsoKnownAs": [ctx.issuer_id],
        "verificationMethod": methods,
        "assertionMethod": [m["id"] for m in methods],
    }
    return _cached(json_response(document, mimetype="application/did+json"), _KEYS_MAX_AGE)


@bp.get("/issuer")
def issuer() -> Response:
    ctx = issuer_context()
    profile = {"@context": [VCDM2_CONTEXT, OB3_CONTEXT], **issuer_profile(ctx)}
    profile["description"] = f"Issuer of {ctx.settings.issuer_name} certifications and transcripts."
    return _cached(json_response(profile), 3600)


@bp.get("/achievements/<code>")
def achievement_definition(code: str) -> Response:
    ctx = issuer_context()
    if ctx.catalog.get(code) is None:
        return problem(404, "unknown_achievement", "Not found", "No certification of that code is in the catalog.")
    definition = {"@context": [VCDM2_CONTEXT, OB3_CONTEXT], **achievement(ctx, code)}
    return _cached(json_response(definition), 3600)


@bp.get("/status/<list_id>")
def status_list(list_id: str) -> Response:
    ctx = issuer_context()
    record = status_lists.get_list(get_session(), list_id[:32])
    etag = record.etag
    max_age = ctx.settings.status_ttl_ms // 1000
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        response = Response(record.jwt, mimetype="application/vc+jwt")
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    session = get_session()
    session.execute(text("SELECT 1"))
    if keyring.active_key(session) is None:
        return problem(503, "not_initialized", "Not ready", "No active signing key: run `certmanager init`.")
    return json_response({"status": "ready"})
