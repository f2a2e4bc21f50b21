"""The console provider: records each rendered message instead of sending it.

The default for every channel, so a fresh install works end to end with no account
anywhere. Each message becomes a `delivery_outbox` row and a text file under
`<data dir>/outbox/`, both saying plainly that nothing was sent.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.db.tables.delivery import NOT_SENT, delivery_outbox
from avisa.delivery.message import OutgoingMessage


class ConsoleTransport:
    """Writes to `engine`'s outbox table and to files in `folder` (created on first use)."""

    provider = "console"

    def __init__(self, engine: Engine, folder: Path) -> None:
        self.engine = engine
        self.folder = folder

    def __repr__(self) -> str:
        return f"ConsoleTransport({self.folder})"

    async def send(self, message: OutgoingMessage) -> str:
        return await asyncio.to_thread(self._record, message)

    def _record(self, message: OutgoingMessage) -> str:
        rendered = message.rendered
        with self.engine.begin() as conn:
            outbox_id = conn.execute(
                sa.insert(delivery_outbox)
                .values(
                    notification_id=message.notification_id,
                    channel=message.channel,
                    recipient=message.recipient,
                    subject=rendered.subject,
                    body=rendered.text,
                    html=rendered.html,
                    segments=rendered.sms.segments if rendered.sms else None,
                    note=NOT_SENT,
                    created_at=message.created_at,
                )
                .returning(delivery_outbox.c.id)
            ).scalar_one()
        self._write_file(message, outbox_id)
        return f"console-{outbox_id}"

    def _write_file(self, message: OutgoingMessage, outbox_id: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        rendered = message.rendered
        lines = [
            f"*** {NOT_SENT.upper()} ***",
            f"channel: {message.channel}",
            f"to: {message.recipient}",
            f"notification: {message.notification_id} ({message.kind}, {message.locale})",
            f"at: {_iso(message.created_at)}",
        ]
        if rendered.subject:
            lines.append(f"subject: {rendered.subject}")
        if rendered.sms:
            lines.append(f"sms: {rendered.sms.encoding}, {rendered.sms.segments} segment(s)")
        if rendered.params:
            lines.append(f"template parameters: {list(rendered.params)}")
        lines += ["", rendered.text]
        name = f"{outbox_id:08d}-{message.channel}-{message.notification_id}.txt"
        (self.folder / name).write_text("\n".join(lines), encoding="utf-8")

    async def aclose(self) -> None:
        return None


def _iso(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds")
