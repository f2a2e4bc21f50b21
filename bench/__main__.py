"""`python -m bench` (`make bench`): every benchmark in one run, then one combined table.

    python -m bench                       # full scale, several minutes on 2 cores
    python -m bench --quick               # small scales, about two minutes
    python -m bench --only memory,delivery --backend sqlite
    make bench BENCH_ARGS=--quick

Each benchmark prints its own table as it goes; the combined table at the end has one
row per figure: avisa's value, its baseline's measured in the same run, the ratio
avisa / baseline, the target where there is one and whether it was met. The whole result
(every benchmark's document, the figures, the machine) is written as JSON to `--json`
(bench/results/latest.json); `python -m bench.report --markdown` prints its table again.

Exits 1 when a benchmark failed to run or lost work (a message not delivered); a missed
target is reported in the table, not as a failure. Run a module alone for its own options
(`python -m bench.delivery --help`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import delivery, lateness, memory, reminders
from bench.machine import load_average, machine
from bench.report import Outcome, format_table
from bench.scratch import default_pg_url

BENCHMARKS: dict[str, tuple[str, Callable[[list[str] | None], Outcome]]] = {
    "lateness": ("tick lateness (scheduler vs APScheduler 3)", lateness.run),
    "reminders": ("reminder sweep and status update (vs bare SQL)", reminders.run),
    "delivery": ("delivery throughput (vs a bare httpx client)", delivery.run),
    "memory": ("worker memory (vs an APScheduler 3 process)", memory.run),
}

#: Options of the full run where a module's own defaults are not enough: ten jobs for 20 s
#: give 180 ticks per scenario, so p99 is not simply the slowest tick.
FULL: dict[str, list[str]] = {"lateness": ["--jobs", "10", "--duration", "20"]}
#: Each benchmark's options for `--quick`: the same measurements at small scale.
QUICK: dict[str, list[str]] = {
    "lateness": ["--duration", "6"],
    "reminders": ["--scale", "0.01", "--repeat", "3"],
    "delivery": ["--count", "500", "--rounds", "2"],
    "memory": ["--count", "300", "--idle", "5"],
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small scales, for a quick look")
    parser.add_argument(
        "--only",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=list(BENCHMARKS),
        help=f"comma-separated, from: {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default=default_pg_url(), help="where scratch DBs go")
    parser.add_argument("--json", default="bench/results/latest.json", help="result file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    unknown = [name for name in args.only if name not in BENCHMARKS]
    if unknown:
        _parser().error(f"unknown benchmark {', '.join(unknown)} (from: {', '.join(BENCHMARKS)})")
    started = time.monotonic()
    host = machine(args.pg_url)
    outcomes: list[Outcome] = []
    errors: dict[str, str] = {}
    for name in args.only:
        title, run = BENCHMARKS[name]
        print(f"\n== {title}", flush=True)
        options = ["--backend", args.backend, "--pg-url", args.pg_url]
        try:
            scale = QUICK.get(name, []) if args.quick else FULL.get(name, [])
            outcomes.append(run([*options, *scale]))
        except Exception as exc:
            # One failing benchmark must not hide the others: report it and go on.
            traceback.print_exc()
            errors[name] = f"{type(exc).__name__}: {exc}"
    host["load_average_after"] = load_average()
    figures = [figure.as_json() for outcome in outcomes for figure in outcome.figures]
    result: dict[str, Any] = {
        "quick": args.quick,
        "machine": host,
        "seconds": round(time.monotonic() - started),
        "figures": figures,
        "baselines": {o.benchmark: o.baseline for o in outcomes},
        "benchmarks": {o.benchmark: o.document | {"ok": o.ok} for o in outcomes},
        "errors": errors,
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    _print_summary(result, path)
    failed = list(errors) + [o.benchmark for o in outcomes if not o.ok]
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


def _print_summary(result: dict[str, Any], path: Path) -> None:
    host = result["machine"]
    print(
        f"\n== summary{' (quick)' if result['quick'] else ''}: {host['cpu_model']}, "
        f"{host['nproc']} CPUs, {host['ram_gib']} GiB, Python {host['python']}, "
        f"PostgreSQL {host['postgresql']}, {host['date']}, load {host['load_average']} -> "
        f"{host['load_average_after']}, {result['seconds']} s"
    )
    print(format_table(result["figures"]))
    print("ratio = avisa / baseline; baselines, measured in the same run:")
    for name, baseline in result["baselines"].items():
        print(f"  {name}: {baseline}")
    print(f"written to {path}")


if __name__ == "__main__":
    sys.exit(main())
