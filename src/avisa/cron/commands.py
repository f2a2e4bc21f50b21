"""What a job runs: the three command kinds users know from Supabase Cron.

- `sql`: one statement run in avisa's own database.
- `http`: a request (method, URL, headers, JSON body, timeout). Header values and the URL
  may hold `{{secret:NAME}}`, kept as written here and resolved only at run time.
- `function`: a callable registered in-process under a name, called with JSON arguments.

Pure: parsing, validation and serialisation only. Every problem raises
`InvalidCommandError` whose message names the field and what is wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from avisa.errors import AvisaError

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
#: pg_net's default request timeout.
DEFAULT_HTTP_TIMEOUT_MS = 5000
MAX_HTTP_TIMEOUT_MS = 600_000
MAX_SQL_LENGTH = 100_000
SECRET_REF = re.compile(r"\{\{\s*secret:([A-Za-z0-9_.-]{1,128})\s*\}\}")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
_FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")
_URL = re.compile(r"^https?://[^/\s?#]+", re.I)

JsonValue = Any


class InvalidCommandError(AvisaError):
    """A command spec is malformed (HTTP 422). The message names the field."""

    http_status = 422


@dataclass(frozen=True)
class SqlCommand:
    sql: str
    type: Literal["sql"] = "sql"


@dataclass(frozen=True)
class HttpCommand:
    url: str
    method: str = "POST"
    headers: tuple[tuple[str, str], ...] = ()
    body: JsonValue = None
    timeout_ms: int = DEFAULT_HTTP_TIMEOUT_MS
    type: Literal["http"] = "http"

    def secret_names(self) -> list[str]:
        """The vault secrets this request needs, in order of first use."""
        names: list[str] = []
        for text in (self.url, *(value for _, value in self.headers)):
            for name in SECRET_REF.findall(text):
                if name not in names:
                    names.append(name)
        return names


@dataclass(frozen=True)
class FunctionCommand:
    name: str
    args: dict[str, JsonValue] = field(default_factory=dict)
    type: Literal["function"] = "function"


Command = SqlCommand | HttpCommand | FunctionCommand


def sql_command(sql: str) -> SqlCommand:
    """Validate one SQL statement. Raises InvalidCommandError when empty or too long."""
    text = sql.strip()
    if not text:
        raise InvalidCommandError("sql: the statement is empty")
    if len(text) > MAX_SQL_LENGTH:
        raise InvalidCommandError(f"sql: longer than {MAX_SQL_LENGTH} characters")
    return SqlCommand(sql=text)


def http_command(
    url: str,
    *,
    method: str = "POST",
    headers: dict[str, str] | list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
    body: JsonValue = None,
    timeout_ms: int = DEFAULT_HTTP_TIMEOUT_MS,
) -> HttpCommand:
    """Validate an HTTP request spec. Raises InvalidCommandError naming the bad field."""
    url = url.strip()
    if not _URL.match(url):
        raise InvalidCommandError(f"http.url: {_shown(url)} is not an http:// or https:// URL")
    if any(ch.isspace() for ch in url):
        raise InvalidCommandError("http.url: a URL cannot contain spaces")
    verb = method.strip().upper()
    if verb not in HTTP_METHODS:
        raise InvalidCommandError(
            f"http.method: {_shown(method)} is not one of {', '.join(HTTP_METHODS)}"
        )
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers)
    checked: list[tuple[str, str]] = []
    for name, value in pairs:
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise InvalidCommandError(f"http.headers: {_shown(str(name))} is not a header name")
        if not isinstance(value, str) or "\r" in value or "\n" in value:
            raise InvalidCommandError(f"http.headers: the value of {name} must be one line")
        checked.append((name, value))
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int):
        raise InvalidCommandError("http.timeout_ms: must be a whole number of milliseconds")
    if not 1 <= timeout_ms <= MAX_HTTP_TIMEOUT_MS:
        raise InvalidCommandError(f"http.timeout_ms: must be between 1 and {MAX_HTTP_TIMEOUT_MS}")
    _check_json("http.body", body)
    return HttpCommand(
        url=url, method=verb, headers=tuple(checked), body=body, timeout_ms=timeout_ms
    )


def function_command(name: str, args: dict[str, JsonValue] | None = None) -> FunctionCommand:
    """Validate a function call spec (the name's existence is checked by the registry)."""
    if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
        raise InvalidCommandError(
            f"function.name: {_shown(str(name))} is not a function name "
            "(lowercase letters, digits, _ . -)"
        )
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise InvalidCommandError("function.args: must be a JSON object")
    _check_json("function.args", args)
    return FunctionCommand(name=name, args=dict(args))


def parse_json_argument(label: str, text: str) -> JsonValue:
    """Parse JSON given on a command line; raises InvalidCommandError naming `label`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidCommandError(f"{label}: not valid JSON ({exc.msg} at {exc.pos})") from None


def parse_header(text: str) -> tuple[str, str]:
    """Parse a `Name: value` header given on a command line."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise InvalidCommandError(f"--header: {_shown(text)} is not 'Name: value'")
    return name.strip(), value.strip()


def command_from_json(data: object) -> Command:
    """Build a command from its stored or submitted JSON form.

    Raises InvalidCommandError for an unknown type, a missing field or a bad value.
    """
    if not isinstance(data, dict):
        raise InvalidCommandError("command: must be a JSON object with a 'type'")
    kind = data.get("type")
    if kind == "sql":
        return sql_command(_required_str(data, "sql", "sql"))
    if kind == "http":
        headers = data.get("headers") or {}
        if isinstance(headers, list):
            headers = [tuple(pair) for pair in headers if isinstance(pair, list | tuple)]
        elif not isinstance(headers, dict):
            raise InvalidCommandError("http.headers: must be an object of name to value")
        timeout = data.get("timeout_ms", DEFAULT_HTTP_TIMEOUT_MS)
        return http_command(
            _required_str(data, "url", "http.url"),
            method=str(data.get("method") or "POST"),
            headers=headers,
            body=data.get("body"),
            timeout_ms=timeout,
        )
    if kind == "function":
        args = data.get("args")
        if args is not None and not isinstance(args, dict):
            raise InvalidCommandError("function.args: must be a JSON object")
        return function_command(_required_str(data, "name", "function.name"), args)
    raise InvalidCommandError(f"command.type: {_shown(str(kind))} is not sql, http or function")


def command_to_json(command: Command) -> dict[str, JsonValue]:
    """The JSON form stored in `cron_job.command` (secret references kept as written)."""
    if isinstance(command, SqlCommand):
        return {"type": "sql", "sql": command.sql}
    if isinstance(command, HttpCommand):
        return {
            "type": "http",
            "method": command.method,
            "url": command.url,
            # A list keeps repeated headers and their order.
            "headers": [[name, value] for name, value in command.headers],
            "body": command.body,
            "timeout_ms": command.timeout_ms,
        }
    return {"type": "function", "name": command.name, "args": command.args}


def describe_command(command: Command) -> str:
    """One short line for listings: `POST https://…`, `sql: DELETE …`, `function name`."""
    if isinstance(command, SqlCommand):
        text = " ".join(command.sql.split())
        return f"sql: {text if len(text) <= 60 else text[:59] + '…'}"
    if isinstance(command, HttpCommand):
        return f"{command.method} {command.url}"
    return f"function {command.name}"


def _required_str(data: dict[str, Any], key: str, label: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommandError(f"{label}: required, a non-empty string")
    return value


def _check_json(label: str, value: JsonValue) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidCommandError(f"{label}: must be plain JSON") from None


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:59] + "…")
