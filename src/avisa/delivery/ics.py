"""The appointment as an iCalendar (RFC 5545) file, attached to reminder emails."""

from __future__ import annotations

from datetime import UTC, datetime


def _text(value: str) -> str:
    # RFC 5545 3.3.11: backslash, semicolon, comma and newlines are escaped in TEXT.
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _stamp(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> list[str]:
    """Split a content line into 75-octet pieces, continuation lines starting with a space."""
    data = line.encode()
    if len(data) <= 75:
        return [line]
    pieces: list[str] = []
    current = b""
    limit = 75
    for ch in line:
        encoded = ch.encode()
        if len(current) + len(encoded) > limit:
            pieces.append(current.decode())
            current = b" "
            limit = 75
        current += encoded
    pieces.append(current.decode())
    return pieces


def appointment_ics(
    *,
    uid: str,
    summary: str,
    starts_at: datetime,
    ends_at: datetime,
    stamp: datetime,
    location: str | None = None,
    description: str | None = None,
) -> bytes:
    """A one-event VCALENDAR in UTC times, CRLF line ends, folded at 75 octets.

    `uid` must be stable for the appointment, so that calendars update the event they
    already hold instead of adding another one.
    """
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//avisa//reminders//EN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{_stamp(stamp)}",
        f"DTSTART:{_stamp(starts_at)}",
        f"DTEND:{_stamp(ends_at)}",
        f"SUMMARY:{_text(summary)}",
    ]
    if location:
        lines.append(f"LOCATION:{_text(location)}")
    if description:
        lines.append(f"DESCRIPTION:{_text(description)}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    folded = [piece for line in lines for piece in _fold(line)]
    return ("\r\n".join(folded) + "\r\n").encode()
