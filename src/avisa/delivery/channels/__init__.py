"""Channels: one transport per provider, all with the same small interface.

A transport is given its configuration and a way to fetch its credential when it is
built; it never reads global settings. `send` hands one message to the provider and
returns the provider's message id, or raises a `DeliveryError` that says whether the
failure is permanent or transient. Credentials never appear in what it raises or logs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, runtime_checkable

from avisa.delivery.message import OutgoingMessage

#: Fetches a credential (from the vault); raises TransientDeliveryError when unavailable.
SecretSource = Callable[[], Awaitable[str]]


class Transport(Protocol):
    """Sends messages of one channel through one provider."""

    #: The provider's name: the rate-limit key and the notification's `provider` column.
    provider: str

    async def send(self, message: OutgoingMessage) -> str:
        """Hand `message` to the provider; returns its message id.

        Raises PermanentDeliveryError or TransientDeliveryError.
        """
        ...

    async def aclose(self) -> None:
        """Release connections; the transport is not used afterwards."""
        ...


@runtime_checkable
class Reconciling(Protocol):
    """A transport that can ask its provider whether a message was already accepted.

    Used for a claim taken over from a worker that stopped mid-send (`Claim.resumed`): the
    provider may have accepted the message in the instant before the crash, with avisa
    never recording it. Asking first turns that duplicate into a recorded send.
    """

    async def find_sent(self, message: OutgoingMessage, since: datetime) -> str | None:
        """The provider's id of `message` if it accepted it at or after `since`, else
        None (also when the provider cannot tell). Raises TransientDeliveryError."""
        ...


def template_for(templates: dict[str, dict[str, str]], kind: str, locale: str) -> str | None:
    """The configured WhatsApp template for a reminder kind and locale, if any.

    The kind's own entry wins over the `*` entry; within one, the exact locale wins over
    its language (`es` for `es_MX`).
    """
    for key in (kind, "*"):
        by_locale = templates.get(key)
        if by_locale is None:
            continue
        for loc in (locale, locale.split("_", maxsplit=1)[0].split("-", maxsplit=1)[0]):
            if loc in by_locale:
                return by_locale[loc]
    return None
