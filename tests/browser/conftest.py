"""Browser-test fixtures: a live stack (simulator, proxy fleet, storycheck server) and Chromium.

The stack is started once for this package (and stopped after its last test):

* an Instagram simulator (limits off, stories common) with one session per pair,
* a fleet of local forward proxies,
* the storycheck server as a subprocess (`storycheck serve`) on a fresh SQLite database,
  serving the built client from `client/dist`,
* fast engine settings and one proxy+session pair per proxy, added through the API.

Each test gets a fresh browser context and page; failures (and key moments, through
`shoot`) are saved as screenshots under `test-artifacts/browser/`.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.helpers import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
CLIENT_DIST = REPO / "client" / "dist"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "browser"
SCREENSHOTS = REPO / "docs" / "screenshots"

# The one wait budget for "the UI shows it"; batch completion gets a longer one.
UI_TIMEOUT_MS = 10_000
BATCH_TIMEOUT_MS = 60_000

PAIR_COUNT = 3
ENGINE_REFRESH_SECONDS = 0.2
ENGINE_SETTLE_TIMEOUT_SECONDS = 10.0
# The engine settings every test starts from: no pacing, no hourly budget to speak of.
FAST_SETTINGS = {
    "min_request_interval": 0,
    "proxy_hourly_limit": 100_000,
    "lookup_hourly_limit": 100_000,
    "profiles_per_minute": 0,
    "max_threads": 8,
    "max_concurrent_batches": 1,
    "max_attempts": 3,
    "proxy_max_failures": 3,
    "proxy_test_timeout": 10,
}


def skip_reason() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM} (`make test` installs it with apt-get)"
    if not (CLIENT_DIST / "index.html").exists():
        return "client/dist/index.html is missing: build the client (`make client`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (`make install`)"
    return None


SKIP_REASON = skip_reason()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:120]


# --------------------------------------------------------------------------------------------
# The live stack
# --------------------------------------------------------------------------------------------


@dataclass
class Stack:
    """What the tests need to reach: the server, the simulator and a JSON API client."""

    base_url: str
    api: httpx.Client
    sim: Any
    fleet: Any
    proxy_urls: list[str]
    session_ids: list[str]
    spare_pair: tuple[str, str]  # a proxy URL + session not registered yet (for the UI form)
    log_path: Path
    database_url: str = ""
    _names: set[str] = field(default_factory=set)

    # --- API helpers ------------------------------------------------------------------------

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.api.request(method, f"/api{path}", **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} /api{path} → {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def settings(self, **changes: Any) -> dict[str, Any]:
        """PUT /settings; when something changed, wait until the engine has re-read them."""
        current = self.call("GET", "/settings")
        saved = self.call("PUT", "/settings", json=changes)
        if any(current.get(name) != saved.get(name) for name in changes):
            # Without this wait a batch created right after a change could still run under the
            # old pacing. The engine re-reads its settings every ENGINE_REFRESH_SECONDS (server
            # env below); the reading running now may have loaded the old ones, the next cannot.
            seen = self.engine_refreshes()
            wait_until(
                lambda: self.engine_refreshes() >= seen + 2,
                timeout=ENGINE_SETTLE_TIMEOUT_SECONDS,
                what="the engine re-read its settings",
            )
        return saved

    def engine_refreshes(self) -> int:
        """How many times the server's engine has re-read its pairs and settings."""
        return int(self.call("GET", "/health")["engine_refreshes"])

    def new_niche(self, prefix: str = "niche") -> dict[str, Any]:
        return self.call("POST", "/niches", json={"name": self.unique_name(prefix)})

    def unique_name(self, prefix: str) -> str:
        """A niche name (≤ 50 characters) no other test uses."""
        while True:
            name = f"{prefix} {uuid.uuid4().hex[:6]}"[:50]
            if name not in self._names:
                self._names.add(name)
                return name

    @staticmethod
    def usernames(count: int, prefix: str = "u") -> list[str]:
        """Usernames that exist nowhere else in this run (imports reject duplicates)."""
        tag = uuid.uuid4().hex[:8]
        return [f"{prefix}{tag}_{i:03d}" for i in range(count)]

    def import_usernames(self, niche_id: str, names: list[str]) -> dict[str, Any]:
        body = ("\n".join(names) + "\n").encode()
        files = {"file": ("names.txt", body, "text/plain")}
        return self.call("POST", f"/profiles/niches/{niche_id}/import", files=files)

    def niche_with_profiles(self, count: int, prefix: str = "niche") -> dict[str, Any]:
        niche = self.new_niche(prefix)
        report = self.import_usernames(niche["id"], self.usernames(count))
        assert report["created_count"] == count, report
        return niche

    def batches(self) -> list[dict[str, Any]]:
        return self.call("GET", "/batches")

    def batch(self, batch_id: str) -> dict[str, Any]:
        return self.call("GET", f"/batches/{batch_id}", params={"items_limit": 1})

    def create_batch(self, niche_id: str) -> dict[str, Any]:
        return self.call("POST", "/batches", json={"niche_id": niche_id, "all_profiles": True})

    def delete_all_batches(self) -> None:
        ids = [b["id"] for b in self.batches()]
        if ids:
            self.call("DELETE", "/batches", json={"batch_ids": ids})

    def wait_batch(
        self, batch_id: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        latest: dict[str, Any] = {}

        def matches() -> bool:
            nonlocal latest
            latest = self.batch(batch_id)
            return predicate(latest)

        wait_until(matches, timeout=timeout, interval=0.2, what=f"batch {batch_id} to match")
        return latest

    def end_story_soon(self, username: str, seconds: float) -> datetime:
        """Make `username`'s live story expire `seconds` from now, in the server's database.

        The server's clock cannot be moved from outside its process, so the story comes to it
        instead: its window (and the profile's story columns) end `seconds` from now.
        """
        from sqlalchemy import create_engine, select, update

        from storycheck.profiles.models import Profile
        from storycheck.stories.models import StoryWindow

        ends = datetime.now(UTC) + timedelta(seconds=seconds)
        engine = create_engine(self.database_url)
        try:
            with engine.begin() as conn:
                profile_id = conn.scalar(select(Profile.id).where(Profile.username == username))
                assert profile_id, f"no profile {username!r}"
                live = StoryWindow.expires_at > datetime.now(UTC)
                conn.execute(
                    update(StoryWindow)
                    .where(StoryWindow.profile_id == profile_id, live)
                    .values(expires_at=ends)
                )
                conn.execute(
                    update(Profile).where(Profile.id == profile_id).values(story_expires_at=ends)
                )
        finally:
            engine.dispose()
        return ends

    def reset(self) -> None:
        """Fast engine, no batches, every pair enabled: the starting point of each test."""
        self.settings(**FAST_SETTINGS)
        self.delete_all_batches()


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"storycheck serve exited with {process.returncode}:\n{log_path.read_text()[-4000:]}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/api/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"storycheck serve did not answer in 30 s:\n{log_path.read_text()[-4000:]}")


def _server_command() -> list[str]:
    script = Path(sys.executable).parent / "storycheck"
    if script.exists():
        return [str(script), "serve"]
    return [sys.executable, "-c", "from storycheck.cli import main; main()", "serve"]


def _start_server(
    workdir: Path, env: dict[str, str], log_path: Path
) -> tuple[subprocess.Popen[bytes], IO[bytes], str]:
    """Start `storycheck serve` on a free port; return the process, its log file, its URL."""
    # A free port can be taken by someone else before the server binds it: try again.
    for attempt in range(3):
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env["STORYCHECK_PORT"] = str(port)
        log_file = log_path.open("wb")
        # The working directory is the temp dir, so no stray `.env` of the repo is read.
        process = subprocess.Popen(
            _server_command(), cwd=workdir, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            _wait_healthy(base_url, process, log_path)
            return process, log_file, base_url
        except RuntimeError:
            _stop_server(process)
            log_file.close()
            if attempt == 2:
                raise
            shutil.copyfile(log_path, ARTIFACTS / f"server-failed-start-{attempt + 1}.log")
    raise AssertionError("unreachable")


def _stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Simulator + proxy fleet + `storycheck serve` on a fresh SQLite database."""
    if SKIP_REASON:
        pytest.skip(SKIP_REASON)
    from storycheck.simulator import (
        LimitsConfig,
        PopulationConfig,
        ProxyFleet,
        SimulatorConfig,
        SimulatorServer,
    )

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    workdir = tmp_path_factory.mktemp("browser-stack")
    # One spare proxy + session for the "add a pair in the UI" test.
    sim = SimulatorServer(
        SimulatorConfig(
            sessions=PAIR_COUNT + 1,
            limits=LimitsConfig(enabled=False),
            population=PopulationConfig(story_probability=0.3),
        )
    ).start()
    fleet = ProxyFleet(PAIR_COUNT + 1).start()
    process: subprocess.Popen[bytes] | None = None
    log_file = None
    api: httpx.Client | None = None
    try:
        log_path = ARTIFACTS / "server.log"
        env = {
            **os.environ,
            "STORYCHECK_DATABASE_URL": f"sqlite:///{workdir / 'storycheck.db'}",
            "STORYCHECK_INSTAGRAM_URL": sim.base_url,
            "STORYCHECK_SECRET_KEY": secrets.token_urlsafe(32),
            "STORYCHECK_HOST": "127.0.0.1",
            "STORYCHECK_STATIC_DIR": str(CLIENT_DIST),
            "STORYCHECK_RECONCILE_INTERVAL": "1",
            "STORYCHECK_ENGINE": "1",
            # Settings changes reach the running engine within a second (default 2 s).
            "STORYCHECK_ENGINE_REFRESH_INTERVAL": str(ENGINE_REFRESH_SECONDS),
        }
        for name in ("STORYCHECK_API_TOKEN", "STORYCHECK_BROKER_URL", "DATABASE_URL"):
            env.pop(name, None)
        process, log_file, base_url = _start_server(workdir, env, log_path)
        api = httpx.Client(base_url=base_url, timeout=15)
        urls, sessions = list(fleet.urls), list(sim.session_ids)
        stack = Stack(
            base_url=base_url,
            api=api,
            sim=sim,
            fleet=fleet,
            proxy_urls=urls[:PAIR_COUNT],
            session_ids=sessions[:PAIR_COUNT],
            spare_pair=(urls[PAIR_COUNT], sessions[PAIR_COUNT]),
            log_path=log_path,
            database_url=env["STORYCHECK_DATABASE_URL"],
        )
        stack.settings(**FAST_SETTINGS)
        for url, session_id in zip(stack.proxy_urls, stack.session_ids, strict=True):
            stack.call("POST", "/proxies", json={"url": url, "session": session_id})
        yield stack
    finally:
        if api is not None:
            api.close()
        if process is not None:
            _stop_server(process)
        if log_file is not None:
            log_file.close()
        fleet.stop()
        sim.stop()


@pytest.fixture
def live(stack: Stack) -> Stack:
    """The stack, reset to fast settings with no batches left by an earlier test."""
    stack.reset()
    return stack


# --------------------------------------------------------------------------------------------
# Chromium
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium, for the tests of this package only.

    Package scope matters: while Playwright's sync API is started, the main thread looks like
    it runs an asyncio loop, and `asyncio.run()` in later (non-browser) tests would fail.
    """
    if SKIP_REASON:
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import sync_playwright

    # Screenshots of this run only (the folder is gitignored).
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember each phase's report on the item, so fixtures can see whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


class Shooter:
    """Saves screenshots of a page under test-artifacts/browser/<test>-<n>-<label>.png."""

    def __init__(self, page: Any, test_name: str) -> None:
        self.page = page
        self.prefix = _slug(test_name)
        self.count = 0

    def __call__(self, label: str) -> Path:
        self.count += 1
        path = ARTIFACTS / f"{self.prefix}-{self.count:02d}-{_slug(label)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def page(browser: Any, stack: Stack, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh context (1280x800), at the app's base URL; screenshot on failure."""
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    context = browser.new_context(
        base_url=stack.base_url, viewport={"width": 1280, "height": 800}, locale="en-US"
    )
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    # Delete confirmations use window.confirm: the user accepts.
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", on_dialog)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.shoot = Shooter(page, request.node.name)  # type: ignore[attr-defined]
    page.js_errors = errors  # type: ignore[attr-defined]
    page.dialogs = dialogs  # type: ignore[attr-defined]
    try:
        yield page
        failed = getattr(request.node, "report_call", None)
        if failed is not None and failed.failed:
            with contextlib.suppress(Exception):
                page.screenshot(
                    path=str(ARTIFACTS / f"{_slug(request.node.name)}-FAILED.png"), full_page=True
                )
    finally:
        context.close()


@pytest.fixture
def shoot(page: Any) -> Shooter:
    """`shoot("label")` saves a screenshot of the current page into test-artifacts/browser/."""
    return page.shoot


def save_doc_screenshot(page: Any, name: str) -> Path:
    """A screenshot (of the current viewport) for the README into the artifacts; also into docs/screenshots when
    STORYCHECK_UPDATE_SCREENSHOTS=1 (so a test run leaves the checkout unchanged)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"docs-{name}.png"
    page.screenshot(path=str(path), full_page=False)
    if os.environ.get("STORYCHECK_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the README screenshots first among the browser tests, while the database holds
    only what they create (the other tests keep their order and places)."""
    here = Path(__file__).parent
    slots = [n for n, item in enumerate(items) if item.path.parent == here]
    browser = [items[n] for n in slots]
    ordered = [i for i in browser if i.path.name == "test_screenshots.py"]
    ordered += [i for i in browser if i.path.name != "test_screenshots.py"]
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item
