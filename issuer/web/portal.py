"""Candidate portal pages: 'Exams' and 'Certifications' (with eCertificate and logo downloads).
Every route is for the logged-in candidate's own records only."""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from issuer.db import get_session
from issuer.services import records
from issuer.web import issuer_context
from issuer.web.auth import current_candidate, login_required
from wallet_export.images import ecertificate_png, logo_png

bp = Blueprint("portal", __name__)


@bp.get("/exams")
@login_required
def exams() -> str:
    candidate = current_candidate()
    session = get_session()
    return render_template(
        "portal/exams.html",
        exams=records.exams_for(session, issuer_context(), candidate),
        held=records.held_for(session, candidate),
        catalog=issuer_context().catalog,
    )


@bp.get("/certifications")
@login_required
def certifications() -> str:
    ctx = issuer_context()
    rows = records.certifications_for(get_session(), ctx, current_candidate(), ctx.clock())
    return render_template(
        "portal/certifications.html",
        active=[r for r in rows if r.status == "active"],
        revoked=[r for r in rows if r.status == "revoked"],
        expired=[r for r in rows if r.status == "expired"],
    )


def _private_png(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="image/png")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/certifications/<code>/ecertificate.png")
@login_required
def ecertificate(code: str) -> Response:
    ctx = issuer_context()
    candidate = current_candidate()
    row = records.active_certification(get_session(), ctx, candidate, code, ctx.clock())
    assert row.credential is not None
    image = ecertificate_png(
        holder=row.credential.subject_name,
        certification_name=row.name,
        code=row.certification.code,
        level=row.definition.level if row.definition else "",
        program=ctx.settings.issuer_name,
        valid_from=row.credential.valid_from,
        valid_until=row.certification.valid_until,
        credential_url=ctx.credential_url(row.credential.id),
        credential_id=row.credential.id,
    )
    return _private_png(image, f"eCertificate-{row.certification.code}-{candidate.certmanager_id}.png")


@bp.get("/certifications/<code>/logo.png")
@login_required
def logo(code: str) -> Response:
    ctx = issuer_context()
    row = records.active_certification(get_session(), ctx, current_candidate(), code, ctx.clock())
    definition = row.definition
    image = logo_png(
        code=row.certification.code,
        level=definition.level if definition else "",
        track_name=ctx.catalog.tracks.get(definition.track, definition.track) if definition else "",
        program=ctx.settings.issuer_name,
    )
    return _private_png(image, f"logo-{row.certification.code}.png")
