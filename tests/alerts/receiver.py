"""A real HTTP server that records webhook POSTs (JSON), answering a scripted status."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    bodies: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200

    def kinds(self) -> list[tuple[str, str]]:
        return [(b["subject"], b["kind"]) for b in self.bodies]


@contextmanager
def webhook_receiver(path: str = "/hooks/T0KEN-canary") -> Iterator[tuple[Received, str]]:
    """Serve on a free loopback port; yield the record and the full URL to post to."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if self.path == path:
                received.bodies.append(json.loads(body))
            self.send_response(received.status if self.path == path else 404)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
