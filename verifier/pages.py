"""The human verifier: `/verify` (paste a token or link, upload an image, scan with the camera)
and the verdict partials every credential page uses. Shared by the issuer and the stand-alone
verifier; the host supplies `verifier.verify` and `verifier.resolve_link` in `app.extensions`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from verifier.http import (
    CORS_HEADERS,
    VerifierUnavailable,
    check_rate_limit,
    json_response,
    problem,
    unavailable_result,
)
from verifier.images import MAX_UPLOAD_BYTES, UploadError, extract
from verifier.jws import MAX_TOKEN_BYTES
from verifier.result import VerificationResult
from verifier.timeutil import parse_datetime

pages = Blueprint(
    "verify_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/verifier-static",
)

VERDICTS = {
    "valid": ("Valid", "This credential is genuine and current."),
    "expired": ("Expired", "This credential is genuine, but it has expired."),
    "not_yet_valid": ("Not yet valid", "This credential is genuine, but it is not valid yet."),
    "revoked": ("Revoked", "The issuer has revoked this credential."),
    "superseded": ("Superseded", "This credential was replaced by a newer one."),
    "suspended": ("Suspended", "The issuer has suspended this credential."),
    "key_compromised": ("Not trusted", "The key that signed this credential was reported compromised."),
    "status_unavailable": (
        "Cannot check now",
        "We could not confirm this credential's current status. Try again shortly.",
    ),
    "untrusted_issuer": ("Unknown issuer", "This credential comes from an issuer this verifier does not trust."),
}
REJECTED = ("Not genuine", "This credential could not be verified.")
CHECK_LABELS = {
    "format": "Format",
    "signature": "Signature",
    "issuer": "Issuer",
    "validity_period": "Validity period",
    "status": "Revocation status",
}


@dataclass(frozen=True)
class ResolvedLink:
    """A credential link the host may resolve: its signed token, and (issuer only) its page."""

    token: str
    page_url: str | None = None


class LinkNotResolvable(Exception):
    def __init__(self, message: str, status: int = 422, code: str = "link_not_resolvable") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


def normalize_link(url: str) -> str:
    """A pasted or scanned link as `scheme://host[:port]/path`: scheme and host lower-cased (they
    are case-insensitive), query and fragment dropped (share links pick up tracking parameters)."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"


@pages.app_template_global()
def verdict_for(status: str) -> tuple[str, str]:
    return VERDICTS.get(status, REJECTED)


@pages.app_template_global()
def check_label(name: str) -> str:
    return CHECK_LABELS.get(name, name)


@pages.app_template_filter("long_date")
def long_date(value: str | datetime) -> str:
    """`2029-10-19T23:59:59Z` → `19 October 2029` (UTC)."""
    moment = parse_datetime(value) if isinstance(value, str) else value
    return f"{moment.day} {moment:%B %Y}"


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"], "text/html")
    return best == "application/json"


def _form(status: int = 200, **context: object) -> Response:
    html = render_template("verifier/verify.html", max_upload_mb=MAX_UPLOAD_BYTES // (1024 * 1024), **context)
    return Response(html, status=status, mimetype="text/html")


def _refuse(code: str, status: int, message: str, pasted: str = "") -> Response:
    if _wants_json():
        return problem(status, code, "Cannot verify this input", message)
    return _form(status, error=message, error_code=code, pasted=pasted)


@pages.get("/verify")
def verify_form() -> Response:
    return _form()


@pages.post("/verify")
def verify_submit() -> BaseResponse:
    check_rate_limit("verify")
    request.max_content_length = MAX_UPLOAD_BYTES + 256 * 1024
    upload = request.files.get("file")
    pasted = (request.form.get("credential") or "").strip()
    if upload is not None and upload.filename:
        try:
            given = extract(upload.read(MAX_UPLOAD_BYTES + 1))
        except UploadError as exc:
            return _refuse(exc.code, exc.status, exc.message)
        finally:
            upload.close()
    elif pasted:
        given = pasted
    else:
        return _refuse("nothing_to_verify", 400, "Paste a credential or a link, or upload an image of a QR code.")
    if len(given) > MAX_TOKEN_BYTES:
        return _refuse("payload_too_large", 413, "That is larger than any credential we accept (64 KiB).")

    page_url = None
    if given.lower().startswith(("http://", "https://")):
        resolve: Callable[[str], ResolvedLink] = current_app.extensions["verifier.resolve_link"]
        try:
            resolved = resolve(given)
        except LinkNotResolvable as exc:
            return _refuse(exc.code, exc.status, exc.message, pasted=pasted)
        except VerifierUnavailable as exc:
            return _unavailable(exc)
        token, page_url = resolved.token, resolved.page_url
    else:
        token = given
    if page_url and not _wants_json():
        return redirect(page_url, code=303)  # the same verdict page a scanned QR code opens

    verify: Callable[[str], VerificationResult] = current_app.extensions["verifier.verify"]
    try:
        result = verify(token)
    except VerifierUnavailable as exc:
        return _unavailable(exc)
    if _wants_json():
        response = json_response(result.to_dict())
    else:
        response = _form(result=result)
    response.headers["Cache-Control"] = "no-store"
    return response


def _unavailable(exc: VerifierUnavailable) -> Response:
    clock: Callable[[], datetime] = current_app.extensions["verifier.clock"]
    result = unavailable_result(exc.detail, clock())
    response = json_response(result.to_dict(), status=503) if _wants_json() else _form(503, result=result)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


@pages.after_request
def _cors(response: Response) -> Response:
    response.headers.update(CORS_HEADERS)
    return response
