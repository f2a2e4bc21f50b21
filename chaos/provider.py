"""The fake Twilio the chaos suite talks to, in a process of its own so that it can be
stopped (connection refused) and started again answering 503.

`python -m chaos.provider --port P --log FILE [--mode ok|503]`. Every request is appended
to FILE as one JSON line `{"t": unix time, "status": answer, "to": recipient}`, plus the
accepted message for a 201 (written at once: the file survives the process, and a restarted
provider still lists the messages it took, as Twilio does). In `ok` mode the tests'
FakeTwilio answers (it checks the account, the token, E.164 and the form) and lists
messages (`GET`); in `503` mode every request gets Twilio's "service unavailable" error.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tests.support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

__all__ = ["ACCOUNT_SID", "AUTH_TOKEN", "Provider", "Receipt", "read_log"]

PATH = "/2010-04-01/Accounts/{sid}/Messages.json"


UNAVAILABLE = {"code": 20503, "message": "Service Unavailable", "status": 503}


def app(log: IO[str], mode: str, history: list[dict[str, str]]) -> Starlette:
    """The fake, remembering the messages of earlier runs (`history`) as Twilio would."""
    fake = FakeTwilio()
    for message in history:
        fake.messages.append({k: v for k, v in message.items() if k != "t"})
        fake.created[message["sid"]] = float(message["t"])

    async def create(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if mode == "503":
            answer: Response = JSONResponse(UNAVAILABLE, status_code=503)
        else:
            answer = await fake._create(request)  # the tests' checks, reused
        line: dict[str, object] = {"t": time.time(), "status": answer.status_code}
        line["to"] = form.get("To", "")
        if answer.status_code == 201:
            line["message"] = fake.messages[-1]
        log.write(json.dumps(line) + "\n")
        return answer

    async def listing(request: Request) -> Response:
        if mode == "503":
            return JSONResponse(UNAVAILABLE, status_code=503)
        return await fake._list(request)

    async def health(_request: Request) -> Response:
        return JSONResponse({"mode": mode})

    return Starlette(
        routes=[
            Route(PATH, create, methods=["POST"]),
            Route(PATH, listing, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.provider")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--mode", choices=["ok", "503"], default="ok")
    args = parser.parse_args(argv)
    history = [{**r.message, "t": str(r.t)} for r in read_log(args.log) if r.message is not None]
    with args.log.open("a", buffering=1, encoding="utf-8") as log:
        uvicorn.run(
            app(log, args.mode, history),
            host="127.0.0.1",
            port=args.port,
            log_level="warning",
            access_log=False,
        )
    return 0


@dataclass(frozen=True)
class Receipt:
    t: float
    status: int
    to: str
    #: The accepted message (its form fields and sid), for a 201.
    message: dict[str, str] | None = None


def read_log(path: Path) -> list[Receipt]:
    if not path.exists():
        return []
    receipts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            receipts.append(
                Receipt(float(data["t"]), int(data["status"]), str(data["to"]), data.get("message"))
            )
    return receipts


@dataclass
class Provider:
    """Starts and stops the fake provider process; `receipts()` reads what it answered."""

    port: int
    log: Path
    output: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, mode: str = "ok") -> None:
        with self.output.open("ab") as output:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "chaos.provider"),
                    *("--port", str(self.port), "--log", str(self.log), "--mode", mode),
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=Path(__file__).resolve().parent.parent,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=0.5).json()["mode"] == mode:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the fake provider did not start")

    def stop(self) -> None:
        """Stop it: from now on connections are refused."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def receipts(self) -> list[Receipt]:
        return read_log(self.log)

    def accepted(self) -> Counter[str]:
        """Messages accepted (201), by recipient."""
        return Counter(r.to for r in self.receipts() if r.status == 201)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
