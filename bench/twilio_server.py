"""The tests' fake Twilio (`tests.support.fake_twilio`) served on loopback in its own
process, for the benchmarks that deliver messages."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from tests.support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.support.net import free_port

__all__ = ["ACCOUNT_SID", "AUTH_TOKEN", "SENDER", "fake_twilio", "free_port"]

#: The sender number every benchmark message is sent from.
SENDER = "+34911000111"


def _serve(port: int) -> None:
    uvicorn.run(
        FakeTwilio().app, host="127.0.0.1", port=port, log_level="warning", access_log=False
    )


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the fake Twilio did not start")


@contextmanager
def fake_twilio() -> Iterator[str]:
    """Serve a fake Twilio on a free loopback port until the block ends; yields its URL.

    It accepts the account `ACCOUNT_SID` with the token `AUTH_TOKEN`.
    """
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port,), daemon=True)
    server.start()
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_for(base_url)
        yield base_url
    finally:
        server.terminate()
        server.join(5)
