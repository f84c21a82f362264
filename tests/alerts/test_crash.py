"""kill -9 of a real `storycheck serve` while it delivers 1,000 events: none lost, and at most
one duplicate per kill (the message that was on the wire when the process died)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from storycheck.alerts import channels
from storycheck.alerts.events import record_event
from storycheck.alerts.models import AlertDelivery
from storycheck.crypto import SecretBox
from storycheck.db import Database
from storycheck.migrate import upgrade
from tests.alerts.conftest import WEBHOOK_SECRET
from tests.helpers import free_port, wait_until

STORYCHECK_BIN = Path(sys.executable).parent / "storycheck"
SERVER_KEY = "alerts-crash-test-key"
EVENTS = 1000
KILLS = 3


class Server:
    """`storycheck serve` with the engine off, restarted after each kill."""

    def __init__(self, workdir: Path, database_url: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.runs = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "STORYCHECK_DATABASE_URL": database_url,
            "STORYCHECK_ENGINE": "0",
            "STORYCHECK_PORT": str(self.port),
            "STORYCHECK_SECRET_KEY": SERVER_KEY,
            "STORYCHECK_ALERTS_POLL_INTERVAL": "0.1",
        }

    def start(self) -> None:
        self.runs += 1
        with open(self.workdir / f"server-{self.runs}.log", "wb") as log:
            self.process = subprocess.Popen(
                [str(STORYCHECK_BIN), "serve"], cwd=self.workdir, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        wait_until(self._healthy, timeout=60, what="server health")

    def _healthy(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.output()[-2000:]
        try:
            url = f"http://127.0.0.1:{self.port}/api/health"
            return httpx.get(url, timeout=1.0, trust_env=False).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def output(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.workdir.glob("server-*.log"))


@pytest.mark.slow
def test_kill_9_during_delivery_loses_nothing(tmp_path, sqlite_url, receivers):
    receiver = receivers()
    database = Database(sqlite_url)
    upgrade(database.engine)
    with database.write() as session:
        channels.create_channel(session, {
            "name": "crash-hook", "kind": "webhook", "secret": WEBHOOK_SECRET,
            "rate_limit_per_minute": 0, "config": {"url": receiver.url, "timeout_seconds": 5},
        }, SecretBox(SERVER_KEY))
    with database.write() as session:
        event_ids = [
            record_event(session, "batch.stalled", {"n": n}, dedupe_key=f"crash:{n}")
            for n in range(EVENTS)
        ]

    def delivered() -> int:
        with database.read() as session:
            return session.scalar(select(func.count()).where(
                AlertDelivery.status == "delivered")) or 0

    server = Server(tmp_path, sqlite_url)
    try:
        for kill in range(1, KILLS + 1):
            server.start()
            target = kill * EVENTS // (KILLS + 1)
            wait_until(lambda: len(receiver.accepted()) >= target, timeout=180,  # noqa: B023
                       what=f"{target} messages before kill {kill}")
            server.kill()
        assert len(set(receiver.event_ids())) < EVENTS  # every kill hit a delivery in progress
        server.start()
        wait_until(lambda: delivered() == EVENTS, timeout=300, what="every event delivered")
        server.terminate()
    finally:
        server.kill()
        database.dispose()
    received = Counter(receiver.event_ids())
    assert set(received) == set(event_ids)
    duplicates = sum(count - 1 for count in received.values())
    assert duplicates <= KILLS
    assert WEBHOOK_SECRET not in server.output()
