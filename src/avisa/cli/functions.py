"""`avisa functions list|invoke` and `avisa logs`."""

from __future__ import annotations

import json

import httpx
import typer

from avisa.cli.context import command_services
from avisa.cli.output import echo_json, echo_table
from avisa.config import parse_offset
from avisa.errors import AvisaError
from avisa.functions.logs import list_executions
from avisa.functions.registry import builtin_http_functions
from avisa.functions.setup import function_url
from avisa.vault.keys import SERVICE_ROLE_KEY

functions_app = typer.Typer(help="HTTP functions called by the scheduler.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(functions_app, name="functions")
    app.command("logs")(logs)


@functions_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json")) -> None:
    """The functions served under /functions/v1/."""
    rows = [(f.name, f"/functions/v1/{f.name}", f.description) for f in builtin_http_functions()]
    if as_json:
        echo_json([dict(zip(("name", "path", "description"), row, strict=True)) for row in rows])
        return
    echo_table(("name", "path", "description"), rows, title="functions")


@functions_app.command("invoke")
def invoke(
    name: str = typer.Argument(..., help="Function name, e.g. process-reminders."),
    body: str = typer.Option("{}", "--body", help="JSON object sent as the request body."),
    timeout: float = typer.Option(60.0, "--timeout", min=0.1, help="Seconds to wait."),
) -> None:
    """Call a function over HTTP with the service key, as the scheduler does."""
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        raise AvisaError(f"invalid --body: not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(payload, dict):
        raise AvisaError("invalid --body: must be a JSON object")
    with command_services() as services:
        key = services.vault.with_actor("cli").get_secret(SERVICE_ROLE_KEY)
        url = function_url(services.settings.public_url, name)
    try:
        answer = httpx.post(
            url, json=payload, headers={"Authorization": f"Bearer {key}"}, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise AvisaError(
            f"cannot reach {url} ({type(exc).__name__})",
            fix="start `avisa serve`, or set AVISA_PUBLIC_URL to where it listens",
        ) from None
    typer.echo(f"HTTP {answer.status_code}")
    try:
        typer.echo(json.dumps(answer.json(), indent=2, ensure_ascii=False))
    except ValueError:
        typer.echo(answer.text[:2000])
    if not answer.is_success:
        raise typer.Exit(1)


def logs(
    since: str = typer.Option("24h", "--since", help="How far back: 90m, 24h, 7d."),
    failed: bool = typer.Option(False, "--failed", help="Only failed executions."),
    job: str | None = typer.Option(None, "--job", help="Only this job's executions."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The execution log (cron_execution_logs), newest first."""
    try:
        window = parse_offset(since)
    except ValueError as exc:
        raise AvisaError(f"invalid --since: {exc}") from None
    with command_services() as services:
        rows = list_executions(
            services.engine,
            since=services.clock.now() - window,
            failed_only=failed,
            job_name=job,
            limit=limit,
        )
    if as_json:
        echo_json([r.to_dict() for r in rows])
        return
    echo_table(
        ("time", "job", "status", "message"),
        [
            (r.created_at.strftime("%Y-%m-%d %H:%M:%SZ"), r.job_name, r.status, r.message)
            for r in rows
        ],
        title="execution logs",
    )
