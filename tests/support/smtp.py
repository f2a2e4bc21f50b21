"""A real SMTP server (aiosmtpd) in a thread, with AUTH and scripted 4xx/5xx answers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.net import free_port

USERNAME = "avisa@example.com"
PASSWORD = "smtp-password-canary-93be"  # test credential


@dataclass
class SmtpRecorder:
    """The handler: records accepted messages; `script` answers RCPT per recipient."""

    username: str = USERNAME
    password: str = PASSWORD
    messages: list[EmailMessage] = field(default_factory=list)
    #: recipient -> replies for its next RCPT commands, e.g. "451 4.3.0 Try again later".
    script: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    auth_failures: int = 0

    def authenticate(
        self, _server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if (
            mechanism in ("LOGIN", "PLAIN")
            and isinstance(data, LoginPassword)
            and data.login.decode() == self.username
            and data.password.decode() == self.password
        ):
            return AuthResult(success=True)
        self.auth_failures += 1
        return AuthResult(success=False, handled=False)

    # aiosmtpd finds hooks by these exact names.
    async def handle_MAIL(  # noqa: N802
        self, _server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    # aiosmtpd finds hooks by these exact names.
    async def handle_RCPT(  # noqa: N802
        self, _server: Any, _session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        queue = self.script.get(address)
        if queue:
            return queue.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    # aiosmtpd finds hooks by these exact names.
    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server() -> Iterator[tuple[SmtpRecorder, int]]:
    """Run an SMTP server on 127.0.0.1 offering AUTH LOGIN/PLAIN without TLS."""
    handler = SmtpRecorder()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=handler.authenticate,
        auth_require_tls=False,
        auth_required=False,
    )
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()
