"""The delivery worker: claim due notifications, re-check, render, send, record.

Any number of workers run against one database (inside `avisa serve` and `avisa worker`);
the claim in `claims.claim_due` decides who sends what. A worker keeps at most
`concurrency` sends in flight. When idle it sleeps until the next due time, retry or lease
deadline, but never longer than `poll_interval`, so a notification created by another
process (a late booking) is picked up within that interval: well inside the 60 s promise.

Per claimed notification: render it, wait for the provider's rate limit, re-check the
appointment (cancelled or moved: cancelled with the reason; already started: skipped as
`too_late`; never sent), send, and record `sent` with the provider's message id, a retry
at a backed-off time (transient error, attempts left), or `failed` (permanent error, or
attempts exhausted). Time comes from the injected clock; database calls run on the
worker's loop (docs/decisions.md D4), which runs on its own thread in `avisa serve`.
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
from avisa.delivery import claims, store
from avisa.delivery.batch import Batcher
from avisa.delivery.channels import Reconciling, Transport
from avisa.delivery.claims import Claim
from avisa.delivery.errors import CredentialUnavailableError, DeliveryError
from avisa.delivery.ics import appointment_ics
from avisa.delivery.message import OutgoingMessage, Rendered
from avisa.delivery.ratelimit import RateLimits
from avisa.delivery.render import ReminderContext, Renderer
from avisa.delivery.retry import RetryPolicy
from avisa.delivery.store import Outcome

log = structlog.get_logger(__name__)

#: Seconds after its claim for which a claim's own read of the appointment counts as the
#: re-check before sending; later (a rate limit's wait) the appointment is read again.
FRESH_CLAIM = 1.0
#: Seconds an outcome waits for others to share its transaction.
RECORD_LINGER = 0.02
#: Seconds before writing an outcome again after a database error, doubling up to the max.
RECORD_RETRY_FIRST = 0.5
RECORD_RETRY_MAX = 10.0


@dataclass(frozen=True)
class DeliverySettings:
    """Timings and bounds of a worker; `runtime` builds them from `Settings`."""

    lease: timedelta = timedelta(minutes=2)
    poll_interval: timedelta = timedelta(seconds=5)
    concurrency: int = 16
    #: Claims held at once (queued or sending); refilled when half is free. Keep it
    #: sendable well within the lease at the slowest provider's rate limit.
    queue_depth: int = 128
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
        # `concurrency` long-lived senders take claims from a queue (one task per message
        # made httpx's pool markedly slower); up to `queue_depth` are held, claimed, so the
        # next batch is claimed while this one is in flight, and claims (which hold the
        # loop for a few milliseconds) come in large batches.
        self._queue: asyncio.Queue[tuple[Claim, float]] = asyncio.Queue()
        self._capacity = max(self.settings.queue_depth, 2 * self.settings.concurrency)
        self._busy = 0
        self._room = asyncio.Event()
        self._senders: list[asyncio.Task[None]] = []
        self._recheck: Batcher[tuple[int, int], str | None] = Batcher(self._recheck_held)
        # Outcomes are not in a hurry (the send is done): gather a few per transaction.
        self._record: Batcher[Outcome, bool] = Batcher(self._record_outcomes, linger=RECORD_LINGER)
        # Outcomes not yet written (waiting for a batch, or for the database to come back).
        self._unrecorded = 0
        self._all_recorded = asyncio.Event()
        self._closing = False

    def __repr__(self) -> str:
        return f"DeliveryWorker({sorted(self.transports)})"

    # -- loop ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; then give sends in flight their grace and close."""
        log.info("delivery_worker_started", channels=sorted(self.transports))
        self._start_senders()
        failures = 0
        try:
            while not stop.is_set():
                try:
                    free = self._capacity - self._held
                    claimed = self._fill()
                    failures = 0
                    if free <= 0 or claimed == free:
                        # Full, and more may be due: claim again as room is made.
                        await self._wait_for_room(stop)
                        continue
                    wait = self._idle_delay()
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

        Returns how many notifications were handled. Used by tests and the benchmark;
        `run` does the same continuously.
        """
        handled = 0
        max_attempts = self.settings.retry.max_attempts
        claims.fail_exhausted(self.engine, self.clock.now(), max_attempts=max_attempts)
        self._start_senders()
        try:
            while True:
                claimed = self._fill()
                handled += claimed
                if claimed:
                    await self._wait_for_room(None)
                elif self._held:
                    await self._queue.join()
                else:
                    await self._written()
                    return handled
        finally:
            await self._stop_senders()

    async def drain(self) -> None:
        """Wait until every claimed notification has been handled and recorded."""
        await self._queue.join()
        await self._written()

    async def _written(self) -> None:
        """Wait until every outcome so far is written (retries after database errors too)."""
        while self._unrecorded:
            self._all_recorded.clear()
            await self._all_recorded.wait()
        await self._record.idle()

    async def shutdown(self) -> None:
        """Give sends in flight and queued `shutdown_grace` seconds, interrupt the rest
        (their lease makes them claimable again), and close the transports."""
        deadline = asyncio.get_running_loop().time() + self.settings.shutdown_grace
        if self._senders:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), self.settings.shutdown_grace)
        await self._stop_senders()
        # Outcomes waiting for the database get what is left of the grace.
        left = deadline - asyncio.get_running_loop().time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._written(), max(0.0, left))
        self._closing = True
        if self._unrecorded:
            log.error("delivery_outcomes_unrecorded", count=self._unrecorded)
        await self._record.idle()
        await self.aclose()

    async def aclose(self) -> None:
        for transport in self.transports.values():
            with contextlib.suppress(Exception):
                await transport.aclose()

    @property
    def _held(self) -> int:
        """Claims this worker holds: queued or being sent."""
        return self._queue.qsize() + self._busy

    def _start_senders(self) -> None:
        if not self._senders:
            self._senders = [
                asyncio.create_task(self._sender()) for _ in range(self.settings.concurrency)
            ]

    async def _stop_senders(self) -> None:
        for task in self._senders:
            task.cancel()
        await asyncio.gather(*self._senders, return_exceptions=True)
        self._senders = []

    async def _sender(self) -> None:
        while True:
            claim, claimed_at = await self._queue.get()
            self._busy += 1
            try:
                await self._deliver(claim, claimed_at)
            finally:
                self._busy -= 1
                self._queue.task_done()
                self._room.set()

    def _fill(self) -> int:
        """Claim up to the free room and queue the claims; returns how many."""
        free = self._capacity - self._held
        if free <= 0:
            return 0
        batch = self._claim(free)
        claimed_at = self.clock.monotonic()
        for claim in batch:
            self._queue.put_nowait((claim, claimed_at))
        return len(batch)

    async def _wait_for_room(self, stop: asyncio.Event | None) -> None:
        """Wait until half the capacity is free (one claim per batch, not one per send),
        or `stop` is set."""
        while self._held > self._capacity // 2:
            if stop is not None and stop.is_set():
                return
            self._room.clear()
            waiters = [asyncio.create_task(self._room.wait())]
            if stop is not None:
                waiters.append(asyncio.create_task(stop.wait()))
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for task in waiters:
                task.cancel()

    def _idle_delay(self) -> float:
        retry = self.settings.retry
        # Idle is when to tidy: rows whose every attempt died with its worker fail here.
        claims.fail_exhausted(self.engine, self.clock.now(), max_attempts=retry.max_attempts)
        next_at = store.next_due_at(self.engine, retry.max_attempts)
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

    def _claim(self, limit: int) -> list[Claim]:
        # On the loop, like every statement of this worker (see `batch`).
        return claims.claim_due(
            self.engine,
            self.clock.now(),
            limit=limit,
            lease=self.settings.lease,
            max_attempts=self.settings.retry.max_attempts,
        )

    # -- one notification ------------------------------------------------------------------

    async def _deliver(self, claim: Claim, claimed_at: float) -> None:
        try:
            outcome = await self._attempt(claim, claimed_at)
        except Exception as exc:
            # The row keeps its lease and is retried when it expires.
            log.exception(
                "delivery_attempt_crashed", notification=claim.id, error=type(exc).__name__
            )
            return
        if outcome is None:
            log.warning("delivery_lease_lost", notification=claim.id, attempt=claim.attempts)
            return
        # The sender moves on at once; the outcome is written with others shortly after.
        self._unrecorded += 1
        self._save(claim, outcome, RECORD_RETRY_FIRST)

    def _save(self, claim: Claim, outcome: Outcome, retry_in: float) -> None:
        self._record.enqueue(outcome).add_done_callback(
            lambda written: self._recorded(claim, outcome, written, retry_in)
        )

    def _recorded(
        self, claim: Claim, outcome: Outcome, written: asyncio.Future[bool], retry_in: float
    ) -> None:
        error = written.exception()
        if isinstance(error, SQLAlchemyError) and not self._closing:
            # The database is away (restarting, failing over). The send is done: keep its
            # outcome and write it when the database is back, or the lease would expire
            # into a second send. Backs off; the fence still refuses a row taken since.
            log.warning(
                "delivery_record_retry",
                notification=claim.id,
                error=type(error).__name__,
                retry_in=retry_in,
            )
            asyncio.get_running_loop().call_later(
                retry_in, self._save, claim, outcome, min(RECORD_RETRY_MAX, retry_in * 2)
            )
            return
        self._unrecorded -= 1
        if self._unrecorded == 0:
            self._all_recorded.set()
        if error is None and written.result() and outcome.status == "sent":
            # The row says it all; a log line per message would cost more than the send.
            return
        fields = {
            "notification": claim.id,
            "channel": claim.channel,
            "kind": claim.kind,
            "attempt": claim.attempts,
            "provider": outcome.provider,
        }
        if error is not None:
            # The row keeps its lease: sent again when it expires (at least once).
            log.error("delivery_record_failed", error=type(error).__name__, **fields)
        elif not written.result():
            log.warning("delivery_lease_lost", **fields)
        elif outcome.status in ("cancelled", "skipped"):
            log.info(f"delivery_{outcome.status}", reason=outcome.reason, **fields)
        else:
            events = {"pending": "delivery_retry", "deferred": "delivery_deferred"}
            event = events.get(outcome.status, "delivery_failed")
            log.warning(event, error=outcome.error, **fields)

    async def _attempt(self, claim: Claim, claimed_at: float) -> Outcome | None:
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
        if self.clock.monotonic() - claimed_at <= FRESH_CLAIM:
            # The claim read the appointment a moment ago, in the claiming transaction.
            reason = claim.stale_reason(self.clock.now())
        else:
            # It waited (in the queue or for the rate limit): read the appointment again
            # and renew the lease.
            reason = await self._recheck.submit((claim.id, claim.attempts))
        if reason == claims.LEASE_LOST:
            return None
        if reason is not None:
            # Started already: skipped, as planning skips a booking too late to remind.
            status = "skipped" if reason == claims.TOO_LATE else "cancelled"
            return self._outcome(claim, status, reason=reason)
        return await self._send(claim, transport, message)

    async def _send(self, claim: Claim, transport: Transport, message: OutgoingMessage) -> Outcome:
        try:
            if claim.resumed and isinstance(transport, Reconciling):
                # The last attempt's worker stopped mid-send: ask before sending again.
                found = await self._find_sent(claim, transport, message)
                if found is not None:
                    log.info("delivery_reconciled", notification=claim.id, attempt=claim.attempts)
                    return self._outcome(
                        claim, "sent", provider=transport.provider, message_id=found
                    )
            message_id = await transport.send(message)
        except DeliveryError as exc:
            return self._failure(claim, transport.provider, exc)
        return self._outcome(claim, "sent", provider=transport.provider, message_id=message_id)

    async def _find_sent(
        self, claim: Claim, transport: Reconciling, message: OutgoingMessage
    ) -> str | None:
        """The provider's id if it already took `message`. A lookup the provider refuses
        (no permission to list, say) is not the message's fault: send as if not found.
        Raises TransientDeliveryError (the provider is away: try again later)."""
        try:
            return await transport.find_sent(message, claim.due_at)
        except DeliveryError as exc:
            if not exc.permanent:
                raise
            log.warning("delivery_lookup_refused", notification=claim.id, error=str(exc))
            return None

    def _failure(self, claim: Claim, provider: str, exc: DeliveryError) -> Outcome:
        retry = self.settings.retry
        if isinstance(exc, CredentialUnavailableError):
            # Nothing reached the provider and the message is not at fault: try again when
            # the credential may be back (spread out), without spending an attempt.
            wait = exc.retry_after or retry.base.total_seconds()
            later = self.clock.now() + timedelta(seconds=wait + retry.rng.uniform(0, wait))
            return self._outcome(
                claim, "deferred", provider=provider, error=str(exc), next_attempt_at=later
            )
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
        return claims.recheck(self.engine, held, self.clock.now(), self.settings.lease)

    def _record_outcomes(self, outcomes: list[Outcome]) -> list[bool]:
        return store.record_outcomes(self.engine, outcomes)
