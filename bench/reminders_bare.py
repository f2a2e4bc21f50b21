"""The bare SQL baselines: the sweep and the status update written by hand, run on the
driver's connection (psycopg or sqlite3) with no SQLAlchemy statement layer, no RETURNING
and no counting. Same rules, same ORDER BY (it is what keeps concurrent sweeps from
deadlocking, so a hand-written version needs it too).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from avisa.config import Settings
from avisa.domain.planning import reminder_kinds

OPEN = "('scheduled', 'confirmed')"


def bare_sweep(engine: Engine, settings: Settings, now: datetime) -> None:
    sqlite = engine.dialect.name == "sqlite"
    statements = [_cancel_sql(sqlite), _sweep_sql(settings, sqlite)]
    if not sqlite:
        statements.insert(0, "SET LOCAL jit = off")  # as avisa does, for the same reason
    _run(engine, statements, _params(now, sqlite))


def bare_status_update(engine: Engine, settings: Settings, now: datetime) -> None:
    sqlite = engine.dialect.name == "sqlite"
    p = ":" if sqlite else "%("
    q = "" if sqlite else ")s"
    statements = []
    for source, target in settings.status_mapping:
        completed = ", completed_at = ends_at" if target == "completed" else ""
        statements.append(
            f"UPDATE appointments SET status = '{target}'{completed}, updated_at = {p}now{q} "  # noqa: S608
            f"WHERE status = '{source}' AND ends_at <= {p}cutoff{q}"
        )
    statements.append(_cancel_sql(sqlite))
    params = _params(now, sqlite)
    params["cutoff"] = _instant(now - settings.status_grace, sqlite)
    _run(engine, statements, params)


def _run(engine: Engine, statements: list[str], params: dict[str, Any]) -> None:
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        if engine.dialect.name == "sqlite":
            # avisa's engine hands transaction control to the caller (see avisa.db.engine).
            cursor.execute("BEGIN IMMEDIATE")
        for statement in statements:
            cursor.execute(statement, params)
        connection.commit()
        cursor.close()
    finally:
        connection.close()


def _params(now: datetime, sqlite: bool) -> dict[str, Any]:
    return {"now": _instant(now, sqlite)}


def _instant(value: datetime, sqlite: bool) -> Any:
    # SQLite stores UTC instants as text of one fixed shape (see avisa.db.types).
    return (
        value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") if sqlite else value
    )


def _cancel_sql(sqlite: bool) -> str:
    now = ":now" if sqlite else "%(now)s"
    return f"""
        UPDATE notifications AS n
        SET status = 'cancelled', updated_at = {now},
            reason = CASE WHEN a.status IN {OPEN} THEN 'rescheduled' ELSE a.status END
        FROM appointments AS a
        WHERE a.id = n.appointment_id AND n.status = 'pending'
          AND (a.status NOT IN {OPEN} OR a.starts_at <> n.planned_start)
    """  # noqa: S608


def _sweep_sql(settings: Settings, sqlite: bool) -> str:
    kinds = reminder_kinds(settings.reminder_offsets)
    now = ":now" if sqlite else "%(now)s"

    def plus(seconds: int) -> str:
        if sqlite:
            shifted = f"strftime('%Y-%m-%d %H:%M:%S', {now}, '{seconds:+d} seconds')"
            return f"({shifted} || substr({now}, 20))"
        return f"({now} + interval '{seconds} seconds')"

    def minus_from_start(seconds: int) -> str:
        if sqlite:
            return (
                f"(strftime('%Y-%m-%d %H:%M:%S', a.starts_at, '-{seconds} seconds') "
                "|| substr(a.starts_at, 20))"
            )
        return f"(a.starts_at - interval '{seconds} seconds')"

    # The client's channels expanded in place, after the client (see avisa.domain.sweep).
    if sqlite:
        channels = "JOIN json_each(c.channels) AS ch"
        channel = "ch.value"
        has = "EXISTS (SELECT 1 FROM json_each({col}) AS j WHERE j.value = ch.value)"
    else:
        channels = "CROSS JOIN LATERAL jsonb_array_elements_text(c.channels) AS ch(channel)"
        channel = "ch.channel"
        has = "{col} @> jsonb_build_array(ch.channel)"
    lead = int(settings.min_lead.total_seconds())
    horizon = int(settings.reminder_horizon.total_seconds())
    selects = []
    for i, kind in enumerate(kinds):
        off = int(kind.offset.total_seconds())
        smaller = kinds[i + 1] if i + 1 < len(kinds) else None
        if smaller is not None:
            late_ok = f"a.starts_at > {plus(int(smaller.offset.total_seconds()))}"
            late_reason = "superseded"
        else:
            late_ok = f"a.starts_at >= {plus(lead)}"
            late_reason = "too_late"
        on_time = f"a.starts_at > {plus(off)}"
        opted = has.format(col="c.opt_out")
        recipient = (
            f"CASE {channel} WHEN 'email' THEN c.email WHEN 'sms' THEN c.phone ELSE c.whatsapp END"
        )
        selects.append(f"""
            SELECT a.id AS appointment_id, a.client_id, '{kind.name}' AS kind, {channel} AS channel,
                   {recipient},
                   CASE WHEN {opted} THEN 'skipped' WHEN {on_time} THEN 'pending'
                        WHEN {late_ok} THEN 'pending' ELSE 'skipped' END,
                   CASE WHEN NOT {opted} AND NOT {on_time} AND {late_ok} THEN {now}
                        ELSE {minus_from_start(off)} END,
                   a.starts_at, 0,
                   CASE WHEN {opted} THEN 'opted_out' WHEN {on_time} THEN NULL
                        WHEN {late_ok} THEN NULL ELSE '{late_reason}' END,
                   {now}, {now}
            FROM appointments AS a
            JOIN clients AS c ON c.id = a.client_id
            {channels}
            WHERE a.status IN {OPEN} AND a.starts_at > {now}
              AND a.starts_at <= {plus(off + horizon)} AND ({recipient}) IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM notifications AS n WHERE n.appointment_id = a.id
                  AND n.kind = '{kind.name}' AND n.channel = {channel}
                  AND n.planned_start = a.starts_at)
        """)  # noqa: S608
    return f"""
        INSERT INTO notifications (appointment_id, client_id, kind, channel, recipient, status,
            due_at, planned_start, attempts, reason, created_at, updated_at)
        {" UNION ALL ".join(selects)}
        ORDER BY appointment_id, kind, channel
        ON CONFLICT (appointment_id, kind, channel, planned_start) DO NOTHING
    """
