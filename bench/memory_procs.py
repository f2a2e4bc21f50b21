"""Reading a process's memory from /proc, and the processes the memory benchmark starts."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

AVISA = Path(sys.executable).parent / "avisa"


@dataclass(frozen=True)
class Memory:
    """A process's resident set now (VmRSS) and its peak so far (VmHWM), in MiB."""

    rss_mib: float
    hwm_mib: float
    threads: int


def read_memory(pid: int) -> Memory:
    """VmRSS, VmHWM and Threads from /proc/<pid>/status. Raises OSError once it has exited."""
    fields: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return Memory(
        round(int(fields["VmRSS"].split()[0]) / 1024, 1),
        round(int(fields["VmHWM"].split()[0]) / 1024, 1),
        int(fields["Threads"]),
    )


def watch(process: subprocess.Popen[str], seconds: float, every: float = 0.5) -> Memory:
    """The process's memory after `seconds`, its RSS sampled every `every` seconds on the
    way; raises RuntimeError if it exits meanwhile."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        memory = read_memory(process.pid)
        if time.monotonic() >= deadline:
            return memory
        time.sleep(every)


def stop(process: subprocess.Popen[str], sig: int = signal.SIGINT, wait: float = 20) -> None:
    """Send `sig`, then kill the process if it has not exited within `wait` seconds."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """This environment without any AVISA_ variable, plus `extra`."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AVISA_")} | extra


def avisa(args: list[str], env: dict[str, str], cwd: Path) -> None:
    """Run one `avisa` command to completion; raises RuntimeError with its output on failure."""
    done = subprocess.run(
        [str(AVISA), *args], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"avisa {' '.join(args[:2])} failed: {done.stdout}{done.stderr}")


def start_worker(env: dict[str, str], cwd: Path, log: IO[str]) -> subprocess.Popen[str]:
    """`avisa worker` in `cwd` (so no .env of ours is read), its logs to `log`."""
    return subprocess.Popen(
        [str(AVISA), "worker"], env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True
    )


def start_bare_python() -> subprocess.Popen[str]:
    """The floor: this interpreter doing nothing but sleep (stop it with SIGTERM)."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], text=True)


class Baseline:
    """The APScheduler 3 process of `bench.memory_baseline`, talked to over its pipes."""

    def __init__(self, url: str, jobs: int, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.memory_baseline", url, str(jobs)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.expect("ready")

    def expect(self, word: str, timeout: float = 60) -> str:
        """The next line of its output, which must start with `word` and come within
        `timeout` seconds."""
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else "(nothing in time)"
        if not line.startswith(word):
            self.close()
            raise RuntimeError(f"APScheduler baseline: expected {word!r}, got {line!r}")
        return line.strip()

    def send(self, base_url: str, count: int, timeout: float) -> int:
        """Have it post `count` messages; returns how many were accepted."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"send {base_url} {count}\n")
        self.process.stdin.flush()
        return int(self.expect("sent", timeout).split()[1])

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            try:
                self.process.stdin.write("stop\n")
                self.process.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            stop(self.process, signal.SIGKILL)
