"""A local server that speaks Twilio's Messages API and checks what Twilio checks.

Basic auth with the account sid and token; `To` in E.164 (with `whatsapp:` on both
numbers for WhatsApp); `From` or `MessagingServiceSid`; `Body` xor `ContentSid`; a known
ContentSid with exactly its number of `ContentVariables`; free text to WhatsApp refused
with 63016 (no open 24 h session). Answers as Twilio does: 201 with a `SM…` sid, or a
JSON error with Twilio's code. Tests script per-recipient answers (`script`) and read
what was accepted (`messages`).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "twilio-token-canary-7f3a9c1e5b"  # test credential
#: Twilio's magic test numbers: invalid, and opted out (replied STOP).
INVALID_NUMBER = "+15005550001"
OPTED_OUT = "+15005550004"

#: Scripted answers: an HTTP status (429, 500, 503) or a Twilio error code (21211, 63016).
Answer = int


def _error(status: int, code: int, message: str) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status)


@dataclass
class FakeTwilio:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    #: ContentSid -> number of variables the approved template takes.
    contents: dict[str, int] = field(
        default_factory=lambda: {"HX" + "1" * 32: 3, "HX" + "2" * 32: 3}
    )
    #: Recipient (E.164, without `whatsapp:`) -> answers for its next requests, in order.
    script: dict[str, list[Answer]] = field(default_factory=lambda: defaultdict(list))
    messages: list[dict[str, str]] = field(default_factory=list)
    rejected: list[tuple[dict[str, str], int]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    #: When each accepted message (by sid) was created: unix seconds, from `now`.
    created: dict[str, float] = field(default_factory=dict)
    now: Callable[[], float] = time.time
    #: False: listing messages answers 403, as for a key without read permission.
    listing_allowed: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def app(self) -> Starlette:
        path = "/2010-04-01/Accounts/{sid}/Messages.json"
        return Starlette(
            routes=[
                Route(path, self._create, methods=["POST"]),
                Route(path, self._list, methods=["GET"]),
            ]
        )

    def message_resource(self, message: dict[str, str]) -> dict[str, object]:
        """A message as Twilio's API shows it (the fields avisa reads, and a few more)."""
        created = self.created.get(message["sid"], 0.0)
        return {
            "sid": message["sid"],
            "account_sid": self.account_sid,
            "to": message.get("To"),
            "from": message.get("From"),
            "messaging_service_sid": message.get("MessagingServiceSid"),
            "body": message.get("Body", ""),
            "status": "queued",
            "date_created": formatdate(created, usegmt=True),
        }

    async def _list(self, request: Request) -> JSONResponse:
        """Twilio's message list: newest first, filtered by `To`, `PageSize` at a time."""
        sid = request.path_params["sid"]
        if not self._authorised(request, sid):
            return _error(401, 20003, "Authenticate")
        if not self.listing_allowed:
            return _error(403, 20403, "Permission denied: this key cannot read messages")
        to = request.query_params.get("To")
        size = min(1000, int(request.query_params.get("PageSize", "50")))
        with self._lock:
            found = [m for m in reversed(self.messages) if to is None or m.get("To") == to]
        page = [self.message_resource(m) for m in found[:size]]
        return JSONResponse({"messages": page, "page": 0, "page_size": size})

    def sent_to(self, number: str) -> list[dict[str, str]]:
        return [m for m in self.messages if m["To"].removeprefix("whatsapp:") == number]

    def _authorised(self, request: Request, sid: str) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid == sid and password == self.auth_token

    async def _create(self, request: Request) -> JSONResponse:
        self.arrivals.append(time.monotonic())
        sid = request.path_params["sid"]
        if not self._authorised(request, sid):
            return _error(401, 20003, "Authenticate")
        # Parsed by hand: Starlette's form parser needs python-multipart for nothing more.
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        response = self._check(form)
        if response is not None:
            code = json.loads(bytes(response.body))["code"]
            with self._lock:
                self.rejected.append((form, int(code)))
            return response
        message_sid = "SM" + uuid.uuid4().hex
        with self._lock:
            self.messages.append({**form, "sid": message_sid})
            self.created[message_sid] = self.now()
        return JSONResponse(
            {"sid": message_sid, "status": "queued", "to": form["To"], "account_sid": sid},
            status_code=201,
        )

    # One early return per check, in the order the real API reports them.
    def _check(self, form: dict[str, str]) -> JSONResponse | None:  # noqa: PLR0911, PLR0912
        to, sender = form.get("To", ""), form.get("From")
        service = form.get("MessagingServiceSid")
        whatsapp = to.startswith("whatsapp:")
        number = to.removeprefix("whatsapp:")
        if not E164.match(number):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if (sender is None) == (service is None):
            return _error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required.")
        if whatsapp and not (sender or "").startswith("whatsapp:"):
            return _error(400, 63007, "Could not find a Channel with the specified From address")
        if sender is not None and not E164.match(sender.removeprefix("whatsapp:")):
            return _error(400, 21212, f"The 'From' number {sender} is not a valid phone number.")
        body, content = form.get("Body"), form.get("ContentSid")
        if (body is None) == (content is None):
            return _error(400, 21619, "A text message body or ContentSid is required, not both.")
        if content is not None:
            expected = self.contents.get(content)
            if expected is None:
                return _error(400, 21655, "The ContentSid is invalid.")
            variables = json.loads(form.get("ContentVariables") or "{}")
            if sorted(variables) != [str(i) for i in range(1, expected + 1)]:
                return _error(400, 21656, "The ContentVariables parameter is invalid.")
        if whatsapp and body is not None:
            return _error(400, 63016, "Failed to send freeform message outside the allowed window.")
        if number == INVALID_NUMBER:
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if number == OPTED_OUT:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        with self._lock:
            queue = self.script.get(number)
            answer = queue.pop(0) if queue else None
        if answer is None:
            return None
        if answer == 429:
            return _error(429, 20429, "Too Many Requests")
        if answer >= 500 and answer < 600:
            return _error(answer, 20500, "Internal Server Error")
        return _error(400, answer, "scripted error")
