"""Check results shared by `avisa diagnose` and `avisa verify`: a name, a verdict, a fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Verdict = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    """One line of a checklist. `fix` says what to do when the verdict is not ok."""

    name: str
    verdict: Verdict
    detail: str
    fix: str | None = None

    @property
    def failed(self) -> bool:
        return self.verdict == "fail"

    def line(self) -> str:
        text = f"{self.verdict.upper():4} {self.name}: {self.detail}"
        if self.fix and self.verdict != "ok":
            text += f" (fix: {self.fix})"
        return text

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def warn(name: str, detail: str, fix: str | None = None) -> Check:
    return Check(name, "warn", detail, fix)


def fail(name: str, detail: str, fix: str | None = None) -> Check:
    return Check(name, "fail", detail, fix)
