"""In-process functions that `function` jobs call by name, with JSON arguments.

A function takes a `FunctionContext` and its arguments, returns a short message for the
run row (or None), and raises to fail the run: an `AvisaError`'s text is kept as the
message, anything else by class name and text. Functions run in a worker thread, so they
may block; they should still finish within the job's timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine

from avisa.clock import Clock
from avisa.cron.runs import RunStore
from avisa.errors import AvisaError, NotFoundError

#: The built-in function the daily history purge job calls.
PURGE_FUNCTION = "purge_run_history"
DEFAULT_KEEP_DAYS = 7
DEFAULT_PURGE_BATCH = 1000
#: The built-in function the `check-alerts` job calls (see avisa.alerts).
ALERTS_FUNCTION = "check_alerts"


class FunctionArgumentError(AvisaError):
    """A function was called with arguments it cannot use (HTTP 422)."""

    http_status = 422


@dataclass(frozen=True)
class FunctionContext:
    """What a function may use: the database, the clock, and which run called it."""

    engine: Engine
    clock: Clock
    jobname: str
    runid: int


JobFunction = Callable[[FunctionContext, dict[str, Any]], str | None]


@dataclass(frozen=True)
class RegisteredFunction:
    name: str
    call: JobFunction
    description: str


class FunctionRegistry:
    """Functions by name. Built by the entry point; tests build their own."""

    def __init__(self) -> None:
        self._functions: dict[str, RegisteredFunction] = {}

    def __repr__(self) -> str:
        return f"FunctionRegistry({sorted(self._functions)})"

    def __iter__(self) -> Iterator[RegisteredFunction]:
        return iter(sorted(self._functions.values(), key=lambda f: f.name))

    def register(self, name: str, call: JobFunction, description: str = "") -> None:
        """Add `call` under `name`. Raises ValueError if the name is already taken."""
        if name in self._functions:
            raise ValueError(f"function {name!r} is already registered")
        self._functions[name] = RegisteredFunction(name, call, description)

    def get(self, name: str) -> RegisteredFunction:
        """The function called `name`; raises NotFoundError listing the known names."""
        try:
            return self._functions[name]
        except KeyError:
            known = ", ".join(sorted(self._functions)) or "none"
            raise NotFoundError(f"unknown function {name!r} (known: {known})") from None


def purge_run_history(context: FunctionContext, args: dict[str, Any]) -> str:
    """Delete ended runs older than `keep_days` (default 7), `batch_size` rows at a time."""
    keep_days = _positive_int(args, "keep_days", DEFAULT_KEEP_DAYS, 36500)
    batch_size = _positive_int(args, "batch_size", DEFAULT_PURGE_BATCH, 100_000)
    unknown = set(args) - {"keep_days", "batch_size"}
    if unknown:
        raise FunctionArgumentError(f"unknown argument(s): {', '.join(sorted(unknown))}")
    cutoff = context.clock.now() - timedelta(days=keep_days)
    deleted = RunStore(context.engine).purge(cutoff, batch_size)
    return f"deleted {deleted} runs older than {keep_days} days"


def check_alerts(context: FunctionContext, args: dict[str, Any]) -> str:
    """Alert the operator of failed runs, failed executions and a red `verify`."""
    # Imported here: avisa.alerts uses the vault and `verify`, which import this package.
    from avisa.alerts.job import run_alert_job  # noqa: PLC0415

    return run_alert_job(context, args)


def builtin_functions() -> FunctionRegistry:
    """A registry holding avisa's own functions."""
    registry = FunctionRegistry()
    registry.register(
        PURGE_FUNCTION,
        purge_run_history,
        "Delete run history older than keep_days (default 7), in batches.",
    )
    registry.register(
        ALERTS_FUNCTION,
        check_alerts,
        "Alert the operator (email, webhook) of failures and recoveries.",
    )
    return registry


def _positive_int(args: dict[str, Any], key: str, default: int, maximum: int) -> int:
    value = args.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise FunctionArgumentError(f"{key} must be a whole number from 1 to {maximum}")
    return value
