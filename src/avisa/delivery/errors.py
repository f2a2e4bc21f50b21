"""Delivery errors: every transport says whether a failure is permanent or transient.

Transient errors (timeouts, refused connections, 429, 5xx, SMTP 4xx) are retried with
backoff up to the attempt limit; permanent ones (invalid number, opted out, template
rejected, SMTP 5xx) fail the notification at once. Messages are short, one line, and
never hold a credential: transports build them from provider codes and scrub them.
"""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "[redacted]"
MAX_ERROR_TEXT = 300


class DeliveryError(Exception):
    """A message could not be handed to its provider.

    `permanent` decides whether it is retried; `code` is the provider's error code when it
    gave one (Twilio 21211, Meta 131047, SMTP 550); `retry_after` is the provider's hint in
    seconds, if any.
    """

    permanent: bool = False

    def __init__(
        self, message: str, *, code: str | int | None = None, retry_after: float | None = None
    ) -> None:
        self.code = None if code is None else str(code)
        self.retry_after = retry_after
        text = message if self.code is None else f"{self.code}: {message}"
        super().__init__(text[:MAX_ERROR_TEXT])

    def __str__(self) -> str:
        return str(self.args[0])


class TransientDeliveryError(DeliveryError):
    """Worth retrying later: the provider or the network may recover."""

    permanent = False


class CredentialUnavailableError(TransientDeliveryError):
    """The provider's credential cannot be read (the vault is sealed, or the secret is
    missing). Not the message's fault: the worker defers it without spending an attempt,
    until `retry_after` seconds have passed."""


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: the recipient, the content or the account must change."""

    permanent = True


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each secret value replaced by `[redacted]`.

    Transports pass provider answers through this before they become error messages, in
    case a provider echoes a credential back.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text
