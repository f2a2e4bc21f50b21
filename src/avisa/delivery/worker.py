"""The delivery worker: claim due notifications, re-check, render, send, record.

Any number of workers run against one database (inside `avisa serve` and `avisa worker`);
the claim in `store.claim_due` decides who sends what. A worker keeps at most
`concurrency` sends in flight. When idle it sleeps until the next due time, retry or lease
deadline, but never longer than `poll_interval`, so a notification created by another
process (a late booking) is picked up within that interval: well inside the 60 s promise.

Per claimed notification: wait for the provider's rate limit, re-check the appointment
(cancelled or moved: not sent, cancelled with the reason), send, and record `sent` with
the provider's message id, a retry at a backed-off time (transient error, attempts left),
or `failed` (permanent error, or attempts exhausted). Time comes from the injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from avisa.clock import Clock
from avisa.delivery import store
from avisa.delivery.batch import Batcher
from avisa.delivery.channels import Transport
from avisa.delivery.errors import DeliveryError
from avisa.delivery.ics import appointment_ics
from avisa.delivery.message import OutgoingMessage, Rendered
from avisa.delivery.ratelimit import RateLimits
from avisa.delivery.render import ReminderContext, Renderer
from avisa.delivery.retry import RetryPolicy
from avisa.delivery.store import Claim, Outcome

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeliverySettings:
    """Timings and bounds of a worker; `runtime` builds them from `Settings`."""

    lease: timedelta = timedelta(minutes=2)
    poll_interval: timedelta = timedelta(seconds=5)
    concurrency: int = 16
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: On stop, sends in flight get this long before they are interrupted.
    shutdown_grace: float = 10.0


class DeliveryWorker:
    """Sends due notifications through `transports` (by channel) until stopped."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        transports: dict[str, Transport],
        renderer: Renderer,
        limits: RateLimits,
        settings: DeliverySettings | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.transports = transports
        self.renderer = renderer
        self.limits = limits
        self.settings = settings or DeliverySettings()
        self._tasks: set[asyncio.Task[None]] = set()
        self._recheck: Batcher[tuple[int, int], str | None] = Batcher(self._recheck_held)
        self._record: Batcher[Outcome, bool] = Batcher(self._record_outcomes)

    def __repr__(self) -> str:
        return f"DeliveryWorker({sorted(self.transports)})"

    # -- loop ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; then give sends in flight their grace and close."""
        log.info("delivery_worker_started", channels=sorted(self.transports))
        failures = 0
        try:
            while not stop.is_set():
                try:
                    busy = await self._fill()
                    failures = 0
                    if busy:
                        await self._wait_for_slot(stop)
                        continue
                    wait = await self._idle_delay()
                except SQLAlchemyError as exc:
                    # The database is down or busy: keep the process, back off, retry.
                    failures += 1
                    log.warning(
                        "delivery_db_error", error_class=type(exc).__name__, attempt=failures
                    )
                    wait = float(min(30, 2**failures))
                await self._sleep(wait, stop)
        finally:
            await self.shutdown()

    async def run_pending(self) -> int:
        """Claim and deliver everything due at the clock's now, waiting for every send.

        Returns how many notifications were handled. Used by tests and `avisa` commands
        that deliver once; `run` does the same continuously.
        """
        handled = 0
        while True:
            claims = await self._claim(self.settings.concurrency)
            if not claims:
                break
            handled += len(claims)
            await asyncio.gather(*(self._deliver(claim) for claim in claims))
        await self.drain()
        return handled

    async def drain(self) -> None:
        """Wait for every send this worker started."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def shutdown(self) -> None:
        """Give sends in flight `shutdown_grace` seconds, interrupt the rest (their lease
        makes them claimable again), and close the transports."""
        if self._tasks:
            _done, pending = await asyncio.wait(
                list(self._tasks), timeout=self.settings.shutdown_grace
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.aclose()

    async def aclose(self) -> None:
        for transport in self.transports.values():
            with contextlib.suppress(Exception):
                await transport.aclose()

    async def _fill(self) -> bool:
        """Claim up to the free slots and start their sends; True when every slot is busy
        (more may be due), False when nothing more is due now."""
        free = self.settings.concurrency - len(self._tasks)
        if free <= 0:
            return True
        claims = await self._claim(free)
        for claim in claims:
            task = asyncio.create_task(self._deliver(claim))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claims) == free

    async def _wait_for_slot(self, stop: asyncio.Event) -> None:
        # Refill once half the slots are free: one claim per batch, not one per send.
        target = max(1, self.settings.concurrency // 2)
        stopper = asyncio.create_task(stop.wait())
        try:
            while self._tasks and len(self._tasks) > self.settings.concurrency - target:
                if stop.is_set():
                    return
                await asyncio.wait([*self._tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()

    async def _idle_delay(self) -> float:
        retry = self.settings.retry
        next_at = await asyncio.to_thread(store.next_due_at, self.engine, retry.max_attempts)
        poll = self.settings.poll_interval.total_seconds()
        if next_at is None:
            return poll
        return max(0.0, min(poll, (next_at - self.clock.now()).total_seconds()))

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        sleeper = asyncio.create_task(self.clock.sleep(seconds))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([sleeper, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in (sleeper, stopper):
            task.cancel()
        await asyncio.gather(sleeper, stopper, return_exceptions=True)

    async def _claim(self, limit: int) -> list[Claim]:
        return await asyncio.to_thread(
            store.claim_due,
            self.engine,
            self.clock.now(),
            limit=limit,
            lease=self.settings.lease,
            max_attempts=self.settings.retry.max_attempts,
        )

    # -- one notification ------------------------------------------------------------------

    async def _deliver(self, claim: Claim) -> None:
        try:
            outcome = await self._attempt(claim)
            if outcome is None:
                log.warning("delivery_lease_lost", notification=claim.id, attempt=claim.attempts)
                return
            written = await self._record.submit(outcome)
        except Exception as exc:
            # The row keeps its lease and is retried when it expires.
            log.exception("delivery_record_failed", notification=claim.id, error=type(exc).__name__)
            return
        event = f"delivery_{'retry' if outcome.status == 'pending' else outcome.status}"
        fields = {
            "notification": claim.id,
            "channel": claim.channel,
            "kind": claim.kind,
            "attempt": claim.attempts,
            "provider": outcome.provider,
        }
        if not written:
            log.warning("delivery_lease_lost", **fields)
        elif outcome.status == "sent":
            log.debug(event, message_id=outcome.message_id, **fields)
        elif outcome.status == "cancelled":
            log.info(event, reason=outcome.reason, **fields)
        else:
            log.warning(event, error=outcome.error, **fields)

    async def _attempt(self, claim: Claim) -> Outcome | None:
        """The outcome to record, or None when the row is no longer this worker's."""
        transport = self.transports.get(claim.channel)
        if transport is None:
            return self._outcome(claim, "failed", error=f"no transport for {claim.channel}")
        try:
            message = self.message(claim)
        except Exception as exc:
            # A broken user template fails its notifications, never the worker.
            error = f"cannot render the message: {type(exc).__name__}: {exc}"
            return self._outcome(claim, "failed", provider=transport.provider, error=error)
        await self.limits.acquire(transport.provider)
        # After the rate limit's wait, so it is as close to the send as it can be.
        reason = await self._recheck.submit((claim.id, claim.attempts))
        if reason == store.LEASE_LOST:
            return None
        if reason is not None:
            return self._outcome(claim, "cancelled", reason=reason)
        try:
            message_id = await transport.send(message)
        except DeliveryError as exc:
            return self._failure(claim, transport.provider, exc)
        return self._outcome(claim, "sent", provider=transport.provider, message_id=message_id)

    def _failure(self, claim: Claim, provider: str, exc: DeliveryError) -> Outcome:
        retry = self.settings.retry
        if exc.permanent:
            return self._outcome(claim, "failed", provider=provider, error=str(exc))
        if retry.exhausted(claim.attempts):
            error = f"gave up after {claim.attempts} attempts: {exc}"
            return self._outcome(claim, "failed", provider=provider, error=error)
        later = self.clock.now() + retry.delay(claim.attempts, exc.retry_after)
        return self._outcome(
            claim, "pending", provider=provider, error=str(exc), next_attempt_at=later
        )

    def _outcome(
        self,
        claim: Claim,
        status: str,
        *,
        provider: str | None = None,
        message_id: str | None = None,
        error: str | None = None,
        reason: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> Outcome:
        return Outcome(
            id=claim.id,
            attempts=claim.attempts,
            status=status,
            at=self.clock.now(),
            provider=provider,
            message_id=message_id,
            error=error,
            reason=reason,
            next_attempt_at=next_attempt_at,
        )

    def message(self, claim: Claim) -> OutgoingMessage:
        """Render `claim` for its channel. Raises the renderer's errors."""
        context = ReminderContext(
            kind=claim.kind,
            channel=claim.channel,
            locale=claim.locale,
            client_name=claim.client_name,
            service=claim.service,
            staff=claim.staff,
            location=claim.location,
            starts_at=claim.starts_at,
            ends_at=claim.ends_at,
            timezone=claim.timezone,
            total_amount=claim.total_amount,
            paid_amount=claim.paid_amount,
            currency=claim.currency,
        )
        rendered: Rendered = self.renderer.render(context)
        now = self.clock.now()
        ics = None
        if claim.channel == "email":
            ics = appointment_ics(
                uid=f"appointment-{claim.appointment_id}@avisa",
                summary=claim.service,
                starts_at=claim.starts_at,
                ends_at=claim.ends_at,
                stamp=now,
                location=claim.location,
                description=claim.staff,
            )
        return OutgoingMessage(
            notification_id=claim.id,
            channel=claim.channel,
            kind=claim.kind,
            locale=claim.locale,
            recipient=claim.recipient,
            rendered=rendered,
            created_at=now,
            ics=ics,
        )

    def _recheck_held(self, held: list[tuple[int, int]]) -> list[str | None]:
        return store.recheck(self.engine, held, self.clock.now(), self.settings.lease)

    def _record_outcomes(self, outcomes: list[Outcome]) -> list[bool]:
        return store.record_outcomes(self.engine, outcomes)
