"""Clients, appointments and their reminders: validation, planning rules, the sweep and the
status updater.

The two scheduled operations, called by the `process-reminders` and
`appointment-status-updater` functions, are `process_reminders` and `update_statuses`;
each returns a summary with `to_dict()` (JSON) and `message()` (one line).

They are loaded on first use, so that importing the pure parts of this package (planning,
validation) does not import the database layer.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from avisa.domain.status import StatusSummary, update_statuses
    from avisa.domain.sweep import ReminderSummary, process_reminders

__all__ = ["ReminderSummary", "StatusSummary", "process_reminders", "update_statuses"]

_HOMES = {
    "ReminderSummary": "avisa.domain.sweep",
    "process_reminders": "avisa.domain.sweep",
    "StatusSummary": "avisa.domain.status",
    "update_statuses": "avisa.domain.status",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
