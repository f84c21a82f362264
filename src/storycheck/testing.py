"""Seeding and driving helpers shared by the engine's tests, benchmarks and standalone runner.

They write rows straight through the models (no API), the way an operator's import would
leave them: profiles (optionally with a cached user id), and proxy + session pairs with
their secrets encrypted by the given `SecretBox`. `start_engine` runs a whole engine (worker
pool, batch state manager, reconciler) on a database with one pair per session and any
settings overridden; `SimulatorProcess` runs the Instagram stand-in and drives its control
API (per-session answer modes, follows, per-account kinds, limits).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from sqlalchemy import insert, select

from storycheck.batches.models import Batch, BatchProfile
from storycheck.batches.state import BatchStateManager
from storycheck.config import Config
from storycheck.crypto import SecretBox
from storycheck.db import Database, new_id, utcnow
from storycheck.engine.checker import Checker
from storycheck.engine.options import EngineOptions
from storycheck.engine.pool import WorkerPool
from storycheck.niches.models import Niche
from storycheck.profiles.models import Profile, username_key
from storycheck.proxies.models import IgSession, Proxy
from storycheck.settings.models import SystemSettings
from storycheck.simulator.config import PopulationConfig
from storycheck.simulator.truth import Truth


@dataclass(frozen=True)
class ProxySpec:
    """Where a proxy listens and how to log in to it."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> ProxySpec:
        """Parse `scheme://[user:pass@]host:port`."""
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise ValueError("proxy URL needs a host and a port")
        return cls(
            scheme=parts.scheme or "http",
            host=parts.hostname,
            port=parts.port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def set_settings(db: Database, **values: Any) -> None:
    """Create or update the settings row."""
    with db.write() as session:
        row = session.get(SystemSettings, 1)
        if row is None:
            row = SystemSettings(id=1)
            session.add(row)
        for key, value in values.items():
            setattr(row, key, value)


def seed_niche(db: Database, name: str | None = None) -> str:
    """Insert a niche and return its id."""
    niche_id = new_id()
    with db.write() as session:
        session.add(Niche(id=niche_id, name=name or f"niche-{niche_id[:8]}", order=0))
    return niche_id


def seed_profiles(
    db: Database,
    niche_id: str | None,
    usernames: Sequence[str],
    *,
    user_ids: Mapping[str, str | None] | None = None,
    private: Mapping[str, bool] | None = None,
) -> list[str]:
    """Insert active profiles and return their ids.

    `user_ids` and `private` are what an earlier lookup would have cached: the user id and
    whether the account is private (unknown when not given — the engine then looks such an
    account up before it calls an empty answer "no story").
    """
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "username": name,
            "username_key": username_key(name),
            "url": f"https://instagram.com/{name}",
            "niche_id": niche_id,
            "status": "active",
            "active_story": False,
            "total_checks": 0,
            "total_detections": 0,
            "not_found": False,
            "ig_user_id": (user_ids or {}).get(name),
            "is_private": (private or {}).get(name),
            # Privacy given here is what a lookup just said: fresh.
            "identity_checked_at": now if name in (private or {}) else None,
            "created_at": now,
            "updated_at": now,
        }
        for name in usernames
    ]
    with db.write() as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(Profile), rows[start : start + 5000])
    return [str(r["id"]) for r in rows]


def seed_pairs(
    db: Database,
    secrets: SecretBox,
    proxies: Sequence[ProxySpec],
    session_ids: Sequence[str],
) -> list[str]:
    """Insert one proxy + session pair per (proxy, session) and return the proxy ids."""
    ids: list[str] = []
    with db.write() as session:
        for spec, cookie in zip(proxies, session_ids, strict=True):
            proxy = Proxy(
                id=new_id(),
                scheme=spec.scheme,
                ip=spec.host,
                port=spec.port,
                username=spec.username,
                password_encrypted=secrets.encrypt(spec.password) if spec.password else None,
                is_active=True,
                status="active",
                health="ready",
            )
            session.add(proxy)
            session.flush()
            session.add(
                IgSession(
                    id=new_id(),
                    session_encrypted=secrets.encrypt(cookie),
                    session_digest=secrets.digest(cookie),
                    proxy_id=proxy.id,
                    status="active",
                )
            )
            ids.append(proxy.id)
    return ids


def batch_row(db: Database, batch_id: str) -> Batch | None:
    """A fresh copy of one batch row."""
    with db.read() as session:
        return session.scalar(
            select(Batch).where(Batch.id == batch_id).execution_options(populate_existing=True)
        )


def wait_until(
    condition: Callable[[], bool], *, timeout: float, interval: float = 0.1, what: str = ""
) -> None:
    """Poll `condition` until it holds; raise TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what or condition}")
        time.sleep(interval)


class Reconciler:
    """Calls `reconcile()` every `interval` seconds in a thread, like the app does."""

    def __init__(self, reconcile: Callable[[], object], interval: float = 1.0) -> None:
        from storycheck.periodic import Periodic

        self._ticker = Periodic("reconciler").every(interval, reconcile, what="reconcile")

    def start(self) -> Reconciler:
        """Start ticking."""
        self._ticker.start()
        return self

    def stop(self) -> None:
        """Stop and wait for the thread."""
        self._ticker.stop(timeout=10)


class SimulatorProcess:
    """`python -m storycheck.simulator` with N proxies and N sessions in a child process.

    The engine then competes with neither the simulator nor the proxies for the GIL; the
    referee and fault controls are used over the simulator's `/__sim__` HTTP API, and the
    truth is computed locally from the same seed and population.
    """

    def __init__(
        self,
        pairs: int,
        args: Sequence[str] = (),
        *,
        seed: int = 0,
        population: PopulationConfig | None = None,
    ) -> None:
        self.population = population or PopulationConfig()
        self.truth_model = Truth(seed, self.population)
        command = [
            sys.executable,
            "-m",
            "storycheck.simulator",
            "--port",
            "0",
            "--seed",
            str(seed),
            "--sessions",
            str(pairs),
            "--proxies",
            str(pairs),
            "--slot-seconds",
            str(self.population.slot_seconds),
            "--story-ttl",
            str(self.population.story_ttl_seconds),
            "--story-probability",
            str(self.population.story_probability),
            "--json",
            "--log-level",
            "ERROR",
            *args,
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.kill()
            raise RuntimeError("the simulator did not start")
        info = json.loads(line)
        self.base_url: str = info["base_url"]
        self.proxies = [ProxySpec.from_url(url) for url in info["proxies"]]
        self.sessions: list[str] = info["sessions"]
        self.http = httpx.Client(base_url=self.base_url, timeout=10, trust_env=False)

    def stats(self) -> dict[str, Any]:
        """The referee's record."""
        return dict(self.http.get("/__sim__/stats").json())

    def requests(self, endpoint: str | None = None) -> int:
        """Requests the simulator has answered (all, or one endpoint)."""
        total = self.stats()["total"]
        return int(total["total"] if endpoint is None else total["by_endpoint"].get(endpoint, 0))

    def reset(self) -> None:
        """Clear the referee's record and every limit window."""
        self.http.post("/__sim__/reset", json={}).raise_for_status()

    def set_faults(self, **changes: float) -> None:
        """Change fault injection at run time."""
        self.http.post("/__sim__/faults", json=changes).raise_for_status()

    def flag_session(self, session_id: str, action: str, kind: str | None = None) -> None:
        """`logout`, `challenge` (with `kind`) or `restore` one session."""
        body = {"kind": kind} if kind else {}
        self.http.post(f"/__sim__/sessions/{session_id}/{action}", json=body).raise_for_status()

    def set_mode(
        self,
        session: str,
        mode: str,
        *,
        after: int | None = None,
        endpoints: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Make one session answer in `mode` (e.g. `login_page`, `masked_404`, `ok`)."""
        body: dict[str, Any] = {"mode": mode}
        if after is not None:
            body["after"] = after
        if endpoints is not None:
            body["endpoints"] = list(endpoints)
        response = self.http.post(f"/__sim__/sessions/{session}/mode", json=body)
        response.raise_for_status()
        return dict(response.json())

    def follow(self, session: str, usernames: Sequence[str]) -> None:
        """Let `session` follow these accounts (private ones show it their stories)."""
        body = {"session": session, "usernames": list(usernames)}
        self.http.post("/__sim__/follows", json=body).raise_for_status()

    def set_profile(self, username: str, kind: str) -> None:
        """Override one account's kind (`private`, `business_deleted`, …)."""
        body = {"username": username, "kind": kind}
        self.http.post("/__sim__/profiles", json=body).raise_for_status()

    def rename(self, username: str, new_username: str) -> None:
        """Rename an account in the simulator (and in the local truth, which follows it)."""
        body = {"username": username, "new_username": new_username}
        self.http.post("/__sim__/renames", json=body).raise_for_status()
        self.truth_model.rename(username, new_username)

    def set_limits(self, **limits: Any) -> None:
        """Change limits at run time, e.g. `session_total="12/2s"`."""
        self.http.post("/__sim__/limits", json=limits).raise_for_status()

    def last_request(self, session: str) -> dict[str, Any]:
        """What the simulator saw in the session's last request (no secrets)."""
        response = self.http.get(f"/__sim__/sessions/{session}/last_request")
        response.raise_for_status()
        return dict(response.json())

    def truth(self, username: str, at: float) -> dict[str, Any]:
        """What the simulator says about `username` at unix time `at`."""
        return self.truth_model.lookup(username, at)

    def known_privacy(self, usernames: Sequence[str]) -> dict[str, bool]:
        """Whether each existing account is private, as an earlier lookup would have cached."""
        found: dict[str, bool] = {}
        for name in usernames:
            truth = self.truth(name, 0.0)
            if truth["exists"]:
                found[name] = bool(truth["is_private"])
        return found

    def known_ids(self, usernames: Sequence[str]) -> dict[str, str | None]:
        """User ids of the usernames that exist, as an earlier lookup would have cached them."""
        found: dict[str, str | None] = {}
        for name in usernames:
            truth = self.truth(name, 0.0)
            if truth["exists"]:
                found[name] = truth["user_id"]
        return found

    @staticmethod
    def usernames(count: int, prefix: str = "user", start: int = 0) -> list[str]:
        """Deterministic usernames of the seeded world (about 5% do not exist)."""
        return [f"{prefix}{i:06d}" for i in range(start, start + count)]

    def stop(self) -> None:
        """Stop the child process."""
        self.http.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@dataclass
class EngineRig:
    """A running engine on one database: worker pool, state manager and reconciler."""

    db: Database
    secrets: SecretBox
    pool: WorkerPool
    state: BatchStateManager
    reconciler: Reconciler
    niche_id: str
    profile_ids: list[str] = field(default_factory=list)
    proxy_ids: list[str] = field(default_factory=list)  # one per session, in `sessions` order
    sessions: list[str] = field(default_factory=list)

    def add_profiles(
        self,
        usernames: Sequence[str],
        user_ids: Mapping[str, str | None] | None = None,
        private: Mapping[str, bool] | None = None,
    ) -> list[str]:
        """Seed profiles into the rig's niche (with cached ids and privacy when given)."""
        ids = seed_profiles(self.db, self.niche_id, usernames, user_ids=user_ids, private=private)
        self.profile_ids.extend(ids)
        return ids

    def create_batch(self, profile_ids: list[str] | None = None) -> str:
        """Create (and, with a free slot, start) a batch of the niche or of these profiles."""
        if profile_ids is None:
            return self.state.create_batch(niche_id=self.niche_id, all_profiles=True).id
        return self.state.create_batch(niche_id=self.niche_id, profile_ids=profile_ids).id

    def status(self, batch_id: str) -> str | None:
        """The batch's status now (None when deleted)."""
        row = batch_row(self.db, batch_id)
        return None if row is None else row.status

    def wait_done(self, batch_id: str, timeout: float = 60.0) -> None:
        """Wait until the batch is done."""
        wait_until(
            lambda: self.status(batch_id) == "done", timeout=timeout, what=f"batch {batch_id} done"
        )

    def items(self, batch_id: str) -> list[tuple[BatchProfile, Profile]]:
        """Every item of a batch with its profile."""
        with self.db.read() as session:
            rows = session.execute(
                select(BatchProfile, Profile)
                .join(Profile, Profile.id == BatchProfile.profile_id)
                .where(BatchProfile.batch_id == batch_id)
            ).all()
            return [(bp, p) for bp, p in rows]

    def pair_of(self, session: str) -> str:
        """The proxy id of the pair that carries `session`."""
        return self.proxy_ids[self.sessions.index(session)]

    def settings(self, **values: Any) -> None:
        """Change settings while the engine runs; returns once the engine applied them."""
        set_settings(self.db, **values)
        self.pool.refresh_pairs(wait=self.pool.APPLY_WAIT_SECONDS)

    def stop(self) -> None:
        """Stop reconciler and pool."""
        self.reconciler.stop()
        self.pool.stop(timeout=5.0)


# Test defaults: no pause between a pair's requests, many in flight, short timeouts.
ENGINE_TEST_SETTINGS: dict[str, Any] = {
    "min_request_interval": 0.0,
    "max_threads": 32,
    "proxy_test_timeout": 3,
}


def start_engine(
    db: Database,
    secrets: SecretBox,
    *,
    instagram_url: str,
    secret_key: str,
    proxies: Sequence[ProxySpec] = (),
    sessions: Sequence[str] = (),
    options: EngineOptions | None = None,
    checker: Checker | None = None,
    reconcile_interval: float = 0.5,
    **settings: Any,
) -> EngineRig:
    """Seed one pair per (proxy, session), apply settings over `ENGINE_TEST_SETTINGS`, and
    start an engine exactly as the app factory wires it."""
    set_settings(db, **{**ENGINE_TEST_SETTINGS, **settings})
    proxy_ids = seed_pairs(db, secrets, proxies, sessions) if proxies else []
    config = Config(database_url=str(db.url), instagram_url=instagram_url, secret_key=secret_key)
    pool = WorkerPool(db=db, config=config, secrets=secrets, checker=checker, options=options)
    state = BatchStateManager(db, pool)
    pool.attach(state)
    pool.start()
    state.reconcile(release_all_leases=True)
    reconciler = Reconciler(state.reconcile, reconcile_interval).start()
    return EngineRig(
        db,
        secrets,
        pool,
        state,
        reconciler,
        seed_niche(db),
        proxy_ids=proxy_ids,
        sessions=list(sessions),
    )
