"""Data for the reminders benchmark, generated inside the database in one statement per table.

`scale=1` is 1,000,000 appointments over 520 hours centred on `NOW`: about 50,000 start in
the next 26 hours (the window of the 24h reminder plus a 2h horizon), and 100,000 of the
500,000 past ones are still open, i.e. overdue for the status updater. Start times are
spread by a multiplicative permutation of the ids, so the table's physical order is not
its time order, as in a real booking history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SPAN = timedelta(hours=520)
BASE = NOW - SPAN / 2
STRIDE = 7919  # a prime: i -> i * STRIDE mod N is a permutation whenever N is not a multiple


def sizes(scale: float) -> tuple[int, int]:
    """(appointments, clients) for `scale`."""
    appointments = max(1000, round(1_000_000 * scale))
    if appointments % STRIDE == 0:
        appointments += 1
    return appointments, max(50, round(20_000 * scale))


def populate(engine: Engine, scale: float) -> tuple[int, int]:
    """Fill an empty, migrated database; returns (appointments, clients)."""
    n, c = sizes(scale)
    step_us = int(SPAN / timedelta(microseconds=1)) // n
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            _populate_pg(conn, n, c, step_us)
        else:
            _populate_sqlite(conn, n, c, step_us)
    # VACUUM cannot run in a transaction; ANALYZE gives both planners the real statistics.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(
            sa.text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
        )
    return n, c


# Clients: every one has email; even ids also SMS; every third also WhatsApp (on the phone);
# every tenth opted out of SMS.
_CLIENT_COLUMNS = (
    "id, name, email, phone, whatsapp, locale, timezone, channels, opt_out, created_at, updated_at"
)
# Appointments: the future half is open (1 in 50 cancelled); in the past half one in five is
# still open (overdue), the rest completed.
_STATUS = """CASE
    WHEN {slot} >= {half} THEN CASE WHEN {i} % 50 = 0 THEN 'cancelled'
                                    WHEN {i} % 2 = 0 THEN 'confirmed' ELSE 'scheduled' END
    WHEN {i} % 5 = 0 THEN CASE WHEN {i} % 10 = 0 THEN 'confirmed' ELSE 'scheduled' END
    ELSE 'completed' END"""


def _populate_pg(conn: sa.Connection, n: int, c: int, step_us: int) -> None:
    conn.execute(
        sa.text(f"""
        INSERT INTO clients ({_CLIENT_COLUMNS})
        SELECT i, 'Client ' || i, 'c' || i || '@example.com', '+3460' || lpad(i::text, 7, '0'),
               CASE WHEN i % 3 = 0 THEN '+3460' || lpad(i::text, 7, '0') END,
               'es', 'Europe/Madrid',
               (jsonb_build_array('email')
                 || CASE WHEN i % 2 = 0 THEN '["sms"]'::jsonb ELSE '[]'::jsonb END
                 || CASE WHEN i % 3 = 0 THEN '["whatsapp"]'::jsonb ELSE '[]'::jsonb END),
               CASE WHEN i % 10 = 0 THEN '["sms"]'::jsonb ELSE '[]'::jsonb END,
               :base, :base
        FROM generate_series(1, :c) AS i
        """),  # noqa: S608  (constants only; values are bound)
        {"c": c, "base": BASE},
    )
    slot = f"((i::bigint * {STRIDE}) % {n})"
    conn.execute(
        sa.text(f"""
        INSERT INTO appointments (id, client_id, service, starts_at, ends_at, timezone, status,
            total_amount, paid_amount, currency, completed_at, created_at, updated_at)
        SELECT i, 1 + i % :c, 'Corte', s.starts_at, s.starts_at + interval '30 minutes',
               'Europe/Madrid', s.status, 30, CASE WHEN i % 4 = 0 THEN 30 ELSE 0 END, 'EUR',
               CASE WHEN s.status = 'completed' THEN s.starts_at + interval '30 minutes' END,
               :base, :base
        FROM generate_series(1, :n) AS i,
        LATERAL (SELECT :base + {slot} * :step * interval '1 microsecond' AS starts_at,
                        {_STATUS.format(slot=slot, half=n // 2, i="i")} AS status) AS s
        """),  # noqa: S608
        {"n": n, "c": c, "base": BASE, "step": step_us},
    )
    for table in ("clients", "appointments"):
        conn.execute(
            sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}")  # noqa: S608
        )


def _populate_sqlite(conn: sa.Connection, n: int, c: int, step_us: int) -> None:
    base = BASE.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    conn.execute(
        sa.text(f"""
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :c)
        INSERT INTO clients ({_CLIENT_COLUMNS})
        SELECT i, 'Client ' || i, 'c' || i || '@example.com', printf('+3460%07d', i),
               CASE WHEN i % 3 = 0 THEN printf('+3460%07d', i) END, 'es', 'Europe/Madrid',
               '["email"]',
               CASE WHEN i % 10 = 0 THEN '["sms"]' ELSE '[]' END, :base, :base
        FROM s
        """),  # noqa: S608
        {"c": c, "base": base},
    )
    # Channels as JSON text; built in a second pass because SQLite has no array concatenation.
    conn.execute(
        sa.text("""
        UPDATE clients SET channels = '["email"' ||
            CASE WHEN id % 2 = 0 THEN ',"sms"' ELSE '' END ||
            CASE WHEN id % 3 = 0 THEN ',"whatsapp"' ELSE '' END || ']'
        """)
    )
    slot = f"((i * {STRIDE}) % {n})"
    # SQLite stores instants as 'YYYY-MM-DD HH:MM:SS.ffffff' (see avisa.db.types).
    starts = (
        f"strftime('%Y-%m-%d %H:%M:%S', :base, (({slot} * :step) / 1000000) || ' seconds') "
        f"|| printf('.%06d', ({slot} * :step) % 1000000)"
    )
    conn.execute(
        sa.text(f"""
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n),
        t AS (SELECT i, {starts} AS starts_at,
                     {_STATUS.format(slot=slot, half=n // 2, i="i")} AS status FROM s)
        INSERT INTO appointments (id, client_id, service, starts_at, ends_at, timezone, status,
            total_amount, paid_amount, currency, completed_at, created_at, updated_at)
        SELECT i, 1 + i % :c, 'Corte', starts_at,
               strftime('%Y-%m-%d %H:%M:%S', starts_at, '+1800 seconds') || substr(starts_at, 20),
               'Europe/Madrid', status, 30, CASE WHEN i % 4 = 0 THEN 30 ELSE 0 END, 'EUR',
               CASE WHEN status = 'completed' THEN
                 strftime('%Y-%m-%d %H:%M:%S', starts_at, '+1800 seconds') || substr(starts_at, 20)
               END,
               :base, :base
        FROM t
        """),  # noqa: S608
        {"n": n, "c": c, "base": base, "step": step_us},
    )
