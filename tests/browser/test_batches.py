"""Batches in a real browser against the live engine: create, watch, pause, reorder, delete, logs."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import BATCH_TIMEOUT_MS, SKIP_REASON, Stack
from tests.browser.ui import (
    assert_not_reloaded,
    batch_row,
    mark_page,
    open_niche,
    select_batch,
    wait_live,
)
from tests.helpers import holds_for, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON or "")]

if not SKIP_REASON:
    from playwright.sync_api import Page, expect


def test_check_selected_creates_a_batch_that_runs_to_done(page: Page, live: Stack) -> None:
    # A little pacing, so the batch is visibly running for a moment.
    live.settings(min_request_interval=0.1)
    niche = live.niche_with_profiles(24, "Run")
    page.goto("/niches")
    mark_page(page)
    open_niche(page, niche["name"])
    expect(page.get_by_test_id("profile-row")).to_have_count(24)
    page.get_by_test_id("select-page").click()
    expect(page.get_by_test_id("selection-count")).to_have_text("24 selected")
    page.get_by_test_id("check-selected").click()

    # The app moves to the Batches tab with the new batch on top.
    expect(page).to_have_url(re.compile(r"/batches$"))
    expect(page.get_by_test_id("nav-batches")).to_have_attribute("aria-current", "page")
    row = page.get_by_test_id("batch-row").filter(has_text=niche["name"])
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", re.compile(r"^(queued|in_progress|done)$"))
    expect(row.get_by_test_id("batch-progress")).to_contain_text("/24")
    wait_live(page)
    page.shoot("batch created")

    # Live updates carry it to done: no reload, no click on Refresh.
    expect(row).to_have_attribute("data-status", "done", timeout=BATCH_TIMEOUT_MS)
    expect(row.get_by_test_id("batch-progress")).to_contain_text("24/24")
    expect(row.get_by_test_id("batch-status")).to_have_text("done")
    expect(row.get_by_test_id("batch-queue-position")).to_have_text("-")
    expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "24")
    batch = live.batch(row.get_attribute("data-batch-id") or "")
    assert batch["status"] == "done" and batch["completed_profiles"] == 24
    expect(row.get_by_test_id("batch-stories")).to_have_text(str(batch["stories_found"]))
    expect(row.get_by_test_id("batch-failed")).to_have_text(str(batch["checks_failed"]))
    page.shoot("batch done")
    assert_not_reloaded(page)
    assert not page.js_errors, page.js_errors


def test_pause_and_resume_a_running_batch(page: Page, live: Stack) -> None:
    live.settings(min_request_interval=0.5)
    total = 120
    niche = live.niche_with_profiles(total, "Pause")
    page.goto("/niches")
    mark_page(page)
    open_niche(page, niche["name"])
    page.get_by_test_id("check-niche").click()
    expect(page).to_have_url(re.compile(r"/batches$"))
    row = page.get_by_test_id("batch-row").filter(has_text=niche["name"])
    expect(row).to_have_attribute("data-status", "in_progress")
    expect(row.get_by_test_id("batch-queue-position")).to_have_text("0 (Running)")
    batch_id = row.get_attribute("data-batch-id") or ""

    select_batch(row)
    expect(page.get_by_test_id("batch-resume")).to_be_disabled()
    page.get_by_test_id("batch-stop").click()
    expect(row).to_have_attribute("data-status", "paused")
    expect(row.get_by_test_id("batch-status")).to_have_text("paused")
    expect(row.get_by_test_id("batch-queue-position")).to_have_text("-")
    expect(page.get_by_test_id("batch-stop")).to_be_disabled()
    expect(page.get_by_test_id("batch-resume")).to_be_enabled()
    page.shoot("paused")

    # Paused means no more progress (requests already in flight may still land).
    paused = live.wait_batch(batch_id, lambda b: b["in_flight_profiles"] == 0, timeout=15)
    assert paused["completed_profiles"] < total
    holds_for(
        lambda: live.batch(batch_id)["completed_profiles"] == paused["completed_profiles"],
        seconds=1.0,
        what="no progress while paused",
    )
    still = live.batch(batch_id)
    assert still["status"] == "paused"
    expect(row.get_by_test_id("batch-progress")).to_contain_text(
        f"{still['completed_profiles']}/{total}"
    )

    # Resume (with the pacing off again) and watch it finish.
    live.settings(min_request_interval=0)
    page.get_by_test_id("batch-resume").click()
    expect(row).to_have_attribute("data-status", re.compile(r"^(queued|in_progress|done)$"))
    expect(row).to_have_attribute("data-status", "done", timeout=BATCH_TIMEOUT_MS)
    expect(row.get_by_test_id("batch-progress")).to_contain_text(f"{total}/{total}")
    assert live.batch(batch_id)["completed_profiles"] == total
    assert_not_reloaded(page)


def test_reorder_two_queued_batches(page: Page, live: Stack) -> None:
    # A slow engine keeps the first batch running, so the other two wait in the queue.
    live.settings(min_request_interval=30)
    running = live.create_batch(live.niche_with_profiles(200, "Head")["id"])
    first = live.create_batch(live.niche_with_profiles(3, "First")["id"])
    second = live.create_batch(live.niche_with_profiles(3, "Second")["id"])
    assert running["status"] == "in_progress", running
    assert (first["status"], first["queue_position"]) == ("queued", 1)
    assert (second["status"], second["queue_position"]) == ("queued", 2)

    page.goto("/batches")
    wait_live(page)
    rows = page.get_by_test_id("batch-row")
    expect(rows).to_have_count(3)
    head, one, two = (batch_row(page, b["id"]) for b in (running, first, second))
    expect(head.get_by_test_id("batch-queue-position")).to_have_text("0 (Running)")
    expect(one.get_by_test_id("batch-queue-position")).to_have_text("#1")
    expect(two.get_by_test_id("batch-queue-position")).to_have_text("#2")

    def queue_from_api() -> dict[str, int]:
        return {b["id"]: b["queue_position"] for b in live.batches() if b["status"] == "queued"}

    # Move the second one up: the two swap places, on screen and on the server.
    select_batch(two)
    expect(page.get_by_test_id("batch-move-down")).to_be_disabled()
    page.get_by_test_id("batch-move-up").click()
    expect(two.get_by_test_id("batch-queue-position")).to_have_text("#1")
    expect(one.get_by_test_id("batch-queue-position")).to_have_text("#2")
    expect(rows.nth(1)).to_have_attribute("data-batch-id", second["id"])
    expect(rows.nth(2)).to_have_attribute("data-batch-id", first["id"])
    # The screen moves at once; the server's order follows when its answer arrives.
    wait_until(
        lambda: queue_from_api() == {second["id"]: 1, first["id"]: 2},
        timeout=5,
        what="the server keeps the new order",
    )
    expect(page.get_by_test_id("batch-move-up")).to_be_disabled()
    page.shoot("moved up")

    # And back down.
    page.get_by_test_id("batch-move-down").click()
    expect(one.get_by_test_id("batch-queue-position")).to_have_text("#1")
    expect(two.get_by_test_id("batch-queue-position")).to_have_text("#2")
    expect(rows.nth(1)).to_have_attribute("data-batch-id", first["id"])
    wait_until(
        lambda: queue_from_api() == {first["id"]: 1, second["id"]: 2},
        timeout=5,
        what="the server keeps the order moved back",
    )
    expect(head).to_have_attribute("data-status", "in_progress")

    # A reload shows the order the server keeps.
    page.reload()
    expect(page.get_by_test_id("batch-row")).to_have_count(3)
    expect(one.get_by_test_id("batch-queue-position")).to_have_text("#1")
    expect(two.get_by_test_id("batch-queue-position")).to_have_text("#2")


def test_delete_a_batch(page: Page, live: Stack) -> None:
    keep = live.create_batch(live.niche_with_profiles(3, "Keep")["id"])
    live.wait_batch(keep["id"], lambda b: b["status"] == "done")
    gone = live.create_batch(live.niche_with_profiles(3, "Gone")["id"])
    live.wait_batch(gone["id"], lambda b: b["status"] == "done")

    page.goto("/batches")
    expect(page.get_by_test_id("batch-row")).to_have_count(2)
    row = batch_row(page, gone["id"])
    select_batch(row)
    expect(page.get_by_test_id("batch-selection-count")).to_have_text("1 selected")
    page.get_by_test_id("batch-delete").click()

    expect(row).to_have_count(0)
    expect(page.get_by_test_id("batch-row")).to_have_count(1)
    expect(batch_row(page, keep["id"])).to_be_visible()
    expect(page.get_by_test_id("batch-selection-count")).to_have_text("0 selected")
    assert page.dialogs == ["Delete 1 batch? Their results and logs are deleted too."]
    assert [b["id"] for b in live.batches()] == [keep["id"]]
    assert live.api.get(f"/api/batches/{gone['id']}").status_code == 404


def test_batch_logs_with_paging(page: Page, live: Stack) -> None:
    # Enough profiles for more than one page of 50 log rows (a STORY_FOUND row per story).
    total = 120
    batch = live.create_batch(live.niche_with_profiles(total, "Logs")["id"])
    live.wait_batch(batch["id"], lambda b: b["status"] == "done")
    log_total = live.call("GET", f"/batches/{batch['id']}/logs", params={"limit": 1})["total"]
    assert log_total > 0

    page.goto("/batches")
    row = batch_row(page, batch["id"])
    row.get_by_test_id("batch-logs").click()
    modal = page.get_by_test_id("batch-log-modal")
    expect(modal).to_be_visible()
    logs = modal.get_by_test_id("log-row")
    expect(logs).to_have_count(min(50, log_total))
    pager_range = modal.get_by_test_id("log-pager-range")
    expect(pager_range).to_have_text(f"1–{min(50, log_total)} of {log_total}")
    # Newest first: the batch's end is on top, its first state change far below.
    expect(logs.first).to_have_attribute("data-event-type", re.compile("BATCH_END|STATE_CHANGE"))
    page.shoot("log page 1")

    if log_total > 50:
        modal.get_by_role("button", name="Next page").click()
        expect(pager_range).to_have_text(f"51–{min(100, log_total)} of {log_total}")
        expect(logs).to_have_count(min(50, log_total - 50))
        page.shoot("log page 2")
        modal.get_by_role("button", name="First page").click()
        expect(pager_range).to_have_text(f"1–50 of {log_total}")

    # Filter by event type: only that type is listed, as many as the API counts.
    state_changes = live.call(
        "GET", f"/batches/{batch['id']}/logs", params={"event_type": "STATE_CHANGE"}
    )["total"]
    assert state_changes >= 1
    modal.get_by_test_id("log-event-filter").select_option("STATE_CHANGE")
    expect(logs).to_have_count(min(50, state_changes))
    expect(pager_range).to_have_text(f"1–{min(50, state_changes)} of {state_changes}")
    for index in range(logs.count()):
        expect(logs.nth(index)).to_have_attribute("data-event-type", "STATE_CHANGE")

    page.keyboard.press("Escape")
    expect(modal).to_have_count(0)


def test_batch_created_elsewhere_appears_live(page: Page, live: Stack) -> None:
    niche = live.niche_with_profiles(10, "Live")
    page.goto("/batches")
    wait_live(page)
    mark_page(page)
    expect(page.get_by_test_id("batches-empty")).to_be_visible()

    # Created through the API (another tab, the CLI, the auto-trigger): arrives by SSE.
    batch = live.create_batch(niche["id"])
    row = batch_row(page, batch["id"])
    expect(row).to_be_visible()
    expect(row).to_contain_text(niche["name"])
    expect(row).to_have_attribute("data-status", "done", timeout=BATCH_TIMEOUT_MS)
    expect(row.get_by_test_id("batch-progress")).to_contain_text("10/10")

    # Deleted elsewhere: gone from the page too.
    live.call("DELETE", "/batches", json={"batch_ids": [batch["id"]]})
    expect(row).to_have_count(0)
    expect(page.get_by_test_id("batches-empty")).to_be_visible()
    expect(page.get_by_test_id("stream-mode")).to_have_text("Live")
    assert_not_reloaded(page)
