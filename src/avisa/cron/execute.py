"""Run one command and say how it ended, as an `Outcome` whose message is secret-free.

- `sql` runs in its own transaction on avisa's engine (on PostgreSQL with a statement
  timeout equal to the job's, so a slow query is cancelled server-side too);
- `function` calls the registered callable in a thread;
- `http` resolves `{{secret:NAME}}` just before sending, succeeds only on a 2xx, and keeps
  the status, the duration and a scrubbed excerpt of the answer.

The job timeout wraps everything: past it the run is `failed` with "timed out after …".
A thread (SQL on SQLite, a function) cannot be interrupted; its late result is dropped.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.clock import Clock
from avisa.cron.commands import Command, HttpCommand, SqlCommand
from avisa.cron.functions import FunctionContext, FunctionRegistry
from avisa.cron.model import Outcome
from avisa.cron.redact import Redactor, SecretLookup, resolve
from avisa.db.engine import is_sqlite
from avisa.errors import AvisaError, NotFoundError, VaultSealedError

#: Headers naming the calling job and run on every HTTP job's request.
JOB_HEADER = "X-Avisa-Job"
RUN_HEADER = "X-Avisa-Run"
#: Bytes of an HTTP answer read for the excerpt; the rest is discarded unread.
READ_LIMIT = 8192
#: Threads for SQL, functions and secret lookups. Our own pool, not the loop's default,
#: so that a thread stuck past its timeout never blocks the worker's shutdown.
MAX_THREADS = 16

T = TypeVar("T")


class _NoRequestLines(logging.Filter):
    """Drops httpx's "HTTP Request: METHOD URL" lines: the URL may hold a resolved secret,
    and the runner logs every run itself, without it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("HTTP Request:")


_REQUEST_LINE_FILTER = _NoRequestLines()


class CommandRunner:
    """Executes commands for the scheduler. Owns an HTTP client; `aclose()` it when done."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        functions: FunctionRegistry,
        secrets: SecretLookup,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.functions = functions
        self.secrets = secrets
        self._http: httpx.AsyncClient | None = None
        self._threads: ThreadPoolExecutor | None = None
        # Idempotent: logging keeps one instance of a filter object.
        logging.getLogger("httpx").addFilter(_REQUEST_LINE_FILTER)

    def __repr__(self) -> str:
        return f"CommandRunner({self.engine.dialect.name})"

    async def aclose(self) -> None:
        """Close the HTTP client and let go of the threads (a stuck one is abandoned)."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None

    async def _in_thread(self, call: Callable[..., T], *args: Any) -> T:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(MAX_THREADS, thread_name_prefix="avisa-cron")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, functools.partial(call, *args))

    async def run(
        self, command: Command, *, jobname: str, runid: int, timeout: timedelta
    ) -> Outcome:
        """Run `command` within `timeout`. Never raises for a failing command: the failure
        is the Outcome. Cancellation (a stopping worker) propagates."""
        try:
            async with asyncio.timeout(timeout.total_seconds()):
                if isinstance(command, SqlCommand):
                    return await self._in_thread(self._run_sql, command.sql, timeout)
                if isinstance(command, HttpCommand):
                    return await self._run_http(command, jobname, runid)
                return await self._run_function(command.name, command.args, jobname, runid)
        except TimeoutError:
            return Outcome(False, f"timed out after {describe_duration(timeout)}")

    def _run_sql(self, sql: str, timeout: timedelta) -> Outcome:
        try:
            with self.engine.begin() as conn:
                if not is_sqlite(conn):
                    milliseconds = int(timeout.total_seconds() * 1000)
                    conn.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
                # No parameters at all: the driver must not read `%` in LIKE '…%' as one.
                result = conn.execution_options(no_parameters=True).exec_driver_sql(sql)
                if result.returns_rows:
                    return Outcome(True, f"{len(result.fetchall())} row(s) returned")
                return Outcome(True, f"{max(result.rowcount, 0)} row(s) affected")
        except sa.exc.DBAPIError as exc:
            original = exc.orig if exc.orig is not None else exc
            lines = [line for line in str(original).splitlines() if line.strip()]
            reason = lines[0] if lines else type(original).__name__
            return Outcome(False, Redactor().scrub(f"sql failed: {reason}"))

    async def _run_function(
        self, name: str, args: dict[str, Any], jobname: str, runid: int
    ) -> Outcome:
        try:
            function = self.functions.get(name)
        except NotFoundError as exc:
            return Outcome(False, str(exc))
        context = FunctionContext(self.engine, self.clock, jobname, runid)
        try:
            message = await self._in_thread(function.call, context, dict(args))
        except AvisaError as exc:
            return Outcome(False, Redactor().scrub(str(exc)))
        except Exception as exc:  # any failure of user code fails the run
            return Outcome(False, Redactor().scrub(f"{type(exc).__name__}: {exc}"))
        return Outcome(True, Redactor().scrub(message or "done"))

    async def _run_http(self, command: HttpCommand, jobname: str, runid: int) -> Outcome:
        redactor = Redactor()
        try:
            url, headers = await self._in_thread(self._resolve, command, redactor)
            # Who is calling, for the function's execution log (decision V6), unless the
            # job sets these headers itself.
            given = {name.lower() for name, _ in headers}
            for name, value in ((JOB_HEADER, jobname), (RUN_HEADER, str(runid))):
                if name.lower() not in given:
                    headers.append((name, value))
        except NotFoundError as exc:
            return Outcome(False, redactor.scrub(f"secret missing: {exc}"))
        except VaultSealedError as exc:
            return Outcome(False, redactor.scrub(f"vault is sealed: {exc}"))
        client = self._client()
        started = self.clock.monotonic()
        try:
            request = client.build_request(
                command.method,
                url,
                headers=headers,
                json=command.body,
                timeout=command.timeout_ms / 1000,
            )
            response = await client.send(request, stream=True)
            try:
                body = await _read_some(response)
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            return Outcome(False, f"HTTP request timed out after {command.timeout_ms} ms")
        except (httpx.HTTPError, ValueError, TypeError) as exc:
            # Bad URLs and header values (a resolved secret with a newline, say) land here
            # too. The error text may quote the URL, which may hold a resolved secret.
            return Outcome(
                False, redactor.scrub(f"HTTP request failed: {type(exc).__name__}: {exc}")
            )
        elapsed = round((self.clock.monotonic() - started) * 1000)
        text = body.decode(response.encoding or "utf-8", errors="replace")
        excerpt = redactor.excerpt(text)
        message = f"HTTP {response.status_code} in {elapsed} ms"
        if excerpt:
            message += f": {excerpt}"
        return Outcome(200 <= response.status_code < 300, message, response.status_code)

    def _resolve(
        self, command: HttpCommand, redactor: Redactor
    ) -> tuple[str, list[tuple[str, str]]]:
        url = resolve(command.url, self.secrets, redactor)
        headers = [
            (name, resolve(value, self.secrets, redactor)) for name, value in command.headers
        ]
        return url, headers

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            # No redirects: a 3xx is not a success, and following one could carry the
            # Authorization header to another host.
            self._http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        return self._http


async def _read_some(response: httpx.Response) -> bytes:
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= READ_LIMIT:
            break
    return data[:READ_LIMIT]


def describe_duration(delta: timedelta) -> str:
    """`5 min`, `90 s`, `2 h`: a duration as people write it."""
    seconds = int(delta.total_seconds())
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
