"""The public credential page `/c/<id>` with content negotiation, and its QR codes."""

from __future__ import annotations

import hashlib
from functools import lru_cache

from flask import Blueprint, Response, render_template, request, url_for

from issuer import runtime
from issuer.db import get_session
from issuer.errors import CredentialNotFound
from issuer.ids import is_credential_id
from issuer.models import CredentialRecord
from issuer.services.credentials import get_credential
from issuer.web import issuer_context
from verifier import VerificationResult
from verifier.host import LinkNotResolvable, ResolvedLink
from verifier.pages import normalize_link
from verifier.responses import json_response, problem
from wallet_export import qr_png, qr_svg, share_links

bp = Blueprint("credentials", __name__)


def _split(ref: str) -> tuple[str, str]:
    cred_id, dot, suffix = ref.partition(".")
    return cred_id, dot + suffix


def _verify(record: CredentialRecord) -> VerificationResult:
    return runtime.current().verification.verify(get_session(), record.jwt, now=issuer_context().clock())


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


def _page(record: CredentialRecord) -> str:
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
    )


def resolve_link(url: str) -> ResolvedLink:
    """`/verify` resolves only this issuer's own `{BASE_URL}/c/<id>` links, from the database."""
    ctx = issuer_context()
    prefix = ctx.credential_url("")
    ref = normalize_link(url)
    if not ref.startswith(prefix):
        raise LinkNotResolvable(f"Only links to this issuer's credentials ({prefix}…) can be checked here.")
    cred_id, suffix = _split(ref[len(prefix) :].split("/", 1)[0])
    record = get_session().get(CredentialRecord, cred_id) if is_credential_id(cred_id) else None
    if record is None or suffix not in ("", ".jwt"):
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
