"""A local server that speaks Meta's WhatsApp Cloud API (`POST /{phone_number_id}/messages`).

Checks the bearer token, `messaging_product`, the recipient's digits, that the message is a
known template in a language it exists in, with exactly its number of body parameters;
free text is refused with 131047 (re-engagement: no open 24 h session). Answers 200 with a
`wamid.` id, or Meta's error JSON. Tests script per-recipient answers (`script`).
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PHONE_NUMBER_ID = "106540352242922"
ACCESS_TOKEN = "meta-token-canary-EAAG9d2c41"  # test credential


def _error(status: int, code: int, message: str) -> JSONResponse:
    body = {
        "error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Afake"}
    }
    return JSONResponse(body, status_code=status)


@dataclass
class FakeMeta:
    phone_number_id: str = PHONE_NUMBER_ID
    access_token: str = ACCESS_TOKEN
    #: template name -> {language: number of body parameters}
    templates: dict[str, dict[str, int]] = field(
        default_factory=lambda: {"appointment_reminder": {"es": 3, "en": 3}}
    )
    #: Recipient digits -> answers for its next requests: an HTTP status or a Meta code.
    script: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    messages: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[dict[str, Any], int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{phone_id}/messages", self._send, methods=["POST"])])

    async def _send(self, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return _error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if request.path_params["phone_id"] != self.phone_number_id:
            return _error(400, 100, "Unsupported post request. Object does not exist")
        payload = await request.json()
        response = self._check(payload)
        if response is not None:
            with self._lock:
                self.rejected.append((payload, int(response.status_code)))
            return response
        wamid = "wamid." + uuid.uuid4().hex
        with self._lock:
            self.messages.append({**payload, "id": wamid})
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": payload["to"], "wa_id": payload["to"]}],
                "messages": [{"id": wamid}],
            }
        )

    # One early return per check, in the order the real API reports them.
    def _check(self, payload: dict[str, Any]) -> JSONResponse | None:  # noqa: PLR0911
        if payload.get("messaging_product") != "whatsapp":
            return _error(400, 100, "(#100) The parameter messaging_product is required.")
        to = str(payload.get("to", ""))
        if not to.isdigit() or not 7 <= len(to) <= 15:
            return _error(400, 100, "(#100) Invalid parameter: to")
        if payload.get("type") != "template":
            return _error(400, 131047, "Re-engagement message: more than 24 hours have passed.")
        template = payload.get("template") or {}
        languages = self.templates.get(str(template.get("name")))
        language = (template.get("language") or {}).get("code")
        if languages is None or language not in languages:
            return _error(404, 132001, "(#132001) Template name does not exist in the translation")
        params = [
            p
            for c in template.get("components", [])
            if c.get("type") == "body"
            for p in c.get("parameters", [])
        ]
        if len(params) != languages[language]:
            return _error(400, 132000, "(#132000) Number of parameters does not match")
        with self._lock:
            queue = self.script.get(to)
            answer = queue.pop(0) if queue else None
        if answer is None:
            return None
        if answer == 429:
            return _error(429, 130429, "Rate limit hit")
        if 500 <= answer < 600:
            return _error(answer, 131000, "Something went wrong")
        return _error(400, answer, "scripted error")
