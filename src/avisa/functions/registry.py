"""The registry of HTTP functions and the two that ship with avisa.

A function takes the shared services, the request's JSON object and the time of the call,
does its work and returns a `FunctionResult`: one human line and JSON details (counts).
It raises to fail; the HTTP layer logs the failure by error class and answers 500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from avisa import domain
from avisa.delivery.summary import sent_since_last_run
from avisa.errors import NotFoundError
from avisa.services import Services


@dataclass(frozen=True)
class FunctionResult:
    message: str
    details: dict[str, Any] = field(default_factory=dict)


HttpFunction = Callable[[Services, dict[str, Any], datetime], FunctionResult]


@dataclass(frozen=True)
class RegisteredHttpFunction:
    name: str
    call: HttpFunction
    description: str


class HttpFunctions:
    """Functions by name; built by `builtin_http_functions()` or by tests."""

    def __init__(self) -> None:
        self._functions: dict[str, RegisteredHttpFunction] = {}

    def __repr__(self) -> str:
        return f"HttpFunctions({sorted(self._functions)})"

    def __iter__(self) -> Iterator[RegisteredHttpFunction]:
        return iter(sorted(self._functions.values(), key=lambda f: f.name))

    def register(self, name: str, call: HttpFunction, description: str) -> None:
        if name in self._functions:
            raise ValueError(f"function {name!r} is already registered")
        self._functions[name] = RegisteredHttpFunction(name, call, description)

    def get(self, name: str) -> RegisteredHttpFunction:
        """Raises NotFoundError naming the unknown function."""
        try:
            return self._functions[name]
        except KeyError:
            raise NotFoundError(f"unknown function {name[:100]!r}") from None


def process_reminders(services: Services, _body: dict[str, Any], now: datetime) -> FunctionResult:
    """Plan the reminders falling due in the sweep horizon (the hourly job's work), and
    report what the delivery worker sent since the previous run."""
    summary = domain.process_reminders(services.engine, services.settings, now)
    delivery = sent_since_last_run(services.engine, "process-reminders")
    sent, failed = sum(delivery["sent"].values()), sum(delivery["failed"].values())
    message = f"{summary.message()}; since the last run sent {sent}, failed {failed}"
    return FunctionResult(message, {**summary.to_dict(), "delivery": delivery})


def update_statuses(services: Services, _body: dict[str, Any], now: datetime) -> FunctionResult:
    """Move overdue appointments to their final status (the half-hourly job's work)."""
    summary = domain.update_statuses(services.engine, services.settings, now)
    return FunctionResult(summary.message(), summary.to_dict())


def builtin_http_functions() -> HttpFunctions:
    registry = HttpFunctions()
    registry.register(
        "process-reminders",
        process_reminders,
        "plan reminders due in about 24 h and 1 h, hand them to delivery",
    )
    registry.register(
        "appointment-status-updater",
        update_statuses,
        "move past appointments to completed or no_show",
    )
    return registry
