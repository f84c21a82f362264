"""The profile table in a real browser: story times named apart, the live dot, and accounts
Instagram reported as not found (label, filter, clear, export)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import BATCH_TIMEOUT_MS, SKIP_REASON, Stack
from tests.browser.ui import open_niche

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON or "")]

if not SKIP_REASON:
    from playwright.sync_api import Page, expect


def test_not_found_accounts_are_labelled_filtered_cleared_and_exported(
    page: Page, live: Stack
) -> None:
    names = live.usernames(80, "pt")
    # A few accounts that do not exist, whatever the draw of the generated names.
    names += live.sim.state.truth.usernames(3, kind="missing", prefix=f"{names[0][:-4]}m")
    niche = live.new_niche("Profiles")
    live.import_usernames(niche["id"], names)
    batch = live.create_batch(niche["id"])
    live.wait_batch(batch["id"], lambda b: b["status"] == "done", BATCH_TIMEOUT_MS / 1000)
    missing = sorted(n for n in names if not live.sim.truth(n)["exists"])
    assert missing, "the simulated world has missing accounts"

    page.goto("/niches")
    open_niche(page, niche["name"])
    headers = page.get_by_test_id("profile-table").locator("thead th")
    for name in ("Posted", "Expires in", "Checked"):
        expect(headers.filter(has_text=name)).to_have_count(1)
    expect(headers.filter(has_text="Last story")).to_have_count(0)

    # A live story: red dot (with words for screen readers), posted and expires in filled.
    page.get_by_test_id("story-filter").select_option("live")
    live_row = page.get_by_test_id("profile-row").first
    expect(live_row.get_by_test_id("story-dot-live")).to_have_text("live story")
    expect(live_row.get_by_test_id("profile-posted")).to_have_text(re.compile(r"ago$"))
    expect(live_row.get_by_test_id("profile-expires")).to_have_text(re.compile(r"^\d+(h|m|s)"))
    # Its posted time opens the account's story history (windows, newest first).
    live_row.get_by_test_id("profile-posted").click()
    history = page.get_by_test_id("story-history-modal")
    expect(history.get_by_test_id("story-window").first).to_contain_text("live")
    history.get_by_role("button", name="Close").click()
    expect(history).to_have_count(0)
    page.get_by_test_id("story-filter").select_option("any")

    # Not found: its own label and filter; never the green "active".
    page.get_by_test_id("not-found-filter").select_option("true")
    rows = page.get_by_test_id("profile-row")
    expect(rows).to_have_count(len(missing))
    expect(rows.get_by_test_id("profile-not-found")).to_have_count(len(missing))
    expect(rows.filter(has_text="active")).to_have_count(0)
    shown = rows.evaluate_all("rows => rows.map(r => r.querySelector('a').textContent)")
    assert sorted(shown) == missing
    page.shoot("not found")

    # Export CSV carries the filters.
    href = page.get_by_test_id("profiles-export-csv").get_attribute("href") or ""
    assert "not_found=true" in href and f"niche_id={niche['id']}" in href
    exported = live.api.get(href)
    assert exported.status_code == 200
    assert all(n in exported.text for n in missing)
    assert not any(n in exported.text for n in set(names) - set(missing))

    # Clear not-found on one of them: it leaves the filtered list.
    rows.first.get_by_role("checkbox").check()
    page.get_by_test_id("clear-not-found").click()
    expect(rows).to_have_count(len(missing) - 1)
    assert not page.js_errors, page.js_errors
