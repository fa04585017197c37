"""The public credential page `/c/<id>` with content negotiation, its QR codes, and 'Check a
CertManager ID' (`POST /c/<id>/check-id`)."""

from __future__ import annotations

import hashlib
from functools import lru_cache

from flask import Blueprint, Response, render_template, request, url_for

from issuer import runtime
from issuer.db import get_session
from issuer.errors import CredentialNotFound
from issuer.ids import is_credential_id
from issuer.models import CredentialRecord
from issuer.services import id_check
from issuer.services.credentials import get_credential
from issuer.web import issuer_context
from verifier import VerificationResult
from verifier.host import LinkNotResolvable, ResolvedLink
from verifier.http import client_key
from verifier.pages import normalize_link
from verifier.responses import json_response, problem, wants_json
from verifier.web import render_error
from wallet_export import qr_png, qr_svg, share_links

bp = Blueprint("credentials", __name__)


def _split(ref: str) -> tuple[str, str]:
    cred_id, dot, suffix = ref.partition(".")
    return cred_id, dot + suffix


def _verify(record: CredentialRecord) -> VerificationResult:
    return runtime.current().verification.verify(record.jwt, now=issuer_context().clock())


_DOCUMENTS = ("", ".jwt", ".vc.jwt")


@bp.get("/c/<ref>")
def credential(ref: str) -> Response:
    cred_id, suffix = _split(ref)
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/vc+jwt"], "text/html")
    try:
        if suffix not in _DOCUMENTS:
            raise CredentialNotFound(f"no credential document {ref[:80]!r}")
        record = get_credential(get_session(), cred_id)
        if suffix == ".vc.jwt":
            raise CredentialNotFound("the VCDM 2.0 export of this credential is not published yet")
    except CredentialNotFound as exc:
        if suffix or best != "text/html":  # machines get problem+json (SPEC §3.4), people a page
            response = problem(404, exc.code, "Not found", exc.message)
            response.headers["Access-Control-Allow-Origin"] = "*"
            return response
        raise
    if suffix == ".jwt" or best == "application/vc+jwt":
        response = Response(record.jwt, mimetype="application/vc+jwt")
    elif best == "application/json":
        response = json_response(_verify(record).to_dict())
        response.headers["Cache-Control"] = "no-store"
    else:
        response = Response(_page(record), mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Accept"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _page(record: CredentialRecord, *, id_matches: bool | None = None, id_error: str | None = None) -> str:
    """The credential page; after an ID check, with its answer (`id_matches`) or why there is none."""
    ctx = issuer_context()
    result = _verify(record)
    url = ctx.credential_url(record.id)
    cert = ctx.catalog.get(record.certification_code or "")
    name = cert.name if cert else (record.certification_code or "Credential")
    links = share_links(
        url=url,
        credential_name=name,
        issuer_name=ctx.settings.issuer_name,
        issued=record.issued_at,
        expires=record.valid_until,
        cert_id=record.id,
    )
    return render_template(
        "credential.html",
        ctx=ctx,
        record=record,
        result=result,
        credential_name=name,
        certification=cert,
        url=url,
        links=links,
        id_check_open=id_check.answers_for(record),
        id_matches=id_matches,
        id_error=id_error,
    )


CHECK_ID_MAX_BYTES = 64 * 1024  # a form with one short field; a 10 KB paste still fits


@bp.post("/c/<cred_id>/check-id")
def check_id(cred_id: str) -> Response:
    """'Check a CertManager ID': `{"matches": bool}` for JSON clients, the credential page saying
    so for people. Public: no cookie, no CSRF token; the answer is never cached."""
    request.max_content_length = CHECK_ID_MAX_BYTES
    response = _check_id(cred_id, request.form.get("certmanager_id"))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.vary.add("Accept")
    return response


def _check_id(cred_id: str, typed: str | None) -> Response:
    if typed is None:
        return render_error(400, "missing_field", "Bad request", "Send the form field certmanager_id.")
    session, ctx = get_session(), issuer_context()
    try:
        matches = id_check.check_id(session, ctx, cred_id, typed, client=client_key(), now=ctx.clock())
    except (CredentialNotFound, id_check.CredentialRevoked) as exc:
        return render_error(exc.http_status, exc.code, "Not found" if exc.http_status == 404 else "Gone", exc.message)
    except id_check.IdCheckThrottled as exc:
        if wants_json():
            response = problem(429, exc.code, "Too many requests", exc.message)
        else:
            page = _page(get_credential(session, cred_id), id_error=exc.message)
            response = Response(page, status=429, mimetype="text/html")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if wants_json():
        return json_response({"matches": matches})
    return Response(_page(get_credential(session, cred_id), id_matches=matches), mimetype="text/html")


def resolve_link(url: str) -> ResolvedLink:
    """`/verify` resolves only this issuer's own `{BASE_URL}/c/<id>` links, from the database."""
    ctx = issuer_context()
    prefix = ctx.credential_url("")
    ref = normalize_link(url)
    if not ref.startswith(prefix):
        raise LinkNotResolvable(f"Only links to this issuer's credentials ({prefix}…) can be checked here.")
    cred_id = ref[len(prefix) :].removesuffix(".jwt")  # the page or the raw credential, nothing below
    record = get_session().get(CredentialRecord, cred_id) if is_credential_id(cred_id) else None
    if record is None:
        raise LinkNotResolvable(
            "We have no credential at this link. Check that you copied all of it.",
            status=404,
            code="credential_not_found",
        )
    return ResolvedLink(token=record.jwt, page_url=url_for("credentials.credential", ref=record.id))


@lru_cache(maxsize=4096)
def _render_qr(url: str, kind: str) -> tuple[bytes, str]:
    data = qr_png(url) if kind == "png" else qr_svg(url, title="QR code of " + url)
    return data, hashlib.sha256(data).hexdigest()[:32]


@bp.get("/c/<cred_id>/qr.<kind>")
def qr(cred_id: str, kind: str) -> Response:
    if kind not in ("png", "svg"):
        raise CredentialNotFound(f"no QR format {kind!r}")
    record = get_credential(get_session(), cred_id)
    data, etag = _render_qr(issuer_context().credential_url(record.id), kind)
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        response = Response(data, mimetype="image/png" if kind == "png" else "image/svg+xml")
        response.headers["Content-Disposition"] = f'inline; filename="credential-{record.id}-qr.{kind}"'
    response.set_etag(etag)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
