"""Fixtures: a real simulator on a free loopback port, a frozen clock, and HTTP clients."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from storycheck.simulator import INSTAGRAM_APP_ID, SimulatorConfig, SimulatorServer

START = 1_750_000_000.0


class FakeClock:
    """A clock tests move by hand, so sliding windows need no sleeping."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """Return a frozen, hand-moved clock."""
    return FakeClock()


@pytest.fixture
def make_sim(clock: FakeClock) -> Iterator[Callable[..., SimulatorServer]]:
    """Return a factory starting simulators (default: 2 sessions, no limits, fake clock)."""
    started: list[SimulatorServer] = []

    def factory(**overrides: Any) -> SimulatorServer:
        overrides.setdefault("sessions", 2)
        overrides.setdefault("clock", clock)
        config = SimulatorConfig(**overrides)
        if "limits" not in overrides:
            config = dataclasses.replace(
                config, limits=dataclasses.replace(config.limits, enabled=False)
            )
        server = SimulatorServer(config).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def sim(make_sim: Callable[..., SimulatorServer]) -> SimulatorServer:
    """Return a running simulator with default settings and limits off."""
    return make_sim()


def instagram_client(
    sim: SimulatorServer, session: str | None = "first", **kwargs: Any
) -> httpx.Client:
    """Return an httpx client that talks to `sim` as the engine does (app id + session cookie)."""
    cookies = {}
    if session == "first":
        session = sim.session_ids[0]
    if session is not None:
        cookies["sessionid"] = session
    headers = {"X-IG-App-ID": INSTAGRAM_APP_ID, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"}
    kwargs.setdefault("timeout", 5.0)
    return httpx.Client(base_url=sim.base_url, headers=headers, cookies=cookies, **kwargs)


@pytest.fixture
def client(sim: SimulatorServer) -> Iterator[httpx.Client]:
    """Return a client of `sim` using its first session."""
    with instagram_client(sim) as http:
        yield http
