"""Live-stack fixtures for the robustness tests: simulator, proxy fleet, a real server process.

The server runs exactly as an operator starts it (`storycheck serve` in a child process, all
configuration from `STORYCHECK_*` variables); the simulator and its proxy fleet run in this
process on background threads (`SimulatorServer`, `ProxyFleet`). Tests talk to the server over
real HTTP through `Api`, a thin httpx wrapper that remembers every answer it saw (so secret
scans can look at all of them) and checks the error shape of every 4xx.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from storycheck.simulator import (
    FaultConfig,
    LimitsConfig,
    PopulationConfig,
    ProxyFleet,
    SimulatorConfig,
    SimulatorServer,
)
from tests.helpers import check_error_shape, free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
STORYCHECK_BIN = REPO / ".venv" / "bin" / "storycheck"
SERVER_SECRET_KEY = "robustness-test-secret-key"
# Long slots: no story starts or ends while a test runs, so results are stable.
POPULATION = PopulationConfig(slot_seconds=1e7, story_ttl_seconds=2e7, story_probability=0.3)
# Settings that let the engine run as fast as the simulator answers.
FAST_SETTINGS = {
    "min_request_interval": 0,
    "proxy_hourly_limit": 100000,
    "lookup_hourly_limit": 100000,
    "max_threads": 16,
    "proxy_test_timeout": 5,
}
# Compressed engine time scales (see storycheck.engine.options), passed through the environment.
ENGINE_ENV = {
    "STORYCHECK_ENGINE_FLUSH_INTERVAL": "0.1",
    "STORYCHECK_ENGINE_REFRESH_INTERVAL": "0.3",
    "STORYCHECK_ENGINE_PARTIAL_WAIT": "0.3",
    "STORYCHECK_ENGINE_RECHECK_INTERVAL": "0.3",
    "STORYCHECK_ENGINE_COOLDOWN_BASE": "0.5",
    "STORYCHECK_ENGINE_COOLDOWN_CAP": "2",
    "STORYCHECK_ENGINE_MIN_COOLDOWN": "0.2",
    "STORYCHECK_ENGINE_OPEN_COOLDOWN": "0.5",
}


# ---------------------------------------------------------------------------------- HTTP client


class ServerError(AssertionError):
    """The server answered 5xx (or an error without the documented shape)."""


class Api:
    """A small client of the storycheck API over real HTTP.

    `request` never raises for 4xx; it raises `ServerError` for any 5xx and for a 4xx whose
    body lacks `error` and `message`. Every body is kept in `seen` when `record` is on.
    """

    def __init__(
        self, base_url: str, *, record: bool = False, quiet: bool = False, timeout: float = 30.0
    ) -> None:
        self.base_url = base_url
        # `quiet` keeps bodies out of failure messages (tests that handle secrets).
        self.quiet = quiet
        self.http = httpx.Client(base_url=base_url, timeout=timeout, trust_env=False)
        self.record = record
        # (method and path, body) of every answer, when `record` is on.
        self.seen: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; check it is not a 5xx and that a 4xx has the error shape."""
        response = self.http.request(method, path, **kwargs)
        if self.record:
            with self._lock:
                self.seen.append((f"{method} {path}", response.content))
        if response.status_code >= 500:
            # The body is the server's JSON error (never a secret: Api bodies are checked too).
            raise ServerError(f"{method} {path} -> {response.status_code}: {self._shown(response)}")
        if 400 <= response.status_code < 500:
            check_error_shape(response.status_code, _json_or_none(response), f"{method} {path}")
        return response

    def _shown(self, response: httpx.Response) -> str:
        return "<body hidden>" if self.quiet else response.text[:300]

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
        """Send a request that must succeed with `expected`; return its JSON (None for 204)."""
        response = self.request(method, path, **kwargs)
        assert response.status_code == expected, (
            f"{method} {path} -> {response.status_code} (expected {expected}): "
            f"{self._shown(response)}"
        )
        return None if response.status_code == 204 else response.json()

    # ------------------------------------------------------------------ domain helpers

    def create_niche(self, name: str) -> str:
        """Create a niche and return its id."""
        return str(self.ok("POST", "/api/niches", 201, json={"name": name})["id"])

    def import_usernames(self, niche_id: str, usernames: list[str]) -> dict[str, Any]:
        """Import usernames (a text/plain body) into a niche; return the report."""
        response = self.request(
            "POST",
            f"/api/profiles/niches/{niche_id}/import",
            content="\n".join(usernames).encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        assert response.status_code in (201, 207), self._shown(response)
        return dict(response.json())

    def profile_ids(self, niche_id: str) -> list[str]:
        """Every profile id of a niche."""
        return list(self.ok("GET", "/api/profiles/ids", params={"niche_id": niche_id})["ids"])

    def add_pair(self, proxy_url: str, session: str) -> str:
        """Add a proxy + session pair; return the proxy id."""
        body = self.ok("POST", "/api/proxies", 201, json={"url": proxy_url, "session": session})
        return str(body["id"])

    def fast_settings(self, **extra: Any) -> dict[str, Any]:
        """Let the engine go as fast as the simulator allows."""
        return dict(self.ok("PUT", "/api/settings", json={**FAST_SETTINGS, **extra}))

    def batch(self, batch_id: str, **params: Any) -> dict[str, Any]:
        """One batch with (a page of) its items."""
        return dict(self.ok("GET", f"/api/batches/{batch_id}", params=params))

    def invariants(self) -> dict[str, Any]:
        """`GET /api/admin/invariants`."""
        return dict(self.ok("GET", "/api/admin/invariants"))

    def wait_batch_status(self, batch_id: str, status: str, timeout: float) -> dict[str, Any]:
        """Poll until the batch has `status`; return it."""
        latest: dict[str, Any] = {}

        def reached() -> bool:
            nonlocal latest
            latest = self.batch(batch_id, items_limit=0)
            return latest["status"] == status

        wait_until(reached, timeout=timeout, interval=0.25, what=f"batch {batch_id} {status}")
        return latest


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


# ---------------------------------------------------------------------------------- server process


@dataclass
class ServerProcess:
    """`storycheck serve` in a child process, its output in files under `workdir`."""

    workdir: Path
    database_path: Path
    port: int
    env: dict[str, str]
    cli_args: tuple[str, ...] = ("serve",)
    process: subprocess.Popen[bytes] | None = None
    runs: int = 0
    exit_codes: list[int] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.database_path}"

    def log_paths(self) -> list[Path]:
        """Every stdout/stderr file this server wrote (one pair per run)."""
        return sorted(self.workdir.glob("server-*.log"))

    def output(self) -> bytes:
        """Everything the server printed, over all runs."""
        return b"".join(path.read_bytes() for path in self.log_paths())

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start the server and wait until `/api/health` answers 200."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.runs += 1
        out = open(self.workdir / f"server-{self.runs}-stdout.log", "wb")  # noqa: SIM115
        err = open(self.workdir / f"server-{self.runs}-stderr.log", "wb")  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [str(STORYCHECK_BIN), *self.cli_args],
                cwd=self.workdir,
                env=self.env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )
        finally:
            out.close()
            err.close()
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0, trust_env=False) as probe:
            while True:
                if self.process.poll() is not None:
                    tail = self.output()[-3000:].decode(errors="replace")
                    raise RuntimeError(f"server exited with {self.process.returncode}:\n{tail}")
                try:
                    if probe.get(self.base_url + "/api/health").status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError("server did not answer /api/health in time")
                time.sleep(0.1)

    def terminate(self, timeout: float = 15.0, signum: int = signal.SIGTERM) -> tuple[int, float]:
        """Send SIGTERM (or `signum`); return (exit code, seconds until exit).

        A server still running after `timeout` is killed and reported as exit code -9.
        """
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            code = -9
        elapsed = time.monotonic() - started
        self.exit_codes.append(code)
        return code, elapsed

    def kill(self) -> None:
        """SIGKILL the server if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def api(self, **kwargs: Any) -> Api:
        return Api(self.base_url, **kwargs)


def server_env(
    database_path: Path,
    port: int,
    instagram_url: str,
    *,
    reconcile_interval: float = 0.5,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a server process: a clean copy of ours plus STORYCHECK_* settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STORYCHECK_") and k not in ("DATABASE_URL", "PYTEST_CURRENT_TEST")
    }
    env.update(ENGINE_ENV)
    env.update(
        {
            "STORYCHECK_DATABASE_URL": f"sqlite:///{database_path}",
            "STORYCHECK_PORT": str(port),
            "STORYCHECK_HOST": "127.0.0.1",
            "STORYCHECK_INSTAGRAM_URL": instagram_url,
            "STORYCHECK_SECRET_KEY": SERVER_SECRET_KEY,
            "STORYCHECK_RECONCILE_INTERVAL": str(reconcile_interval),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Factory: `start_server(instagram_url, **env)` runs `storycheck serve` on a fresh SQLite
    file in this test's tmp dir; every server still running at teardown is killed."""
    if not STORYCHECK_BIN.exists():
        pytest.skip(f"{STORYCHECK_BIN} is not installed")
    started: list[ServerProcess] = []

    def start(
        instagram_url: str,
        *,
        reconcile_interval: float = 0.5,
        extra_env: dict[str, str] | None = None,
        name: str = "server",
        cli_args: tuple[str, ...] = ("serve",),
    ) -> ServerProcess:
        workdir = tmp_path / name
        workdir.mkdir()
        database_path = workdir / "storycheck.db"
        port = free_port()
        env = server_env(
            database_path,
            port,
            instagram_url,
            reconcile_interval=reconcile_interval,
            extra=extra_env,
        )
        server = ServerProcess(workdir, database_path, port, env, cli_args)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


# ---------------------------------------------------------------------------------- simulator


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., SimulatorServer]]:
    """Factory: start an in-process simulator (limits off, long story slots by default)."""
    started: list[SimulatorServer] = []

    def make(
        *,
        sessions: int = 0,
        session_ids: tuple[str, ...] = (),
        faults: FaultConfig | None = None,
        limits: LimitsConfig | None = None,
        seed: int = 11,
    ) -> SimulatorServer:
        config = SimulatorConfig(
            seed=seed,
            sessions=sessions,
            session_ids=session_ids,
            limits=limits or LimitsConfig(enabled=False),
            population=POPULATION,
            faults=faults or FaultConfig(),
        )
        sim = SimulatorServer(config).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def make_fleet() -> Iterator[Callable[..., ProxyFleet]]:
    """Factory: start a local forward-proxy fleet (`ProxyFleet(n, **kwargs)`)."""
    started: list[ProxyFleet] = []

    def make(count: int, **kwargs: Any) -> ProxyFleet:
        fleet = ProxyFleet(count, **kwargs).start()
        started.append(fleet)
        return fleet

    yield make
    for fleet in started:
        fleet.stop()


def usernames(count: int, prefix: str = "user", start: int = 0) -> list[str]:
    """Usernames of the simulator's seeded world (a few percent do not exist)."""
    return [f"{prefix}{i:06d}" for i in range(start, start + count)]
