"""Benchmark: delivery throughput to a local fake Twilio, against a bare httpx client
posting the same requests in the same run.

    python -m bench.delivery                  # 10,000 due notifications, SQLite and PostgreSQL
    python -m bench.delivery --count 500 --backend sqlite    # a few seconds
    python -m bench.delivery --pg-url postgresql://postgres@127.0.0.1/test
    python -m bench.delivery --concurrency 32 --rounds 5

The fake Twilio (the tests' server, which checks auth, E.164 and the form) runs in its own
process under uvicorn; each backend gets a fresh database (a scratch PostgreSQL database is
dropped afterwards). "bare" is one httpx.AsyncClient posting the N form requests with
the same concurrency and nothing else; "avisa" is the delivery worker doing the whole job:
claims, rendering in the client's language, the re-check of each appointment, the rate
limiter (no limit set), the POST, and recording `sent` with the provider's sid. The ratio
is avisa's messages per second over bare's (the target is at least 0.7).

Shared machines are noisy: each of `--rounds` rounds runs bare then avisa over the same
N notifications (reset to pending and vacuumed between rounds); the best round of each is compared,
and the CPU time per message of this process (the server's is not counted) is reported
for both, a figure that load on the machine disturbs much less. Exits 1 when a message
was not sent or a ratio is under `--target`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from avisa.clock import SystemClock
from avisa.config import load_settings
from avisa.db import migrate
from avisa.db.engine import create_engine
from avisa.db.tables import appointments, clients, notifications
from avisa.delivery.channels.http import new_client
from avisa.delivery.channels.twilio_sms import TwilioConfig, TwilioMessages, TwilioSmsTransport
from avisa.delivery.ratelimit import RateLimits
from avisa.delivery.render import Renderer
from avisa.delivery.worker import DeliverySettings, DeliveryWorker
from avisa.logging import configure_logging
from bench.report import Figure, Outcome, ratio_at_least
from bench.scratch import backends, default_pg_url, scratch_database
from bench.twilio_server import ACCOUNT_SID, AUTH_TOKEN, SENDER, fake_twilio


def recipient(i: int) -> str:
    """The phone number of the `i`-th populated client: one recipient per notification."""
    return f"+346{i:08d}"


def populate(
    engine: sa.Engine,
    count: int,
    now: datetime,
    *,
    start_in: timedelta = timedelta(hours=24),
    spread: timedelta = timedelta(0),
) -> None:
    """`count` clients, appointments from `start_in` on (each at its own minute, at one of
    40 prices: the renderer's caches help only as much as real bookings let them), and one
    SMS reminder each, due from `now` over `spread` (all at once by default)."""
    stamp = {"created_at": now, "updated_at": now}
    base = now + start_in
    with engine.begin() as conn:
        conn.execute(
            sa.insert(clients),
            [
                {
                    "id": i + 1,
                    "name": f"Cliente {i}",
                    "phone": recipient(i),
                    "locale": "es" if i % 2 else "en",
                    "timezone": "Europe/Madrid",
                    "channels": ["sms"],
                    "opt_out": [],
                    **stamp,
                }
                for i in range(count)
            ],
        )
        conn.execute(
            sa.insert(appointments),
            [
                {
                    "id": i + 1,
                    "client_id": i + 1,
                    "service": "Corte de pelo",
                    "location": "C/ Mayor 1",
                    "starts_at": base + timedelta(minutes=i),
                    "ends_at": base + timedelta(minutes=i + 45),
                    "timezone": "Europe/Madrid",
                    "status": "scheduled",
                    "total_amount": Decimal(20 + i % 40),
                    "paid_amount": Decimal(10),
                    "currency": "EUR",
                    **stamp,
                }
                for i in range(count)
            ],
        )
        conn.execute(
            sa.insert(notifications),
            [
                {
                    "appointment_id": i + 1,
                    "client_id": i + 1,
                    "kind": "reminder_24h",
                    "channel": "sms",
                    "recipient": recipient(i),
                    "status": "pending",
                    "due_at": now - timedelta(seconds=1) + spread * (i / count),
                    "planned_start": base + timedelta(minutes=i),
                    "attempts": 0,
                    **stamp,
                }
                for i in range(count)
            ],
        )


async def bare(base_url: str, count: int, concurrency: int) -> float:
    """Seconds for one AsyncClient to post `count` messages, `concurrency` at a time."""
    config = TwilioConfig(account_sid=ACCOUNT_SID, base_url=base_url, sender=SENDER)
    queue = list(range(count))

    async def sender(client: httpx.AsyncClient) -> None:
        while queue:
            i = queue.pop()
            response = await client.post(
                config.messages_url,
                data={"To": f"+347{i:08d}", "From": SENDER, "Body": f"Recordatorio {i}"},
                auth=(ACCOUNT_SID, AUTH_TOKEN),
            )
            if response.status_code != 201:
                raise RuntimeError(f"bare: HTTP {response.status_code}")

    # The same pool bounds, timeout and redirect policy as avisa's provider client had when
    # it was httpx: the baseline is what a plain httpx sender achieves.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=32)
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(10.0), limits=limits, follow_redirects=False
    ) as client:
        started = time.perf_counter()
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
        return time.perf_counter() - started


async def avisa(engine: sa.Engine, base_url: str, concurrency: int) -> tuple[float, int]:
    """Seconds for a delivery worker to send everything due, and how many it handled."""

    async def token() -> str:
        return AUTH_TOKEN

    transport = TwilioSmsTransport(
        TwilioMessages(
            TwilioConfig(account_sid=ACCOUNT_SID, base_url=base_url, sender=SENDER),
            token,
            new_client(max_connections=concurrency),
        )
    )
    worker = DeliveryWorker(
        engine,
        SystemClock(),
        {"sms": transport},
        Renderer(),
        RateLimits(),
        DeliverySettings(concurrency=concurrency),
    )
    started = time.perf_counter()
    handled = await worker.run_pending()
    elapsed = time.perf_counter() - started
    await worker.aclose()
    return elapsed, handled


def reset(engine: sa.Engine, now: datetime) -> None:
    """Every notification due again, as before the first round, and the table vacuumed so
    that no round meets the previous rounds' dead rows."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(notifications).values(
                status="pending",
                attempts=0,
                next_attempt_at=None,
                sent_at=None,
                provider=None,
                provider_message_id=None,
                last_error=None,
                due_at=now - timedelta(seconds=1),
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        vacuum = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
        conn.execute(sa.text(f"{vacuum} notifications"))


def _timed(run: Any) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of `asyncio.run(run)`."""
    cpu = time.process_time()
    wall = asyncio.run(run)
    if isinstance(wall, tuple):
        wall = wall[0]
    return float(wall), time.process_time() - cpu


def measure(
    url: str, base_url: str, count: int, concurrency: int, rounds: int
) -> list[dict[str, float]]:
    """`rounds` rounds of bare then avisa over `count` notifications in the database `url`."""
    results: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(_env_file=None, data_dir=Path(tmp), database_url=url)
        engine = create_engine(settings)
        try:
            migrate.upgrade(engine)
            populate(engine, count, datetime.now(UTC))
            # Warm both paths (connections, imports, template compilation) untimed.
            asyncio.run(bare(base_url, min(200, count), concurrency))
            for _ in range(rounds):
                reset(engine, datetime.now(UTC))
                bare_s, bare_cpu = _timed(bare(base_url, count, concurrency))
                avisa_s, avisa_cpu = _timed(avisa(engine, base_url, concurrency))
                with engine.connect() as conn:
                    sent = conn.execute(
                        sa.select(sa.func.count()).where(notifications.c.status == "sent")
                    ).scalar_one()
                results.append(
                    {
                        "bare_per_s": count / bare_s,
                        "avisa_per_s": sent / avisa_s,
                        "bare_cpu_ms": bare_cpu / count * 1000,
                        "avisa_cpu_ms": avisa_cpu / max(1, sent) * 1000,
                        "sent": sent,
                    }
                )
        finally:
            engine.dispose()
    return results


def summarise(
    backend: str, count: int, concurrency: int, rounds: list[dict[str, float]]
) -> dict[str, Any]:
    """The best round of each side, and the least CPU per message of each."""
    best_bare = max(r["bare_per_s"] for r in rounds)
    best_avisa = max(r["avisa_per_s"] for r in rounds)
    return {
        "backend": backend,
        "count": count,
        "concurrency": concurrency,
        "bare_per_s": round(best_bare, 1),
        "avisa_per_s": round(best_avisa, 1),
        "ratio": round(best_avisa / best_bare, 3),
        "round_ratios": [round(r["avisa_per_s"] / r["bare_per_s"], 3) for r in rounds],
        "rounds": [{k: round(v, 3) for k, v in r.items()} for r in rounds],
        "bare_cpu_ms_per_msg": round(min(r["bare_cpu_ms"] for r in rounds), 3),
        "avisa_cpu_ms_per_msg": round(min(r["avisa_cpu_ms"] for r in rounds), 3),
        "all_sent": all(r["sent"] == count for r in rounds),
    }


BASELINE = "one httpx.AsyncClient posting the same requests to the same fake Twilio, same run"


def run(argv: list[str] | None = None) -> Outcome:
    """Measure, print a line and JSON per backend, and return the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.delivery", description=__doc__)
    parser.add_argument("--count", type=int, default=10_000, help="due notifications")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default=default_pg_url(), help="where scratch DBs go")
    parser.add_argument("--target", type=float, default=0.7, help="minimum ratio (exit 1)")
    args = parser.parse_args(argv)
    # One log line per message would measure the terminal, not delivery.
    configure_logging("human", "warning")

    results: list[dict[str, Any]] = []
    figures: list[Figure] = []
    with fake_twilio() as base_url:
        for backend in backends(args.backend, args.pg_url):
            with scratch_database(backend, args.pg_url) as url:
                rounds = measure(url, base_url, args.count, args.concurrency, args.rounds)
            result = summarise(backend, args.count, args.concurrency, rounds)
            results.append(result)
            print(
                f"{args.count} messages, {args.concurrency} in flight, {backend}, best of "
                f"{args.rounds}: bare httpx {result['bare_per_s']}/s, avisa "
                f"{result['avisa_per_s']}/s (ratio {result['ratio']}, target >= {args.target}); "
                f"CPU per message {result['bare_cpu_ms_per_msg']} ms bare, "
                f"{result['avisa_cpu_ms_per_msg']} ms avisa"
            )
            print(json.dumps(result))
            figures += [
                Figure(
                    "delivery",
                    backend,
                    "messages/s",
                    result["avisa_per_s"],
                    result["bare_per_s"],
                    (ratio_at_least(args.target),),
                    "issue 7",
                ),
                # Load on the machine disturbs this much less than the wall-clock rate.
                Figure(
                    "delivery",
                    backend,
                    "CPU ms/message (client side)",
                    result["avisa_cpu_ms_per_msg"],
                    result["bare_cpu_ms_per_msg"],
                ),
            ]
    document = {"benchmark": "delivery", "results": results}
    return Outcome("delivery", BASELINE, document, figures, all(r["all_sent"] for r in results))


def main(argv: list[str] | None = None) -> int:
    outcome = run(argv)
    return 0 if outcome.ok and all(f.met is not False for f in outcome.figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
