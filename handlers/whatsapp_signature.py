"""Twilio webhook verification: `X-Twilio-Signature` over the public URL and the form body."""

from __future__ import annotations

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from twilio.request_validator import (
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from handlers.bodies import parse_form

SIGNATURE_HEADER = "x-twilio-signature"
MAX_FORM_BYTES = 64_000


def public_url(request: Request, configured: str | None) -> str:
    """The URL Twilio called: PUBLIC_URL if set, else what a reverse proxy says it was."""
    path = request.url.path
    query = f"?{request.url.query}" if request.url.query else ""
    if configured:
        return f"{configured}{path}{query}"
    proto = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    return f"{proto}://{host.split(',')[0].strip()}{path}{query}"


def verified_form(
    request: Request, body: bytes, auth_token: str, configured_url: str | None
) -> ImmutableMultiDict[str, str] | None:
    """The form if the request is signed by Twilio with our auth token; None otherwise."""
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature or len(body) > MAX_FORM_BYTES:
        return None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return None
    form = parse_form(body)
    if form is None:
        return None
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    validator = RequestValidator(auth_token)
    url = public_url(request, configured_url)
    if not validator.validate(url, form, signature, algorithm):
        return None
    return form
