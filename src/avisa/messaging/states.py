"""The order of delivery states, and how each provider's words map onto them.

A message's delivery state only moves forward:

    queued < sent < failed < delivered < read

`failed` ranks below `delivered` on purpose: a delivery or read receipt is proof that the
message arrived, so it wins over a failure reported before it (callbacks arrive out of
order), while a failure reported after a delivery is recorded and ignored — a message
cannot un-arrive. Replays never change anything: a state is applied only when it ranks
above every state already seen for that message.

Pure: no database, no web.
"""

from __future__ import annotations

from enum import StrEnum


class DeliveryState(StrEnum):
    queued = "queued"
    sent = "sent"
    failed = "failed"
    delivered = "delivered"
    read = "read"
    #: A provider word we do not act on (`receiving`, a status added later); recorded only.
    other = "other"


RANK: dict[DeliveryState, int] = {
    DeliveryState.queued: 0,
    DeliveryState.sent: 1,
    DeliveryState.failed: 2,
    DeliveryState.delivered: 3,
    DeliveryState.read: 4,
}

#: Twilio's `MessageStatus` values (SMS and WhatsApp).
_TWILIO = {
    "accepted": DeliveryState.queued,
    "scheduled": DeliveryState.queued,
    "queued": DeliveryState.queued,
    "sending": DeliveryState.queued,
    "sent": DeliveryState.sent,
    "delivered": DeliveryState.delivered,
    "read": DeliveryState.read,
    "undelivered": DeliveryState.failed,
    "failed": DeliveryState.failed,
    "canceled": DeliveryState.failed,
}

#: Meta's `statuses[].status` values.
_META = {
    "sent": DeliveryState.sent,
    "delivered": DeliveryState.delivered,
    "read": DeliveryState.read,
    "failed": DeliveryState.failed,
}


def state_of(provider: str, word: str) -> DeliveryState:
    """avisa's reading of a provider's status word (`other` when unknown)."""
    table = _TWILIO if provider == "twilio" else _META
    return table.get(word.strip().lower(), DeliveryState.other)


def advances(current: DeliveryState | None, new: DeliveryState) -> bool:
    """Whether `new` moves a message whose best state so far is `current` forward."""
    if new not in RANK:
        return False
    return current is None or RANK[new] > RANK.get(current, -1)


def best(states: list[DeliveryState]) -> DeliveryState | None:
    """The furthest of `states` (None when none of them is a delivery state)."""
    ranked = [s for s in states if s in RANK]
    return max(ranked, key=RANK.__getitem__) if ranked else None
