"""What every benchmark reports (`Figure`s in an `Outcome`) and the combined table.

A figure is one number measured twice in the same run: avisa's value and its baseline's.
The ratio is always avisa / baseline; a `Target` says which side of it is good.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Target:
    """A bound on avisa's value (`on="avisa"`) or on the ratio (`on="ratio"`)."""

    on: Literal["avisa", "ratio"]
    bound: Literal["<=", ">="]
    value: float
    unit: str = ""

    def met(self, avisa: float, ratio: float) -> bool:
        measured = avisa if self.on == "avisa" else ratio
        if math.isnan(measured):
            return False
        return measured <= self.value if self.bound == "<=" else measured >= self.value

    def __str__(self) -> str:
        bound = "≤" if self.bound == "<=" else "≥"
        if self.on == "ratio":
            return f"ratio {bound} {self.value:g}"
        return f"{bound} {self.value:g} {self.unit}".rstrip()


def ratio_at_most(value: float) -> Target:
    return Target("ratio", "<=", value)


def ratio_at_least(value: float) -> Target:
    return Target("ratio", ">=", value)


def at_most(value: float, unit: str) -> Target:
    return Target("avisa", "<=", value, unit)


@dataclass(frozen=True)
class Figure:
    """One measured figure: avisa's value and the baseline's, in the same unit, and the
    targets it must meet (all of them), with where they come from."""

    benchmark: str
    backend: str
    figure: str
    avisa: float
    baseline: float
    targets: tuple[Target, ...] = ()
    #: Where the targets come from ("pg_cron, DESIGN.md", "issue 6").
    source: str = ""

    @property
    def ratio(self) -> float:
        return self.avisa / self.baseline if self.baseline else float("nan")

    @property
    def met(self) -> bool | None:
        if not self.targets:
            return None
        return all(t.met(self.avisa, self.ratio) for t in self.targets)

    @property
    def target(self) -> str | None:
        if not self.targets:
            return None
        text = " and ".join(str(t) for t in self.targets)
        return f"{text} ({self.source})" if self.source else text

    def as_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "backend": self.backend,
            "figure": self.figure,
            "avisa": _json_number(self.avisa),
            "baseline": _json_number(self.baseline),
            "ratio": _json_number(round(self.ratio, 3)),
            "target": self.target,
            "met": self.met,
        }


@dataclass
class Outcome:
    """A benchmark's result: its own JSON document, its figures, and whether it ran
    correctly (`ok` is false when, say, a message was not delivered; a missed target is
    not a failure)."""

    benchmark: str
    #: Which baseline the figures compare with, one line for the combined table's legend.
    baseline: str
    document: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    ok: bool = True


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value


def number(value: float | None) -> str:
    """A figure at a readable precision: 1,335 / 117.3 / 4.40."""
    if value is None or math.isnan(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.2f}"


COLUMNS = ("benchmark", "backend", "figure", "avisa", "baseline", "ratio", "target", "met")
_NUMERIC = {3, 4, 5}


def table_rows(figures: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """The combined table's cells, one tuple per figure in `Figure.as_json()` form."""
    met = {True: "yes", False: "NO", None: "-"}
    return [
        (
            f["benchmark"],
            f["backend"],
            f["figure"],
            number(f["avisa"]),
            number(f["baseline"]),
            number(f["ratio"]),
            f["target"] or "-",
            met[f["met"]],
        )
        for f in figures
    ]


def format_table(figures: list[dict[str, Any]], *, markdown: bool = False) -> str:
    """The combined table as aligned text, or as Markdown for docs/performance.md."""
    rows = table_rows(figures)
    if markdown:
        align = tuple("---:" if i in _NUMERIC else "---" for i in range(len(COLUMNS)))
        return "\n".join("| " + " | ".join(cells) + " |" for cells in (COLUMNS, align, *rows))
    widths = [max(len(r[i]) for r in (COLUMNS, *rows)) for i in range(len(COLUMNS))]

    def line(cells: tuple[str, ...]) -> str:
        padded = (
            c.rjust(widths[i]) if i in _NUMERIC else c.ljust(widths[i]) for i, c in enumerate(cells)
        )
        return "  ".join(padded).rstrip()

    header = line(COLUMNS)
    return "\n".join([header, "-" * len(header), *(line(r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.report [FILE] [--markdown]`: the combined table of a saved run."""
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=main.__doc__)
    parser.add_argument("file", nargs="?", default="bench/results/latest.json")
    parser.add_argument("--markdown", action="store_true", help="as a Markdown table")
    args = parser.parse_args(argv)
    with open(args.file, encoding="utf-8") as saved:
        document = json.load(saved)
    print(format_table(document["figures"], markdown=args.markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
