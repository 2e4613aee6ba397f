"""Real receivers on loopback for alert tests: an SMTP server (aiosmtpd) and a webhook sink."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Collector:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[attr-defined]
        return "250 OK"


class SMTPServer:
    """aiosmtpd on 127.0.0.1; can be stopped and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.collector = _Collector()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.collector.messages

    def url(self, to: str = "desk@example.com") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=alerts@example.com&to={to}"

    def html_bodies(self) -> list[str]:
        bodies = []
        for msg in self.messages:
            part = msg.get_body(preferencelist=("html", "plain"))
            bodies.append(part.get_content() if part else "")
        return bodies


@contextmanager
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class WebhookSink:
    """Collects JSON POSTs, as Apprise's json:// sends them.

    `hold_from`: answer that many POSTs, then hold every later one (`holding` is set) until
    `release` is set or the sink closes: a test interrupts delivery midway by events, not by
    timing a slow destination.
    """

    def __init__(self, hold_from: int | None = None) -> None:
        self.posts: list[dict] = []
        self.times: list[float] = []
        self.holding = threading.Event()
        self.release = threading.Event()
        arrived = itertools.count(1)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                if hold_from is not None and next(arrived) > hold_from:
                    sink.holding.set()
                    sink.release.wait(600)
                sink.times.append(time.time())
                try:
                    sink.posts.append(json.loads(body))
                except ValueError:
                    sink.posts.append({"raw": body.decode("utf-8", "replace")})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookSink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}{path}"
