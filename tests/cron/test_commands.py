"""Command specs: validation names the bad field; JSON round-trips; redaction masks secrets."""

from __future__ import annotations

from typing import Any

import pytest

from avisa.cron.commands import (
    InvalidCommandError,
    command_from_json,
    command_to_json,
    describe_command,
    function_command,
    http_command,
    parse_header,
    parse_json_argument,
    sql_command,
)
from avisa.cron.redact import REDACTED, Redactor, resolve


@pytest.mark.parametrize(
    "command",
    [
        sql_command("  DELETE FROM t WHERE x < 3 "),
        http_command(
            "https://example.test/f?k={{secret:K}}",
            method="put",
            headers={"Authorization": "Bearer {{secret:SERVICE_ROLE_KEY}}", "X-A": "1"},
            body={"a": [1, 2]},
            timeout_ms=1500,
        ),
        function_command("purge_run_history", {"keep_days": 3}),
    ],
)
def test_commands_round_trip_through_json(command: Any) -> None:
    assert command_from_json(command_to_json(command)) == command


def test_http_defaults_and_secret_names() -> None:
    command = http_command("http://h/{{secret:A}}", headers=[("X", "{{ secret:B }} {{secret:A}}")])
    assert command.method == "POST"
    assert command.timeout_ms == 5000
    assert command.secret_names() == ["A", "B"]
    assert describe_command(command) == "POST http://h/{{secret:A}}"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("nope", "command: must be a JSON object with a 'type'"),
        ({"type": "shell"}, "command.type: 'shell' is not sql, http or function"),
        ({"type": "sql", "sql": "  "}, "sql: required, a non-empty string"),
        ({"type": "http"}, "http.url: required, a non-empty string"),
        (
            {"type": "http", "url": "ftp://x"},
            "http.url: 'ftp://x' is not an http:// or https:// URL",
        ),
        ({"type": "http", "url": "http://x", "method": "FETCH"}, "http.method: 'FETCH' is not one"),
        ({"type": "http", "url": "http://x", "headers": "a"}, "http.headers: must be an object"),
        (
            {"type": "http", "url": "http://x", "headers": {"a b": "1"}},
            "http.headers: 'a b' is not",
        ),
        (
            {"type": "http", "url": "http://x", "headers": {"A": "1\n2"}},
            "http.headers: the value of A must be one line",
        ),
        ({"type": "http", "url": "http://x", "timeout_ms": 0}, "http.timeout_ms: must be between"),
        (
            {"type": "http", "url": "http://x", "timeout_ms": "5"},
            "http.timeout_ms: must be a whole",
        ),
        ({"type": "function", "name": "Bad Name"}, "function.name: 'Bad Name' is not"),
        ({"type": "function", "name": "f", "args": [1]}, "function.args: must be a JSON object"),
    ],
)
def test_bad_specs_are_refused_naming_the_field(data: object, message: str) -> None:
    with pytest.raises(InvalidCommandError) as caught:
        command_from_json(data)
    assert str(caught.value).startswith(message)


def test_command_line_helpers() -> None:
    assert parse_header("Authorization: Bearer x: y") == ("Authorization", "Bearer x: y")
    assert parse_json_argument("--body", '{"a": 1}') == {"a": 1}
    with pytest.raises(InvalidCommandError, match="--header: 'no colon' is not 'Name: value'"):
        parse_header("no colon")
    with pytest.raises(InvalidCommandError, match=r"--body: not valid JSON \(Expecting"):
        parse_json_argument("--body", "{oops")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def", f"Authorization: Bearer {REDACTED}"),
        ('{"token": "s3cr3t", "ok": 1}', f'{{"token": {REDACTED}, "ok": 1}}'),
        ("password=hunter2&user=bob", f"password={REDACTED}&user=bob"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoieCJ9.sig here", f"jwt {REDACTED} here"),
        ("k " + "a1" * 30, f"k {REDACTED}"),
        ("an ordinary answer, id 3f2b9c1e-0000-4000-8000-000000000000", None),
    ],
)
def test_secret_looking_text_is_masked(text: str, expected: str | None) -> None:
    assert Redactor().scrub(text) == (text if expected is None else expected)


def test_resolved_values_are_scrubbed_also_when_url_encoded() -> None:
    redactor = Redactor()
    url = resolve("http://h/?k={{secret:K}}", {"K": "p@ss word!"}.__getitem__, redactor)
    assert url == "http://h/?k=p@ss word!"
    assert redactor.scrub("got p@ss word! and p%40ss%20word%21") == f"got {REDACTED} and {REDACTED}"
    assert "p@ss" not in repr(redactor)
    excerpt = redactor.excerpt("x" * 10 + "\n p@ss word! " + "words " * 60)
    assert len(excerpt) == 200
    assert "p@ss" not in excerpt
