"""`python -m chaos` (`make chaos`): every fault scenario at full size, or `--short` (CI).

    python -m chaos                          # 500 ticks, 20,000 messages, ...
    python -m chaos --short                  # the CI form, about three minutes
    python -m chaos --scenario sigkill --scenario vault-sealed
    python -m chaos --json chaos-results.json --keep

Prints a line per scenario as it ends, then the table (expected, done, duplicates, lost),
and exits 1 if any scenario lost anything or failed a check.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from chaos import pgserver
from chaos.scenarios import FULL, SCENARIOS, SHORT, Result, Scale


def run(names: list[str], scale: Scale, root: Path, seed: int) -> list[Result]:
    """Run `names` in order on one PostgreSQL server of our own, each in `root/<name>`."""
    server = pgserver.PostgresServer()
    results = []
    try:
        server.start()
        for name in names:
            started = time.monotonic()
            result = SCENARIOS[name](server, root / name, scale, seed)
            result.seconds = round(time.monotonic() - started, 1)
            print(line(result), flush=True)
            results.append(result)
    finally:
        server.close()
    return results


def line(result: Result) -> str:
    verdict = "ok" if result.ok else "FAILED"
    text = (
        f"{result.name}: expected {result.expected}, done {result.done}, "
        f"duplicates {result.duplicates}, lost {result.lost} -> {verdict} ({result.seconds} s)"
    )
    facts = ", ".join(f"{k}={v}" for k, v in result.facts.items())
    problems = "".join(f"\n    problem: {p}" for p in result.problems)
    return f"{text}\n    {facts}{problems}"


def table(results: list[Result]) -> str:
    rows = [("scenario", "expected", "done", "duplicates", "lost", "verdict")]
    rows += [
        (
            r.name,
            str(r.expected),
            str(r.done),
            str(r.duplicates),
            str(r.lost),
            "ok" if r.ok else "FAILED",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--short", action="store_true", help="the CI form (smaller, shorter)")
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS), dest="names")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the logs and data")
    parser.add_argument("--seed", type=int, default=20261129, help="for the random kills")
    args = parser.parse_args(argv)
    reason = pgserver.unavailable_reason()
    if reason is not None:
        print(f"error: cannot run the chaos suite: {reason}", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="avisa-chaos-"))
    scale = SHORT if args.short else FULL
    try:
        results = run(args.names or list(SCENARIOS), scale, root, args.seed)
    finally:
        if args.keep:
            print(f"logs and data kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print(table(results))
    if args.json:
        args.json.write_text(
            json.dumps([r.to_dict() for r in results], indent=2, default=str) + "\n"
        )
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
