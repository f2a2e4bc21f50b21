"""The reminder planning rules, as one pure function.

`plan(appointment, client, kinds, now, ...)` says which notifications an appointment should
have and which pending ones must be cancelled. The API calls it when an appointment is
created or changed; the set-based sweep (`avisa.domain.sweep`) is the same rules written as
one SQL statement, and a test holds the two to the same answers.

The rules, for reminders sorted from the largest offset to the smallest:

- a reminder with offset `o` is due at `starts_at - o`, once per channel of the client;
  a channel the client opted out of gets a `skipped` row with reason `opted_out`;
- booked late (due time already passed): sent at once if the next smaller reminder is not
  yet due, otherwise `skipped` as `superseded`; the smallest reminder is sent late only when
  the start is at least `min_lead` away, otherwise `skipped` as `too_late`;
- only `scheduled` and `confirmed` appointments that have not started get reminders;
- pending notifications of a cancelled, completed or no-show appointment are cancelled with
  that status as reason; those planned for another start time with reason `rescheduled`
  (and planned again if the appointment moves back). Sent, failed or in-flight
  notifications are history and stay as they are.

Nothing here reads the clock or touches a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from avisa.config import offset_label
from avisa.domain.model import (
    OPEN_STATUSES,
    AppointmentRecord,
    Channel,
    ClientRecord,
    NotificationRecord,
    NotificationStatus,
    Reason,
    ReminderKind,
)


def reminder_kinds(offsets: Iterable[timedelta]) -> tuple[ReminderKind, ...]:
    """The configured reminders, largest offset first: 24h -> `reminder_24h`."""
    return tuple(
        ReminderKind(name=f"reminder_{offset_label(o)}", offset=o)
        for o in sorted(set(offsets), reverse=True)
    )


@dataclass(frozen=True)
class PlannedNotification:
    """A notification row to insert; `reason` is set exactly when `status` is `skipped`."""

    kind: str
    channel: Channel
    recipient: str
    status: NotificationStatus
    due_at: datetime
    planned_start: datetime
    reason: Reason | None = None


@dataclass(frozen=True)
class Cancellation:
    """A pending notification to cancel, and why."""

    notification_id: int
    reason: Reason


@dataclass(frozen=True)
class Plan:
    create: tuple[PlannedNotification, ...] = ()
    cancel: tuple[Cancellation, ...] = ()


def plan(
    appointment: AppointmentRecord,
    client: ClientRecord,
    kinds: Sequence[ReminderKind],
    now: datetime,
    *,
    min_lead: timedelta,
    existing: Iterable[NotificationRecord] = (),
    horizon: timedelta | None = None,
) -> Plan:
    """Apply the planning rules to one appointment at instant `now`.

    `kinds` must be sorted largest offset first (as `reminder_kinds` returns them).
    `existing` are the appointment's notifications already stored: the plan never repeats
    one of their keys (kind, channel, planned start) and cancels the stale pending ones.
    With `horizon`, only reminders due by `now + horizon` are planned (what the sweep
    does); without it, every reminder is (what booking does).
    """
    existing = tuple(existing)
    cancel = tuple(_cancellations(appointment, existing))
    if appointment.status not in OPEN_STATUSES or appointment.starts_at <= now:
        return Plan(cancel=cancel)
    # A reminder cancelled because the appointment moved may be planned again (it moved
    # back); any other existing row holds its key for good.
    taken = {
        (n.kind, n.channel, n.planned_start)
        for n in existing
        if not (n.status == NotificationStatus.cancelled and n.reason == Reason.rescheduled)
    }
    start = appointment.starts_at
    create: list[PlannedNotification] = []
    for index, kind in enumerate(kinds):
        due = start - kind.offset
        if horizon is not None and due > now + horizon:
            continue
        smaller = kinds[index + 1] if index + 1 < len(kinds) else None
        timing, due_at = _timing(start, due, smaller, now, min_lead)
        for channel in client.channels:
            recipient = client.recipient(channel)
            if recipient is None or (kind.name, channel, start) in taken:
                continue
            reason = Reason.opted_out if channel in client.opt_out else timing
            create.append(
                PlannedNotification(
                    kind=kind.name,
                    channel=channel,
                    recipient=recipient,
                    status=(
                        NotificationStatus.pending if reason is None else NotificationStatus.skipped
                    ),
                    due_at=due_at if reason is None else due,
                    planned_start=start,
                    reason=reason,
                )
            )
    return Plan(create=tuple(create), cancel=cancel)


def _timing(
    start: datetime,
    due: datetime,
    smaller: ReminderKind | None,
    now: datetime,
    min_lead: timedelta,
) -> tuple[Reason | None, datetime]:
    """(skip reason or None, when to send) for one reminder of an appointment at `start`."""
    if due > now:
        return None, due
    if smaller is not None:
        # Late, but the next reminder is still ahead: this one still says something new.
        return (None, now) if start - smaller.offset > now else (Reason.superseded, due)
    return (None, now) if start - now >= min_lead else (Reason.too_late, due)


def _cancellations(
    appointment: AppointmentRecord, existing: Iterable[NotificationRecord]
) -> Iterable[Cancellation]:
    for notification in existing:
        if notification.status != NotificationStatus.pending:
            continue
        if appointment.status not in OPEN_STATUSES:
            yield Cancellation(notification.id, Reason(appointment.status.value))
        elif notification.planned_start != appointment.starts_at:
            yield Cancellation(notification.id, Reason.rescheduled)
