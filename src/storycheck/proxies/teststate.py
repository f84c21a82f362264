"""A pair's test state as stored and shown: untested, ok or failed, and the last result.

Kept apart from `pairtest` (which runs tests with the engine's checker) so the proxy service
and the API can show and reset the state without importing the engine.
"""

from __future__ import annotations

import json
from typing import Any

from storycheck.db import iso
from storycheck.proxies.models import Proxy

# Step names of a test, in order, and their titles.
STEPS = {
    "proxy": "Proxy reachable",
    "instagram": "Instagram answered",
    "session": "Session logged in",
    "limits": "Limit state",
}
TEST_STATES = ("untested", "ok", "failed")


def pair_test_state(proxy: Proxy) -> str:
    """`untested` (never tested since it was added or edited), `ok` or `failed`."""
    if proxy.last_tested_at is None:
        return "untested"
    return "ok" if proxy.last_test_ok else "failed"


def last_test(proxy: Proxy) -> dict[str, Any] | None:
    """The last result in short (the pair list shows it): when, whether ok, in words."""
    if proxy.last_tested_at is None:
        return None
    return {
        "tested_at": iso(proxy.last_tested_at),
        "ok": bool(proxy.last_test_ok),
        "summary": proxy.last_test_summary,
    }


def stored_report(proxy: Proxy) -> dict[str, Any] | None:
    """The last result in full (with its steps), as stored; None when untested."""
    short = last_test(proxy)
    if short is None:
        return None
    try:
        stored = json.loads(proxy.last_test_steps or "{}")
    except ValueError:
        stored = {}
    if not isinstance(stored, dict):
        stored = {}
    steps = stored.get("steps")
    return {
        **short,
        "username": stored.get("username"),
        "result": stored.get("result"),
        "classification": stored.get("classification"),
        "account_id": stored.get("account_id"),
        "steps": [
            {"title": STEPS.get(str(step.get("name")), ""), **step}
            for step in (steps if isinstance(steps, list) else [])
            if isinstance(step, dict)
        ],
    }


def forget_test(proxy: Proxy) -> None:
    """Mark an edited pair untested again."""
    proxy.last_tested_at = None
    proxy.last_test_ok = None
    proxy.last_test_summary = None
    proxy.last_test_steps = None
