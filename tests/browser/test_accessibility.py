"""axe-core on every page and dialog, at desktop and phone width, in Chromium; dialogs keep the
keyboard inside them and give the focus back; the story dot says what it shows.

axe-core is a dev dependency of the client (`make client` installs it); its script is evaluated
in the page under test, and every serious or critical violation fails the test.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import SKIP_REASON, Stack
from tests.browser.ui import (
    AXE_SOURCE,
    DESKTOP,
    PHONE,
    assert_accessible,
    batch_row,
    open_niche,
    select_batch,
    visit,
)
from tests.browser.world import PAGES, add_error_logs, checked_niche

AXE_MISSING = None if AXE_SOURCE.exists() else f"{AXE_SOURCE} is missing: run `make client`"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON or ""),
    pytest.mark.skipif(bool(AXE_MISSING), reason=AXE_MISSING or ""),
]

if not SKIP_REASON:
    from playwright.sync_api import Page, expect


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_page_and_dialog_passes_axe(page: Page, live: Stack, viewport: dict[str, int]) -> None:
    niche, batch = checked_niche(live)
    proxy = live.call("GET", "/proxies")[0]
    add_error_logs(live, proxy["id"], 2)
    page.set_viewport_size(viewport)
    width = viewport["width"]

    for path, heading, _ in PAGES:
        visit(page, path, heading, niche["name"])
        assert_accessible(page, f"{path} at {width} px")

    # The states that only appear after a click: a selected batch, the dialogs, the bell.
    page.goto("/batches")
    row = batch_row(page, batch["id"])
    select_batch(row)
    assert_accessible(page, f"/batches with a selection at {width} px")
    row.get_by_test_id("batch-logs").click()
    expect(page.get_by_test_id("log-row").first).to_be_visible()
    assert_accessible(page, f"the batch log at {width} px")
    page.keyboard.press("Escape")
    row.get_by_test_id("batch-stories").click()
    expect(page.get_by_test_id("result-row").first).to_be_visible()
    assert_accessible(page, f"the batch results at {width} px")
    page.keyboard.press("Escape")

    page.goto("/niches")
    open_niche(page, niche["name"])
    page.get_by_role("button", name="posted").first.click()
    expect(page.get_by_test_id("story-window").first).to_be_visible()
    assert_accessible(page, f"the story history at {width} px")
    page.keyboard.press("Escape")

    page.goto("/proxies")
    pair = page.locator(f'[data-testid="proxy-row"][data-proxy-id="{proxy["id"]}"]')
    pair.get_by_test_id("proxy-errors").click()
    expect(page.get_by_test_id("proxy-error-row").first).to_be_visible()
    assert_accessible(page, f"the pair error log at {width} px")
    page.keyboard.press("Escape")
    pair.get_by_test_id("proxy-replace-session").click()
    expect(page.get_by_test_id("replace-session-modal")).to_be_visible()
    assert_accessible(page, f"the replace-session dialog at {width} px")
    page.keyboard.press("Escape")

    page.get_by_test_id("alert-bell").click()
    expect(page.get_by_test_id("alert-bell-panel")).to_be_visible()
    assert_accessible(page, f"the alert bell at {width} px")
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]


def test_dialog_keeps_the_keyboard_inside_and_gives_focus_back(page: Page, live: Stack) -> None:
    _, batch = checked_niche(live)
    page.goto("/batches")
    opener = batch_row(page, batch["id"]).get_by_test_id("batch-logs")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_test_id("batch-log-modal")
    expect(dialog).to_be_focused()
    inside = "el => el.closest('[role=dialog]') !== null"
    # More presses than the dialog has controls, both ways: the focus never leaves it.
    for key in ["Tab"] * 12 + ["Shift+Tab"] * 12:
        page.keyboard.press(key)
        assert page.evaluate(f"({inside})(document.activeElement)"), f"focus left after {key}"
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(opener).to_be_focused()


def test_story_dot_has_a_text_alternative(page: Page, live: Stack) -> None:
    niche, _ = checked_niche(live)
    page.goto("/niches")
    open_niche(page, niche["name"])
    live_row = page.get_by_test_id("profile-row").filter(has=page.get_by_test_id("story-dot-live"))
    expect(live_row.first.get_by_role("img", name="live story", exact=True)).to_have_count(1)
    quiet_row = page.get_by_test_id("profile-row").filter(has=page.get_by_test_id("story-dot"))
    expect(quiet_row.first.get_by_role("img", name="no live story", exact=True)).to_have_count(1)


def test_messages_pass_axe(page: Page, live: Stack) -> None:
    """The banner, the inline errors and the "saved" marks, shown all at once, at phone width."""
    source = live.niche_with_profiles(2, "Msg")
    taken = live.new_niche("Taken")
    gone = live.new_niche("Gone")
    page.set_viewport_size(PHONE)
    page.goto("/niches")
    open_niche(page, source["name"])
    page.get_by_test_id("profile-row").first.get_by_role("checkbox").check()
    page.get_by_test_id("bulk-niche-select").select_option(gone["id"])
    live.call("DELETE", f"/niches/{gone['id']}")
    page.get_by_test_id("bulk-niche-apply").click()
    expect(page.get_by_test_id("error-banner")).to_be_visible()
    item = page.locator(f'[data-testid="niche-item"][data-niche-id="{source["id"]}"]')
    item.get_by_test_id("niche-rename").click()
    item.get_by_test_id("niche-rename-input").fill(taken["name"])
    item.get_by_test_id("niche-rename-input").press("Enter")
    expect(item.get_by_test_id("niche-rename-error")).to_be_visible()
    page.get_by_test_id("add-niche-input").fill(taken["name"])
    page.get_by_test_id("add-niche-button").click()
    expect(page.get_by_test_id("add-niche-error")).to_be_visible()
    assert_accessible(page, "the Niche Feed with a banner and inline errors")

    page.goto("/dashboard")
    row = page.get_by_test_id("dashboard-niche").filter(has_text=taken["name"])
    row.get_by_test_id("target-input").fill("7")
    row.get_by_test_id("target-input").press("Enter")
    expect(row.get_by_test_id("target-saved")).to_be_visible()
    other = page.get_by_test_id("dashboard-niche").filter(has_text=source["name"])
    other.get_by_test_id("target-input").fill("-1")
    other.get_by_test_id("target-input").press("Enter")
    expect(other.get_by_test_id("target-error")).to_be_visible()
    assert_accessible(page, "the dashboard with a saved and a refused target")
