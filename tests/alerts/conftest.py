"""Alert fixtures: a real webhook receiver (HTTP server thread) and a real SMTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from storycheck.crypto import SecretBox
from storycheck.db import Database
from tests.helpers import free_port

WEBHOOK_SECRET = "whsec-test-0123456789abcdef"


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver: answers each POST with the next scripted status (then 200)."""

    port: int
    statuses: list[int] = field(default_factory=list)
    hang: bool = False  # every request waits for `release` (at most 60 s) before answering
    release: threading.Event = field(default_factory=threading.Event)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def accepted(self) -> list[Received]:
        """Requests answered with a 2xx."""
        with self.lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def event_ids(self) -> list[str]:
        """Event ids carried by the accepted requests (digests expanded)."""
        ids: list[str] = []
        for request in self.accepted():
            body = request.json
            if body.get("type") == "digest":
                ids.extend(e["id"] for e in body["events"])
            else:
                ids.append(body["id"])
        return ids


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if receiver.hang:
                receiver.release.wait(60)
            with receiver.lock:
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append(Received(headers, body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receivers() -> Iterator[Any]:
    """Factory: `receivers(statuses=[...], hang=True)` starts a webhook receiver."""
    servers: list[ThreadingHTTPServer] = []
    started: list[Receiver] = []

    def start(statuses: list[int] | None = None, hang: bool = False) -> Receiver:
        receiver = Receiver(port=0, statuses=list(statuses or []), hang=hang)
        started.append(receiver)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
        server.daemon_threads = True
        receiver.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return receiver

    yield start
    for receiver in started:
        receiver.release.set()
    for server in servers:
        server.shutdown()
        server.server_close()


class Mailbox:
    """aiosmtpd handler that keeps every message."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        self.envelopes.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    """A real SMTP server on loopback (no TLS, no auth): (port, mailbox)."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, mailbox
    controller.stop()


@pytest.fixture
def secrets() -> SecretBox:
    """The key alert secrets are encrypted with in these tests."""
    return SecretBox("alerts-test-secret-key")


@pytest.fixture
def alert_db(sqlite_url: str) -> Iterator[Database]:
    """A fresh migrated SQLite database."""
    database = Database(sqlite_url)
    yield database
    database.dispose()
