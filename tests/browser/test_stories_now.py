""" "Stories now", the landing page, in a real browser against the live engine and simulator.

The simulator's truth is the referee: the page must list exactly the accounts it says have a
live story, show new detections without a reload, and drop a story when it expires.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.browser.conftest import BATCH_TIMEOUT_MS, SKIP_REASON, Stack
from tests.browser.ui import (
    assert_not_reloaded,
    mark_page,
    no_horizontal_scroll,
    story_usernames,
    wait_live,
)
from tests.helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON or "")]

if not SKIP_REASON:
    from playwright.sync_api import Page, expect

# Stories that expire this close to a comparison may or may not be listed at that moment.
EXPIRY_MARGIN_SECONDS = 120
# The promise: a detection shows within 2 s of the server knowing it.
DETECTION_SHOWS_WITHIN_MS = 2_000


@contextlib.contextmanager
def frozen_simulator(live: Stack) -> Iterator[float]:
    """Freeze the simulator's clock (its truth then stays put while the test compares)."""
    at = live.sim.now()
    live.sim.set_clock(frozen_at=at)
    try:
        yield at
    finally:
        live.sim.set_clock(frozen_at=None)


def visible_story(truth: dict[str, Any]) -> bool:
    """A story the checking sessions can see: live, on a public account (they follow nobody)."""
    return bool(truth["has_story"]) and not truth["is_private"]


def live_in_truth(live: Stack, names: list[str]) -> tuple[set[str], set[str]]:
    """(accounts with a live story per the simulator, accounts too close to expiry to judge)."""
    truth = {name: live.sim.truth(name) for name in names}
    now = time.time()
    expected = {n for n, t in truth.items() if visible_story(t)}
    borderline = {n for n in expected if truth[n]["expiring_at"] - now < EXPIRY_MARGIN_SECONDS}
    return expected, borderline


def run_batch(live: Stack, niche_id: str) -> dict[str, Any]:
    batch = live.create_batch(niche_id)
    return live.wait_batch(
        batch["id"], lambda b: b["status"] == "done", timeout=BATCH_TIMEOUT_MS / 1000
    )


def api_live_names(live: Stack, search: str) -> set[str]:
    answer = live.call("GET", "/stories/live", params={"search": search, "limit": 500})
    return {row["username"] for row in answer["stories"]}


def find_user(live: Stack, condition: Any, prefix: str, limit: int = 200_000) -> str:
    """A generated username (unused in this run) whose simulated truth meets `condition`."""
    now = live.sim.now()
    for index in range(limit):
        name = f"{prefix}{index:05d}"
        if condition(live.sim.truth(name, now), now):
            return name
    raise AssertionError(f"no simulated user with {prefix!r} matched in {limit} names")


def test_landing_page_lists_exactly_the_live_stories_of_two_niches(page: Page, live: Stack) -> None:
    names = live.usernames(70, "sn")
    tag = names[0].split("_")[0]
    first, second = live.new_niche("Stories A"), live.new_niche("Stories B")
    live.import_usernames(first["id"], names[:35])
    live.import_usernames(second["id"], names[35:])

    with frozen_simulator(live):
        run_batch(live, first["id"])
        run_batch(live, second["id"])

        page.goto("/")
        expect(page.get_by_test_id("nav-stories")).to_have_attribute("aria-current", "page")
        expect(page.get_by_role("heading", level=1)).to_have_text("Stories now")
        page.get_by_test_id("stories-search").fill(tag)
        # The box applies the search after a 300 ms pause: wait until the page uses it (the
        # rows alone do not tell, every account of both niches carries the tag).
        expect(page.get_by_test_id("stories-export-csv")).to_have_attribute(
            "href", re.compile(f"search={tag}")
        )
        expected, borderline = live_in_truth(live, names)
        assert len(expected) >= 10, f"the simulated world gave only {len(expected)} stories"
        rows = page.get_by_test_id("story-row")
        expect(rows.first).to_be_visible()
        wait_until(
            lambda: len(page.get_by_test_id("story-row").all()) >= len(expected - borderline),
            timeout=10,
            what="the rows of both niches",
        )
        shown = story_usernames(page)
        assert shown - borderline == expected - borderline
        # Both niches are there, each row names its niche and links to the story.
        niches_shown = set(rows.evaluate_all("rows => rows.map(r => r.dataset.nicheId)"))
        assert niches_shown == {first["id"], second["id"]}
        name = sorted(shown - borderline)[0]
        row = page.locator(f'[data-testid="story-row"][data-username="{name}"]')
        link = row.get_by_test_id("story-link")
        expect(link).to_have_attribute("href", f"https://www.instagram.com/stories/{name}/")
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener")
        expect(row.get_by_test_id("story-posted")).to_contain_text("posted ")
        expect(row.get_by_test_id("story-expires")).to_have_text(
            re.compile(r"^\d+(h \d\dm|m \d\ds|s)$")
        )

        # The sidebar counts live stories per niche; clicking one filters the list.
        in_first = {n for n in expected if n in names[:35]}
        entry = page.locator(f'[data-testid="story-niche"][data-niche-id="{first["id"]}"]')
        count = int(entry.get_by_test_id("story-niche-count").inner_text())
        assert abs(count - len(in_first)) <= len(borderline & in_first)
        entry.get_by_role("button").click()
        expect(entry).to_have_class(re.compile(r"\bselected\b"))
        other = f'[data-testid="story-row"]:not([data-niche-id="{first["id"]}"])'
        expect(page.locator(other)).to_have_count(0)
        expect(rows.first).to_be_visible()
        assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.nicheId)")) == {first["id"]}
        assert story_usernames(page) - borderline == in_first - borderline
        page.shoot("first niche only")

        # Export links carry the filters.
        csv = page.get_by_test_id("stories-export-csv").get_attribute("href") or ""
        assert csv.startswith("/api/stories/live.csv?") and f"niche_id={first['id']}" in csv
        assert f"search={tag}" in csv
        response = live.api.get(csv)
        assert response.status_code == 200
        body = response.text
        assert all(n in body for n in in_first - borderline)

        # Select two rows and copy their usernames.
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        checks = rows.get_by_role("checkbox")
        checks.nth(0).check()
        checks.nth(1).check()
        picked = rows.evaluate_all("rows => rows.slice(0, 2).map(r => r.dataset.username)")
        page.get_by_test_id("copy-usernames").click()
        expect(page.get_by_test_id("copy-confirmation")).to_have_text("✓ Copied 2 usernames")
        assert page.evaluate("navigator.clipboard.readText()") == "\n".join(picked)
    assert not page.js_errors, page.js_errors


def test_an_unchecked_niche_is_unknown_never_no_story(page: Page, live: Stack) -> None:
    names = live.usernames(5, "cov")
    niche = live.new_niche("Not checked yet")
    live.import_usernames(niche["id"], names)
    entry = page.locator(f'[data-testid="story-niche"][data-niche-id="{niche["id"]}"]')

    page.goto("/")
    wait_live(page)
    entry.get_by_role("button").click()
    coverage = page.get_by_test_id("stories-coverage")
    expect(coverage).to_have_text("0 of 5 accounts checked in the last 24 h · show the unknown")
    empty = page.get_by_test_id("stories-empty")
    expect(empty).to_contain_text("Nothing checked in the last 24 hours: no one's story is known")
    expect(empty).not_to_contain_text("No live story")
    page.shoot("niche not checked yet")

    # The unknown accounts open in the Niche Feed: this niche's five, each with a "?".
    coverage.get_by_role("link", name="show the unknown").click()
    expect(page).to_have_url(re.compile(r"/niches$"))
    expect(page.get_by_test_id("story-filter")).to_have_value("unknown")
    rows = page.get_by_test_id("profile-row")
    expect(rows).to_have_count(5)
    expect(rows.get_by_test_id("story-unchecked")).to_have_count(5)
    page.go_back()
    expect(coverage).to_contain_text("0 of 5 accounts checked in the last 24 h")

    run_batch(live, niche["id"])
    known = live.call("GET", "/stories/live/coverage", params={"niche_id": niche["id"]})
    assert known["checked"] >= 1, known
    # The page follows the batch's events (the coverage is re-read a few seconds after them).
    expect(page.get_by_test_id("stories-coverage")).to_contain_text(
        f"{known['checked']} of 5 accounts checked in the last 24 h", timeout=15_000
    )
    if known["private_unknown"]:
        expect(page.get_by_test_id("stories-coverage")).to_contain_text(
            f"({known['private_unknown']} private: unknown)"
        )
    if not page.get_by_test_id("story-row").count():
        expect(empty).to_contain_text(f"No live story among the {known['answered']} account")
    assert not page.js_errors, page.js_errors


def test_new_detection_appears_without_reload(page: Page, live: Stack) -> None:
    prefix = f"fresh{uuid.uuid4().hex[:6]}_"
    # A public account with a story that stays live for the whole test.
    name = find_user(
        live,
        lambda t, now: visible_story(t) and t["expiring_at"] - now > 3600,
        prefix,
    )
    niche = live.new_niche("Fresh")
    live.import_usernames(niche["id"], [name])

    page.goto("/")
    mark_page(page)
    wait_live(page)
    # Searching for it keeps the list complete: a detection that sorts after the loaded
    # pages waits for "Load more" instead of appearing.
    page.get_by_test_id("stories-search").fill(prefix)
    expect(page.get_by_test_id("stories-none-match")).to_be_visible()
    row = page.locator(f'[data-testid="story-row"][data-username="{name}"]')
    expect(row).to_have_count(0)

    live.create_batch(niche["id"])
    wait_until(lambda: name in api_live_names(live, name), timeout=30, what="the detection")
    # From the moment the server lists it, the open page shows it within 2 s.
    expect(row).to_be_visible(timeout=DETECTION_SHOWS_WITHIN_MS)
    expect(row).to_contain_text(niche["name"])
    page.shoot("new detection")
    assert_not_reloaded(page)
    assert not page.js_errors, page.js_errors


def test_expiring_story_leaves_the_list(page: Page, live: Stack) -> None:
    prefix = f"ending{uuid.uuid4().hex[:6]}_"
    names = [
        find_user(live, lambda t, now: visible_story(t) and t["expiring_at"] - now > 3600, prefix),
        find_user(
            live, lambda t, now: visible_story(t) and t["expiring_at"] - now > 3600, f"{prefix}b"
        ),
    ]
    niche = live.new_niche("Ending")
    live.import_usernames(niche["id"], names)
    run_batch(live, niche["id"])
    wait_until(
        lambda: set(names) <= api_live_names(live, prefix), timeout=10, what="both detections"
    )
    # The first story now ends in 20 s: the page loads it with a short countdown that, on
    # reaching zero, takes the row away.
    countdown, by_server = names
    ends = live.end_story_soon(countdown, 20)

    page.goto("/")
    mark_page(page)
    wait_live(page)
    page.get_by_test_id("stories-search").fill(prefix)
    first = page.locator(f'[data-testid="story-row"][data-username="{countdown}"]')
    second = page.locator(f'[data-testid="story-row"][data-username="{by_server}"]')
    expect(first).to_be_visible()
    expect(second).to_be_visible()
    expect(first.get_by_test_id("story-expires")).to_have_text(re.compile(r"^\d+s$"))
    page.shoot("about to expire")
    wait_until(lambda: datetime.now(UTC) > ends, timeout=60, what="the first story's end")
    expect(first).to_have_count(0)
    expect(second).to_be_visible()
    assert countdown not in api_live_names(live, prefix)

    # The second one ends while the page already shows it with hours to go: the server's
    # `story_expired` event takes it away.
    ends = live.end_story_soon(by_server, 2)
    wait_until(lambda: datetime.now(UTC) > ends, timeout=30, what="the second story's end")
    expect(second).to_have_count(0)
    expect(page.get_by_test_id("stories-none-match")).to_be_visible()
    assert_not_reloaded(page)
    assert not page.js_errors, page.js_errors


def test_stories_now_fits_a_phone(page: Page, live: Stack) -> None:
    prefix = f"phone{uuid.uuid4().hex[:6]}_"
    name = find_user(
        live, lambda t, now: visible_story(t) and t["expiring_at"] - now > 3600, prefix
    )
    niche = live.new_niche("Phone")
    live.import_usernames(niche["id"], [name])
    run_batch(live, niche["id"])

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Stories now")
    page.get_by_test_id("stories-search").fill(prefix)
    row = page.locator(f'[data-testid="story-row"][data-username="{name}"]')
    expect(row).to_be_visible()
    expect(page.get_by_test_id("story-row")).to_have_count(1)
    # Each story is a card: username, countdown, niche, posted time and items all on screen.
    expect(row.get_by_test_id("story-expires")).to_be_in_viewport()
    expect(row.get_by_test_id("story-posted")).to_be_in_viewport()
    assert no_horizontal_scroll(page)
    page.shoot("phone")
