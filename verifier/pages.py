"""The human verifier: `/verify` (paste a token or link, upload an image, scan with the camera)
and the verdict partials every credential page uses. Shared by the issuer and the stand-alone
verifier through the host interface (`verifier.host`)."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, render_template, request, send_from_directory
from werkzeug.wrappers import Response as BaseResponse

from verifier.host import LinkNotResolvable, VerifierUnavailable, current_host
from verifier.http import client_key, unavailable_result
from verifier.images import MAX_UPLOAD_BYTES, UploadError, extract
from verifier.jws import MAX_TOKEN_BYTES
from verifier.responses import CORS_HEADERS, json_response, problem, wants_json
from verifier.timeutil import long_date, parse_datetime
from verifier.wording import plain_words

pages = Blueprint(
    "verify_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/verifier-static",
)
pages.add_app_template_global(plain_words, "plain_words")

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


def normalize_link(url: str) -> str:
    """A pasted or scanned link as `scheme://host[:port]/path`: scheme and host lower-cased (they
    are case-insensitive), query and fragment dropped (share links pick up tracking parameters).
    Raises LinkNotResolvable for text that is not a URL at all (`http://[`)."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - parsing the port is what refuses `http://host:99999`
    except ValueError:
        raise LinkNotResolvable("This is not a link we can read. Check that you copied all of it.") from None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"


@pages.app_context_processor
def _trusted() -> dict[str, object]:
    return {"trusted_issuers": current_host().trusted_issuers}


@pages.app_template_global()
def verdict_for(status: str) -> tuple[str, str]:
    return VERDICTS.get(status, REJECTED)


@pages.app_template_global()
def check_label(name: str) -> str:
    return CHECK_LABELS.get(name, name)


@pages.app_template_filter("long_date")
def long_date_filter(value: str | date) -> str:
    """`2029-10-19T23:59:59Z` → `19 October 2029` (UTC); a date as it is."""
    if isinstance(value, str):
        return long_date(parse_datetime(value))
    if isinstance(value, datetime):
        return long_date(value)
    return f"{value.day} {value:%B %Y}"


def _form(status: int = 200, **context: object) -> Response:
    html = render_template("verifier/verify.html", max_upload_mb=MAX_UPLOAD_BYTES // (1024 * 1024), **context)
    return Response(html, status=status, mimetype="text/html")


def _refuse(code: str, status: int, message: str, pasted: str = "") -> Response:
    if wants_json():
        return problem(status, code, "Cannot verify this input", message)
    return _form(status, error=message, error_code=code, pasted=pasted)


@pages.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico by themselves; pages link the SVG and PNG icons."""
    assert pages.static_folder is not None
    response = send_from_directory(pages.static_folder, "favicon.ico", max_age=86400)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@pages.get("/verify")
def verify_form() -> Response:
    return _form()


@pages.post("/verify")
def verify_submit() -> BaseResponse:
    host = current_host()
    host.check_rate("verify", client_key())
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
        try:
            resolved = host.resolve_link(given)
        except LinkNotResolvable as exc:
            return _refuse(exc.code, exc.status, exc.message, pasted=pasted)
        except VerifierUnavailable as exc:
            return _unavailable(exc)
        token, page_url = resolved.token, resolved.page_url
    else:
        token = given
    if page_url and not wants_json():
        return redirect(page_url, code=303)  # the same verdict page a scanned QR code opens

    try:
        result = host.verify(token)
    except VerifierUnavailable as exc:
        return _unavailable(exc)
    if wants_json():
        response = json_response(result.to_dict())
    else:
        response = _form(result=result)
    response.headers["Cache-Control"] = "no-store"
    return response


def _unavailable(exc: VerifierUnavailable) -> Response:
    result = unavailable_result(exc.detail)
    response = json_response(result.to_dict(), status=503) if wants_json() else _form(503, result=result)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


@pages.after_request
def _cors(response: Response) -> Response:
    response.headers.update(CORS_HEADERS)
    return response
