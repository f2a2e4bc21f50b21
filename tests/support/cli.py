"""Run the `avisa` command line in-process: the real `main()`, its real error handling,
with only the given AVISA_ variables set, stdin fed from a string, output captured.

A subprocess per call costs over a second of imports on these machines; in-process calls
let the CLI's argument and error matrix stay exhaustive and fast. tests/test_cli.py keeps
real-process checks of the entry point itself.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from avisa.cli import main


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def invoke(
    *args: str, env: dict[str, str] | None = None, stdin: str = "", cwd: Path | None = None
) -> Result:
    """Call `avisa ARGS` in this process and return its exit code and output."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AVISA_")}
    clean.update({k: v for k, v in os.environ.items() if k.startswith("AVISA_TEST_")})
    clean.update(env or {})
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with (
        mock.patch.dict(os.environ, clean, clear=True),
        mock.patch.object(sys, "stdin", io.StringIO(stdin)),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        contextlib.chdir(cwd or Path.cwd()),
    ):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Result(code, out.getvalue(), err.getvalue())
