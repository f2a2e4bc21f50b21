"""The alerting rules as one pure function: stored state + what is seen now -> what to do.

- a subject that starts failing is announced, unless an alert for it went out less than
  `period` ago (then it is remembered as failing, unannounced);
- while it keeps failing, a reminder goes out at most once per period, and only for a
  failure newer than the one announced (a job that failed once and never ran again is
  not announced every hour); a subject without markers (`verify`) is reminded each period;
- when it recovers, a recovery alert goes out if, and only if, its failure was announced,
  so every announced failure gets its recovery and nothing else does.

No clock, no database: `now` and the stored row are arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class AlertKind(StrEnum):
    failure = "failure"
    recovery = "recovery"


@dataclass(frozen=True)
class Observation:
    """What a subject looks like now. `marker` names the failure (a runid, a log id)."""

    subject: str
    failing: bool
    detail: str
    marker: str | None = None


@dataclass(frozen=True)
class StoredState:
    """An `alert_state` row."""

    subject: str
    state: str
    since: datetime
    detail: str
    failure_marker: str | None
    alerted_marker: str | None
    notified: bool
    last_alert_at: datetime | None
    last_alert_kind: str | None
    last_error: str | None
    version: int


@dataclass(frozen=True)
class Alert:
    """One message to the operator. `detail` is secret-free (run messages are redacted)."""

    subject: str
    kind: AlertKind
    detail: str
    at: datetime
    since: datetime
    #: A failure that was already failing at the previous alert (a reminder).
    repeated: bool = False

    @property
    def title(self) -> str:
        if self.kind is AlertKind.recovery:
            return f"RECOVERED: {self.subject}"
        return f"{'STILL FAILING' if self.repeated else 'FAILING'}: {self.subject}"


@dataclass(frozen=True)
class Decision:
    """Column values to write (None: nothing changed) and the alert to send, if any."""

    values: dict[str, Any] | None
    alert: Alert | None = None


def decide(  # noqa: PLR0911  (one return per rule reads better than a result variable)
    stored: StoredState | None, seen: Observation, now: datetime, period: timedelta
) -> Decision:
    """Apply the rules to one subject at `now`."""
    detail = seen.detail[:1000]
    if not seen.failing:
        if stored is None:
            return Decision(_row(state="ok", since=now, detail=detail, notified=False))
        if stored.state == "ok":
            return Decision(None)
        values = _row(state="ok", since=now, detail=detail, notified=False)
        if not stored.notified:
            return Decision(values)
        alert = Alert(seen.subject, AlertKind.recovery, detail, now, since=stored.since)
        return Decision({**values, **_sent(alert, None)}, alert)
    quiet = (
        stored is not None
        and stored.last_alert_at is not None
        and now - stored.last_alert_at < period
    )
    if stored is None or stored.state == "ok":
        values = _row(
            state="failing", since=now, detail=detail, notified=False, failure_marker=seen.marker
        )
        if quiet:
            return Decision(values)
        alert = Alert(seen.subject, AlertKind.failure, detail, now, since=now)
        return Decision({**values, **_sent(alert, seen.marker)}, alert)
    newer = seen.marker is None or seen.marker != stored.alerted_marker
    if newer and not quiet:
        alert = Alert(
            seen.subject, AlertKind.failure, detail, now, stored.since, repeated=stored.notified
        )
        values = {"detail": detail, "failure_marker": seen.marker, **_sent(alert, seen.marker)}
        return Decision(values, alert)
    if seen.marker != stored.failure_marker or detail != stored.detail:
        return Decision({"detail": detail, "failure_marker": seen.marker})
    return Decision(None)


def _row(**values: Any) -> dict[str, Any]:
    return {"failure_marker": None, **values}


def _sent(alert: Alert, marker: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {
        "last_alert_at": alert.at,
        "last_alert_kind": alert.kind.value,
        "last_error": None,
    }
    if alert.kind is AlertKind.failure:
        values.update(notified=True, alerted_marker=marker)
    else:
        values.update(notified=False, alerted_marker=None)
    return values
