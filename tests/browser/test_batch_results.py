"""The batch results dialog in a real browser: every account with a story, and the failed ones
with their reasons, for a 600-profile batch checked by the live engine."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import SKIP_REASON, Stack
from tests.browser.ui import batch_row, result_usernames, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON or "")]

if not SKIP_REASON:
    from playwright.sync_api import Page, expect

PROFILES = 600
BATCH_SECONDS = 240


def test_results_dialog_lists_every_story_and_the_failed_accounts(page: Page, live: Stack) -> None:
    names = live.usernames(PROFILES, "res")
    niche = live.new_niche("Results")
    live.import_usernames(niche["id"], names)
    # The simulator's truth stays put while the batch runs, so it can referee the list.
    live.sim.set_clock(frozen_at=live.sim.now())
    try:
        batch = live.create_batch(niche["id"])
        batch = live.wait_batch(batch["id"], lambda b: b["status"] == "done", BATCH_SECONDS)
        truth = {name: live.sim.truth(name) for name in names}
    finally:
        live.sim.set_clock(frozen_at=None)
    stories = batch["stories_found"]
    failed = batch["checks_failed"]
    # Private accounts may have a story too, but no checking session follows them: unknown.
    with_story = {n for n, t in truth.items() if t["has_story"] and not t["is_private"]}
    assert stories == len(with_story)
    assert failed > 0, "the simulated world has missing accounts; some checks must fail"

    page.goto("/batches")
    wait_live(page)
    row = batch_row(page, batch["id"])
    expect(row.get_by_test_id("batch-stories")).to_have_text(f"{stories:,}")
    expect(row.get_by_test_id("batch-failed")).to_have_text(f"{failed:,}")

    # "Stories found" opens every account with a story: the count equals the list's length.
    row.get_by_test_id("batch-stories").click()
    dialog = page.get_by_test_id("batch-results-modal")
    expect(dialog.get_by_test_id("results-tab-story")).to_have_attribute("aria-selected", "true")
    expect(dialog.get_by_test_id("results-story-count")).to_have_text(f"{stories:,}")
    expect(dialog.get_by_test_id("results-pager-range")).to_contain_text(f"of {stories:,}")
    listed = result_usernames(page)
    assert len(listed) == stories
    assert set(listed) == with_story
    first = dialog.get_by_test_id("result-row").first
    expect(first).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d"))
    page.shoot("stories")

    # Search narrows the list.
    one = listed[0]
    dialog.get_by_test_id("results-search").fill(one)
    expect(dialog.get_by_test_id("result-row")).to_have_count(1)
    expect(dialog.get_by_test_id("result-row")).to_have_attribute("data-username", one)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)

    # "Failed" opens the failed accounts with their reasons.
    row.get_by_test_id("batch-failed").click()
    expect(dialog.get_by_test_id("results-tab-failed")).to_have_attribute("aria-selected", "true")
    expect(dialog.get_by_test_id("results-pager-range")).to_contain_text(f"of {failed:,}")
    failed_names = result_usernames(page)
    assert len(failed_names) == failed
    missing = {n for n, t in truth.items() if not t["exists"]}
    assert missing <= set(failed_names)
    gone = dialog.locator(f'[data-testid="result-row"][data-username="{sorted(missing)[0]}"]')
    if gone.count() == 0:
        dialog.get_by_test_id("results-search").fill(sorted(missing)[0])
    expect(gone.get_by_test_id("result-label")).to_have_text("not found")
    page.shoot("failed")

    # Private accounts are "unknown", never "no story".
    private = {
        n
        for n, t in truth.items()
        if t["exists"] and t["is_private"] and not t.get("business_deleted")
    }
    dialog.get_by_test_id("results-search").fill("")
    dialog.get_by_test_id("results-tab-private").click()
    expect(dialog.get_by_test_id("results-tab-private")).to_have_attribute("aria-selected", "true")
    expect(dialog.get_by_test_id("results-pager-range")).to_contain_text(f"of {len(private):,}")
    expect(dialog.get_by_test_id("result-label").first).to_have_text("private (unknown)")
    assert set(result_usernames(page)) == private
    assert not page.js_errors, page.js_errors
