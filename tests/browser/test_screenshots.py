"""Screenshots of the main screens for the README, taken from a realistic live run.

Runs first in the browser suite (see `pytest_collection_modifyitems` in conftest), while the
database holds only what this test creates. Saves {stories-now,niche-feed,batches,proxies,
pair-form,dashboard}.png at 1280x800 and {stories-now,batches,dashboard}-phone.png at
390x844 into test-artifacts/browser/, and into docs/screenshots/ with
STORYCHECK_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import random
import re

import pytest

from tests.browser.conftest import BATCH_TIMEOUT_MS, SKIP_REASON, Stack, save_doc_screenshot
from tests.browser.ui import DESKTOP, PHONE, no_horizontal_scroll, open_niche, plain_cell

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON or "")]

if not SKIP_REASON:
    from playwright.sync_api import Page, expect

NICHES = (("Fitness", 60, 20), ("Travel", 80, 15), ("Food", 40, 10), ("Fashion", 30, 10))


def save_phone_screenshot(page: Page, name: str) -> None:
    """The same screen at 390x844 (the page must not scroll sideways), then back to desktop."""
    page.set_viewport_size(PHONE)
    page.evaluate("window.scrollTo(0, 0)")
    assert no_horizontal_scroll(page), f"{name}: the page scrolls sideways at 390 px"
    page.mouse.move(0, 0)
    save_doc_screenshot(page, f"{name}-phone")
    page.set_viewport_size(DESKTOP)


def test_readme_screenshots(page: Page, live: Stack) -> None:
    from storycheck.demo import demo_usernames

    rng = random.Random(2024)
    names = iter(demo_usernames(sum(count for _, count, _ in NICHES), rng))
    niches = {}
    for name, count, target in NICHES:
        # Names are unique per run; a second run in the same database would get a suffix.
        taken = {n["name"] for n in live.call("GET", "/niches")}
        label = name if name not in taken else live.unique_name(name)
        niche = live.call("POST", "/niches", json={"name": label, "daily_story_target": target})
        batch_names = [next(names) for _ in range(count)]
        report = live.import_usernames(niche["id"], batch_names)
        assert report["created_count"] == count - report["duplicate_count"], report
        niches[name] = niche

    # Finished checks give the profiles stories, check counts and detection rates.
    for name, _, _ in NICHES:
        batch = live.create_batch(niches[name]["id"])
        live.wait_batch(
            batch["id"], lambda b: b["status"] == "done", timeout=BATCH_TIMEOUT_MS / 1000
        )

    # Stories now (the landing page): everyone with a live story, at desktop and phone width.
    page.goto("/")
    expect(page.get_by_test_id("stream-mode")).to_have_text("Live")
    expect(page.get_by_test_id("story-row").first).to_be_visible()
    rows = page.get_by_test_id("story-row")
    rows.nth(0).get_by_role("checkbox").check()
    rows.nth(2).get_by_role("checkbox").check()
    page.mouse.move(0, 0)
    save_doc_screenshot(page, "stories-now")
    save_phone_screenshot(page, "stories-now")

    # Niche Feed: Fitness sorted by username, three rows selected.
    page.goto("/niches")
    open_niche(page, niches["Fitness"]["name"])
    page.get_by_test_id("sort-username").click()
    rows = page.get_by_test_id("profile-row")
    expect(rows).to_have_count(50)
    plain_cell(rows.nth(1)).click()
    plain_cell(rows.nth(3)).click(modifiers=["Shift"])
    expect(page.get_by_test_id("selection-count")).to_have_text("3 selected")
    page.evaluate("document.activeElement.blur()")  # no focus ring on the shift-clicked row
    page.mouse.move(0, 0)
    save_doc_screenshot(page, "niche-feed")

    # Batches: one running (held at ~25 checks by a per-minute cap), two queued, four done.
    live.settings(profiles_per_minute=25)
    running = live.create_batch(niches["Travel"]["id"])
    live.create_batch(niches["Fashion"]["id"])
    live.create_batch(niches["Food"]["id"])
    live.wait_batch(running["id"], lambda b: b["completed_profiles"] >= 20, timeout=30)
    page.get_by_test_id("nav-batches").click()
    expect(page.get_by_test_id("stream-mode")).to_have_text("Live")
    expect(page.get_by_test_id("batch-row")).to_have_count(len(NICHES) + 3)
    expect(page.get_by_test_id("batch-row").first).to_have_attribute("data-status", "in_progress")
    expect(page.locator('[data-testid="batch-row"][data-status="queued"]')).to_have_count(2)
    expect(page.locator('[data-testid="batch-row"][data-status="done"]')).to_have_count(len(NICHES))
    page.mouse.move(0, 0)
    save_doc_screenshot(page, "batches")
    save_phone_screenshot(page, "batches")

    # Proxies: every pair with its health, usage and masked session.
    page.get_by_test_id("nav-proxies").click()
    expect(page.get_by_test_id("proxy-row")).to_have_count(len(live.proxy_urls))
    expect(page.locator('[data-testid="proxy-row"][data-health="ready"]')).to_have_count(
        len(live.proxy_urls)
    )
    page.mouse.move(0, 0)
    save_doc_screenshot(page, "proxies")

    # The pair form, filled the way the README's "Adding a pair" explains: a proxy and a
    # pasted browser cookie string (made-up values on loopback; nothing is submitted).
    form = page.get_by_test_id("proxy-add-form")
    form.get_by_test_id("proxy-field-ip").fill("127.0.0.1")
    form.get_by_test_id("proxy-field-port").fill("1080")
    form.get_by_test_id("proxy-field-scheme").select_option("socks5")
    form.get_by_test_id("proxy-field-username").fill("proxyuser")
    form.get_by_test_id("proxy-field-password").fill("example-password")
    form.get_by_test_id("proxy-field-session").fill(
        "csrftoken=Xy12exampleToken; mid=ZexampleMid; ig_did=EXAMPLE-DID; ds_user_id=123456789;"
        " sessionid=123456789%3AexampleSessionValue%3A12%3AAYexample; rur=\"CLN\\054123\""
    )
    form.scroll_into_view_if_needed()
    expect(form).to_contain_text("sessionid")
    page.mouse.move(0, 0)
    save_doc_screenshot(page, "pair-form")

    # Dashboard: stories today per niche against the target, throughput, pair health.
    page.get_by_test_id("nav-dashboard").click()
    expect(page.get_by_test_id("dashboard-niche")).to_have_count(len(NICHES))
    expect(page.get_by_test_id("throughput-chart")).to_be_visible()
    expect(page.get_by_test_id("pair-health-ready")).to_contain_text(re.compile(r"\d"))
    page.mouse.move(0, 0)
    save_doc_screenshot(page, "dashboard")
    save_phone_screenshot(page, "dashboard")
