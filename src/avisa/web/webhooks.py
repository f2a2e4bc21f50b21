"""Provider webhooks: delivery receipts and replies from Twilio and Meta (no bearer).

- `POST /webhooks/twilio/status`, `POST /webhooks/twilio/inbound`: forms signed with
  `X-Twilio-Signature` (the auth token, vault `TWILIO_AUTH_TOKEN`) over
  `AVISA_PUBLIC_URL` + path, so that variable must be the URL Twilio calls.
- `GET /webhooks/whatsapp`: Meta's subscription handshake (`hub.verify_token` against
  vault `WHATSAPP_VERIFY_TOKEN`, answered with `hub.challenge`).
- `POST /webhooks/whatsapp`: JSON signed with `X-Hub-Signature-256` (vault
  `WHATSAPP_APP_SECRET`), carrying receipts and replies.

A request without a valid signature is refused with 403 before its body is read for
anything else: nothing is recorded or changed. A signing secret missing from the vault
(or a sealed vault) answers 503, so the provider retries once the operator has fixed it.
Bodies are capped at `MAX_BODY` bytes (413).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated
from urllib.parse import parse_qsl

import structlog
from fastapi import APIRouter, Query, Request, Response

from avisa.errors import AvisaError, ForbiddenError
from avisa.messaging.answers import Answerer
from avisa.messaging.payloads import PayloadError, meta_events, twilio_inbound, twilio_receipt
from avisa.messaging.service import take_message, take_receipts
from avisa.messaging.signatures import meta_valid, token_matches, twilio_valid
from avisa.services import Services
from avisa.web.deps import ServicesDep

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

#: Provider callbacks are a few kilobytes; Meta batches at most a few hundred events.
MAX_BODY = 256 * 1024
#: What Twilio expects from an inbound webhook that answers by API: an empty TwiML reply.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class BodyTooLargeError(AvisaError):
    http_status = 413


class WebhookUnavailableError(AvisaError):
    """The secret that verifies a provider's signature cannot be read (HTTP 503)."""

    http_status = 503


async def _body(request: Request) -> bytes:
    """The raw body, read up to `MAX_BODY` bytes; raises BodyTooLargeError beyond."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise BodyTooLargeError(f"request body larger than {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BodyTooLargeError(f"request body larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _secret(services: Services, name: str) -> str:
    """A signing secret from the vault; raises WebhookUnavailableError naming it."""
    vault = services.vault.with_actor("api")
    try:
        return await asyncio.to_thread(vault.get_secret, name)
    except AvisaError as exc:
        log.warning("webhook_secret_unavailable", secret=name, error_class=type(exc).__name__)
        raise WebhookUnavailableError(
            f"cannot verify the webhook: vault secret {name} is unavailable",
            fix=f"avisa vault create {name}",
        ) from None


def _refuse(provider: str, path: str) -> ForbiddenError:
    log.warning("webhook_signature_refused", provider=provider, path=path)
    return ForbiddenError("invalid or missing signature")


async def _twilio_form(request: Request, services: Services) -> dict[str, str]:
    """The form Twilio posted, once its signature is verified; raises ForbiddenError."""
    body = await _body(request)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise _refuse("twilio", request.url.path) from None
    # Twilio signs the URL it was given, which is AVISA_PUBLIC_URL + path (+ query).
    url = services.settings.public_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("x-twilio-signature")
    if not signature:
        # Refused before the vault is read: an unsigned flood costs no audit rows.
        raise _refuse("twilio", request.url.path)
    token = await _secret(services, "TWILIO_AUTH_TOKEN")
    if not twilio_valid(signature, url, pairs, token):
        raise _refuse("twilio", request.url.path)
    return dict(pairs)


@router.post("/twilio/status", status_code=204, responses={403: {}, 503: {}})
async def twilio_status(request: Request, services: ServicesDep) -> Response:
    """A Twilio delivery receipt (`MessageSid`, `MessageStatus`, `ErrorCode`)."""
    form = await _twilio_form(request, services)
    await take_receipts(services, [twilio_receipt(form)])
    return Response(status_code=204)


@router.post("/twilio/inbound", responses={403: {}, 503: {}})
async def twilio_inbound_message(request: Request, services: ServicesDep) -> Response:
    """An SMS or WhatsApp reply through Twilio; answered by API, so the TwiML is empty."""
    form = await _twilio_form(request, services)
    message = twilio_inbound(form)
    answerer = Answerer(services.settings, services.vault.with_actor("api"), services.clock)
    await take_message(services, message, answerer)
    return Response(EMPTY_TWIML, media_type="application/xml")


@router.get("/whatsapp", responses={403: {}, 503: {}})
async def whatsapp_verify(
    services: ServicesDep,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=256)] = None,
) -> Response:
    """Meta's subscription check: echo `hub.challenge` when the verify token is ours."""
    if mode != "subscribe" or not challenge:
        raise _refuse("meta", "/webhooks/whatsapp")
    expected = await _secret(services, "WHATSAPP_VERIFY_TOKEN")
    if not token_matches(verify_token, expected):
        raise _refuse("meta", "/webhooks/whatsapp")
    return Response(challenge, media_type="text/plain")


@router.post("/whatsapp", responses={403: {}, 503: {}})
async def whatsapp_events(request: Request, services: ServicesDep) -> dict[str, int]:
    """Meta's receipts and replies; answers how many of each were taken."""
    body = await _body(request)
    signature = request.headers.get("x-hub-signature-256")
    if not signature:
        raise _refuse("meta", request.url.path)
    secret = await _secret(services, "WHATSAPP_APP_SECRET")
    if not meta_valid(signature, body, secret):
        raise _refuse("meta", request.url.path)
    try:
        payload = json.loads(body)
    except ValueError:
        raise PayloadError("the webhook body is not JSON") from None
    receipts, messages = meta_events(payload)
    if receipts:
        await take_receipts(services, receipts)
    answerer = Answerer(services.settings, services.vault.with_actor("api"), services.clock)
    for message in messages:
        await take_message(services, message, answerer)
    return {"statuses": len(receipts), "messages": len(messages)}
