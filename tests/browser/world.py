"""Data the layout and accessibility tests share: the pages of the app and a small checked
niche, a pair with a long error log (written straight into the server's database)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.browser.conftest import BATCH_TIMEOUT_MS, Stack

# Each page: its heading and the buttons a user comes for (by test id), which must be reachable.
PAGES: list[tuple[str, str | None, tuple[str, ...]]] = [
    ("/", "Stories now", ("stories-select-all", "copy-usernames", "stories-export-csv")),
    ("/niches", None, ("check-selected", "check-niche", "add-niche-button", "profile-search")),
    ("/batches", "Batches", ("batch-start", "batch-stop", "batch-resume", "batch-delete", "batch-logs")),
    ("/proxies", "Proxies", ("proxy-add-submit",)),
    ("/settings", "Settings", ("settings-save",)),
    ("/dashboard", "Dashboard", ("target-input",)),
    ("/alerts", "Alerts", ("channel-submit",)),
    ("/no-such-page", "Page not found", ()),
]

# A pair's failures as the engine words them: long, with URLs that have no place to break.
LONG_ERROR = (
    "Cannot connect to proxy http://127.0.0.1:9/ — ClientProxyConnectionError: [Errno 111] "
    "Connect call failed ('127.0.0.1', 9) while fetching https://i.instagram.com/api/v1/feed/"
    "reels_media/?reel_ids=1234567890123456,2345678901234567,3456789012345678"
)
TRANSITION = "ready → cooling: rate limited 3 times in 10 minutes (backoff 300 s)"


def simulated_user(live: Stack, story: bool) -> str:
    """A fresh public username that has (for over an hour) or has not a live story, per the
    simulator's truth."""
    now = live.sim.now()
    for name in live.usernames(400, "ph"):
        truth = live.sim.truth(name)
        if truth["is_private"]:
            continue
        if not story and not truth["has_story"]:
            return name
        if story and truth["has_story"] and truth["expiring_at"] - now > 3600:
            return name
    raise AssertionError(f"no simulated public account {'with' if story else 'without'} a story")


def checked_niche(live: Stack) -> tuple[dict[str, Any], dict[str, Any]]:
    """A niche of a few accounts (one with a live story, one without), checked to the end:
    (niche, batch)."""
    niche = live.new_niche("Phone")
    names = [simulated_user(live, story=True), simulated_user(live, story=False)]
    live.import_usernames(niche["id"], [*names, *live.usernames(4, "ph")])
    batch = live.create_batch(niche["id"])
    done = live.wait_batch(
        batch["id"], lambda b: b["status"] == "done", timeout=BATCH_TIMEOUT_MS / 1000
    )
    return niche, done


def add_error_logs(live: Stack, proxy_id: str, count: int) -> None:
    """Give a pair `count` error-log rows, written straight into the server's database."""
    from sqlalchemy import create_engine, insert

    from storycheck.proxies.models import ProxyErrorLog

    now = datetime.now(UTC)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "proxy_id": proxy_id,
            "timestamp": now - timedelta(minutes=n),
            "error_message": LONG_ERROR if n % 2 == 0 else "HTTP 429 rate_limited: wait a few minutes",
            "state_change": n % 2 == 0,
            "transition_reason": TRANSITION if n % 2 == 0 else None,
            "recovery_time": now + timedelta(minutes=5) if n % 2 == 0 else None,
            "created_at": now,
        }
        for n in range(count)
    ]
    engine = create_engine(live.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(ProxyErrorLog), rows)
    finally:
        engine.dispose()
