"""Messages that belong to what raised them, in Chromium against the live server.

A banner goes away when the user leaves its page or when the same action succeeds; inline edits
(niche rename, new niche, a dashboard target) keep what was typed and show the server's own
reason next to it, and say "saved" when saved.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import SKIP_REASON, Stack
from tests.browser.ui import open_niche, plain_cell

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON or "")]

if not SKIP_REASON:
    from playwright.sync_api import Page, expect


def test_banner_clears_on_success_and_on_navigation(page: Page, live: Stack) -> None:
    source = live.niche_with_profiles(3, "From")
    gone = live.new_niche("Gone")
    kept = live.new_niche("Kept")
    page.goto("/niches")
    open_niche(page, source["name"])
    rows = page.get_by_test_id("profile-row")
    expect(rows).to_have_count(3)
    plain_cell(rows.nth(0)).click()
    page.get_by_test_id("bulk-niche-select").select_option(gone["id"])
    # The target niche is deleted elsewhere before the move is sent: the server refuses it.
    live.call("DELETE", f"/niches/{gone['id']}")
    page.get_by_test_id("bulk-niche-apply").click()
    banner = page.get_by_test_id("error-banner")
    expect(banner).to_contain_text(f"Niche {gone['id']} not found")
    page.shoot("banner")  # type: ignore[attr-defined]

    # The same action succeeding takes its error away.
    page.get_by_test_id("bulk-niche-select").select_option(kept["id"])
    page.get_by_test_id("bulk-niche-apply").click()
    expect(page.get_by_test_id("notice").filter(has_text="Updated 1 profile")).to_be_visible()
    expect(banner).to_have_count(0)

    # A new failure stays on its page only: the next page starts clean, and so does the return.
    plain_cell(rows.nth(0)).click()
    page.get_by_test_id("bulk-niche-select").select_option(kept["id"])
    live.call("DELETE", f"/niches/{kept['id']}")
    page.get_by_test_id("bulk-niche-apply").click()
    expect(banner).to_contain_text(f"Niche {kept['id']} not found")
    page.get_by_test_id("nav-batches").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Batches")
    expect(banner).to_have_count(0)
    page.get_by_test_id("nav-niche-feed").click()
    expect(page.get_by_test_id("niche-item").first).to_be_visible()
    expect(banner).to_have_count(0)
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]


def test_refused_rename_keeps_the_typed_name(page: Page, live: Stack) -> None:
    first = live.new_niche("Taken")
    second = live.new_niche("Mine")
    page.goto("/niches")
    item = page.locator(f'[data-testid="niche-item"][data-niche-id="{second["id"]}"]')
    item.get_by_test_id("niche-rename").click()
    box = item.get_by_test_id("niche-rename-input")
    box.fill(first["name"])
    box.press("Enter")
    # The server's reason, next to the box that still holds what was typed; no page banner.
    expect(item.get_by_test_id("niche-rename-error")).to_have_text("Niche already exists")
    expect(box).to_have_value(first["name"])
    expect(box).to_be_focused()
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("error-banner")).to_have_count(0)
    assert live.call("GET", f"/niches/{second['id']}")["name"] == second["name"]
    page.shoot("rename-refused")  # type: ignore[attr-defined]

    # Corrected and saved: the box closes, the new name shows with "saved".
    renamed = live.unique_name("Mine")
    box.fill(renamed)
    box.press("Enter")
    expect(item.get_by_test_id("niche-name")).to_have_text(renamed)
    expect(item.get_by_test_id("niche-saved")).to_have_text("saved")
    expect(item.get_by_test_id("niche-rename-error")).to_have_count(0)
    page.shoot("rename-saved")  # type: ignore[attr-defined]

    # Adding a niche under a taken name keeps the name in the box, with the reason under it.
    add = page.get_by_test_id("add-niche-input")
    add.fill(first["name"])
    page.get_by_test_id("add-niche-button").click()
    expect(page.get_by_test_id("add-niche-error")).to_have_text("Niche already exists")
    expect(add).to_have_value(first["name"])
    expect(page.get_by_test_id("error-banner")).to_have_count(0)


def test_dashboard_target_says_saved_and_keeps_a_refused_value(page: Page, live: Stack) -> None:
    niche = live.new_niche("Target")
    page.goto("/dashboard")
    row = page.get_by_test_id("dashboard-niche").filter(has_text=niche["name"])
    box = row.get_by_test_id("target-input")
    box.fill("-3")
    box.press("Enter")
    expect(row.get_by_test_id("target-error")).to_have_text("Enter a whole number, 0 or more")
    expect(box).to_have_value("-3")

    # Out of the server's range: its message, the typed value kept.
    box.fill("99999999")
    box.press("Enter")
    expect(row.get_by_test_id("target-error")).to_contain_text("daily_story_target must be within")
    expect(box).to_have_value("99999999")
    page.shoot("target-refused")  # type: ignore[attr-defined]

    box.fill("12")
    box.press("Enter")
    expect(row.get_by_test_id("target-saved")).to_have_text("saved: 12")
    page.shoot("target-saved")  # type: ignore[attr-defined]
    expect(row.get_by_test_id("target-error")).to_have_count(0)
    expect(row.get_by_test_id("dashboard-niche-numbers")).to_have_text("0 / 12")
    assert live.call("GET", f"/niches/{niche['id']}")["daily_story_target"] == 12
