"""`avisa cron …` and `avisa worker`: the happy path, and bad input for every argument."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import invoke as run_avisa


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {"AVISA_DATA_DIR": str(tmp_path / "data"), "AVISA_DATABASE_URL": database_url}
    initialised = run_avisa("init", env=env, cwd=tmp_path)
    assert initialised.returncode == 0, initialised.stderr
    assert "scheduled the daily run history purge" in initialised.stdout
    return env


def test_schedule_list_alter_run_runs_unschedule(env: dict[str, str]) -> None:
    made = run_avisa(
        "cron", "schedule", "ping", "*/5 * * * *",
        "--http", "http://127.0.0.1:9/hook?k={{secret:SERVICE_ROLE_KEY}}",
        "--method", "put",
        "--header", "Authorization: Bearer {{secret:SERVICE_ROLE_KEY}}",
        "--header", "X-Trace: 1",
        "--body", '{"a": 1}',
        "--timeout-ms", "750",
        "--timezone", "Europe/Madrid",
        "--overlap", "queue",
        "--timeout", "90s",
        env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("scheduled job ping (jobid ")
    again = run_avisa("cron", "schedule", "ping", "@hourly", "--sql", "SELECT 1", env=env)
    assert again.stdout.startswith("updated job ping")

    listing = json.loads(run_avisa("cron", "list", "--json", env=env).stdout)
    ping = next(item for item in listing if item["jobname"] == "ping")
    assert ping["description"] == "Every hour"
    assert ping["command"] == {"type": "sql", "sql": "SELECT 1"}
    assert ping["overlap"] == "skip"
    assert ping["timezone"] == "UTC"
    assert ping["last_run"] is None
    table = run_avisa("cron", "list", env=env).stdout
    assert "Every hour" in table
    assert "never" in table

    altered = run_avisa("cron", "alter", "ping", "--inactive", "--timeout", "2m", env=env)
    assert altered.stdout.startswith("altered job ping: inactive; next run -")
    ran = run_avisa("cron", "run", "ping", env=env)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[1] == "1 row(s) returned"
    failing = run_avisa("cron", "schedule", "broken", "@daily", "--sql", "SELECT * FROM nowhere",
                        env=env)  # fmt: skip
    assert failing.returncode == 0
    failed = run_avisa("cron", "run", "broken", env=env)
    assert failed.returncode == 1
    assert ": failed" in failed.stdout.splitlines()[0]

    runs = json.loads(run_avisa("cron", "runs", "ping", "--json", env=env).stdout)
    assert [(r["jobname"], r["status"], r["origin"]) for r in runs] == [
        ("ping", "succeeded", "manual")
    ]
    only_failed = json.loads(
        run_avisa("cron", "runs", "--status", "failed", "--json", env=env).stdout
    )
    assert [r["jobname"] for r in only_failed] == ["broken"]
    assert "1 row(s) returned" in run_avisa("cron", "runs", "--since", "90m", env=env).stdout
    assert run_avisa("cron", "unschedule", "ping", env=env).stdout == "unscheduled job ping\n"
    assert "ping" not in run_avisa("cron", "list", env=env).stdout


SQL = ("--sql", "SELECT 1")
BAD_INPUT: list[tuple[tuple[str, ...], int, str]] = [
    # schedule: every argument and option
    (("schedule",), 2, "Missing argument 'NAME'"),
    (("schedule", "j"), 2, "Missing argument 'SCHEDULE'"),
    (("schedule", "bad\nname", "@daily", *SQL), 1, "error: invalid job name"),
    (("schedule", "j", "61 * * * *", *SQL), 1, "error: invalid schedule '61 * * * *'"),
    (("schedule", "j", "0 seconds", *SQL), 1, "error: invalid schedule '0 seconds'"),
    (("schedule", "j", "@daily"), 2, "give the command: --sql, --http or --function"),
    (
        ("schedule", "j", "@daily", *SQL, "--http", "http://x"),
        2,
        "give one command, not --sql and --http",
    ),
    (("schedule", "j", "@daily", "--sql", " "), 1, "error: sql: the statement is empty"),
    (
        ("schedule", "j", "@daily", "--http", "ftp://x"),
        1,
        "error: http.url: 'ftp://x' is not an http",
    ),
    (
        ("schedule", "j", "@daily", "--http", "http://x", "--method", "FETCH"),
        1,
        "error: http.method",
    ),
    (
        ("schedule", "j", "@daily", *SQL, "--method", "GET"),
        2,
        "Invalid value for '--method': goes with --http",
    ),
    (
        ("schedule", "j", "@daily", *SQL, "--header", "A: b"),
        2,
        "Invalid value for '--header': goes with --http",
    ),
    (
        ("schedule", "j", "@daily", *SQL, "--body", "{}"),
        2,
        "Invalid value for '--body': goes with --http",
    ),
    (
        ("schedule", "j", "@daily", *SQL, "--timeout-ms", "5"),
        2,
        "Invalid value for '--timeout-ms': goes with --http",
    ),
    (
        ("schedule", "j", "@daily", "--http", "http://x", "--header", "nocolon"),
        1,
        "error: --header: 'nocolon' is not 'Name: value'",
    ),
    (
        ("schedule", "j", "@daily", "--http", "http://x", "--header", "a b: c"),
        1,
        "error: http.headers: 'a b' is not a header name",
    ),
    (
        ("schedule", "j", "@daily", "--http", "http://x", "--body", "{oops"),
        1,
        "error: --body: not valid JSON",
    ),
    (
        ("schedule", "j", "@daily", "--http", "http://x", "--timeout-ms", "abc"),
        2,
        "Invalid value for '--timeout-ms'",
    ),
    (
        ("schedule", "j", "@daily", "--http", "http://x", "--timeout-ms", "0"),
        1,
        "error: http.timeout_ms: must be between 1 and 600000",
    ),
    (("schedule", "j", "@daily", "--function", "nope"), 1, "error: unknown function 'nope'"),
    (("schedule", "j", "@daily", "--function", "Bad Name"), 1, "error: function.name: 'Bad Name'"),
    (
        ("schedule", "j", "@daily", "--function", "purge_run_history", "--args", "[1]"),
        1,
        "error: --args: must be a JSON object",
    ),
    (
        ("schedule", "j", "@daily", "--function", "purge_run_history", "--args", "{x"),
        1,
        "error: --args: not valid JSON",
    ),
    (
        ("schedule", "j", "@daily", *SQL, "--args", "{}"),
        2,
        "Invalid value for '--args': goes with --function",
    ),
    (
        ("schedule", "j", "@daily", *SQL, "--timezone", "Mars/Base"),
        1,
        "error: unknown time zone 'Mars/Base'",
    ),
    (("schedule", "j", "@daily", *SQL, "--overlap", "never"), 2, "Invalid value for '--overlap'"),
    (("schedule", "j", "@daily", *SQL, "--timeout", "0s"), 1, "error: invalid --timeout '0s'"),
    (("schedule", "j", "@daily", *SQL, "--timeout", "soon"), 1, "error: invalid --timeout 'soon'"),
    (
        ("schedule", "j", "@daily", *SQL, "--timeout", "25h"),
        1,
        "error: invalid timeout: use whole seconds from 1 s to 24 h",
    ),
    (("schedule", "j", "@daily", *SQL, "--nope"), 2, "No such option: --nope"),
    # unschedule
    (("unschedule",), 2, "Missing argument 'NAME'"),
    (("unschedule", "ghost"), 1, "error: no job named 'ghost' (fix: see `avisa cron list`)"),
    # alter
    (("alter",), 2, "Missing argument 'NAME'"),
    (("alter", "ghost", "--active"), 1, "error: no job named 'ghost'"),
    (("alter", "purge-cron-run-details"), 1, "error: nothing to change"),
    (("alter", "purge-cron-run-details", "--schedule", "* *"), 1, "error: invalid schedule"),
    (("alter", "purge-cron-run-details", "--timezone", "Nowhere"), 1, "error: unknown time zone"),
    (("alter", "purge-cron-run-details", "--overlap", "x"), 2, "Invalid value for '--overlap'"),
    (("alter", "purge-cron-run-details", "--timeout", "-1"), 1, "error: invalid --timeout '-1'"),
    (("alter", "purge-cron-run-details", "--function", "nope"), 1, "error: unknown function"),
    (("alter", "purge-cron-run-details", *SQL, "--function", "f"), 2, "give one command"),
    # list
    (("list", "extra"), 2, "unexpected extra argument(s) (extra)"),
    # runs
    (("runs", "ghost"), 1, "error: no job named 'ghost'"),
    (("runs", "--since", "3x"), 1, "error: invalid --since: '3x' is not a positive duration"),
    (("runs", "--status", "lost"), 2, "Invalid value for '--status'"),
    (("runs", "--limit", "0"), 2, "Invalid value for '--limit'"),
    # run
    (("run",), 2, "Missing argument 'NAME'"),
    (("run", "ghost"), 1, "error: no job named 'ghost'"),
]


def test_bad_input_for_every_argument(env: dict[str, str]) -> None:
    """Each gets its exit code (1 for a refused value, 2 for a usage error) and one clear
    message on stderr; nothing is written."""
    before = run_avisa("cron", "list", "--json", env=env).stdout
    for args, code, message in BAD_INPUT:
        result = run_avisa("cron", *args, env=env)
        assert result.returncode == code, (args, result.stderr)
        assert message in " ".join(result.stderr.replace("│", " ").split()), (args, result.stderr)
        assert "Traceback" not in result.stderr
        if code == 1:
            assert result.stderr.count("\n") == 1, (args, result.stderr)
    assert run_avisa("cron", "list", "--json", env=env).stdout == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--heartbeat", "0s"), "error: invalid --heartbeat '0s'"),
        (("--lost-after", "nope"), "error: invalid --lost-after 'nope'"),
        (("--heartbeat", "5s", "--lost-after", "6s"), "error: --lost-after must be at least twice"),
    ],
)
def test_worker_refuses_bad_timings(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    result = run_avisa("worker", *args, env={"AVISA_DATA_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.startswith(message)
