"""Every page and dialog on a phone (390x844) in Chromium, against the live stack.

The page itself never scrolls sideways (`document.documentElement.scrollWidth <= 390`): the tabs
are a strip that scrolls inside the header, wide tables scroll inside their own box or become
cards, and the main buttons of each page lie inside the screen. Dialogs fit the screen; the
pair error log wraps long messages instead of scrolling sideways, at phone and desktop width.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import SKIP_REASON, Stack
from tests.browser.ui import (
    DESKTOP,
    PHONE,
    assert_dialog_fits,
    assert_inside_viewport,
    batch_row,
    open_niche,
    page_width,
    visit,
)
from tests.browser.world import PAGES, TRANSITION, add_error_logs, checked_niche

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON or "")]

if not SKIP_REASON:
    from playwright.sync_api import Page, expect

def test_every_page_fits_a_phone(page: Page, live: Stack) -> None:
    niche, _ = checked_niche(live)
    page.set_viewport_size(PHONE)
    for path, heading, buttons in PAGES:
        visit(page, path, heading, niche["name"])
        assert page_width(page) <= PHONE["width"], f"{path}: the page is {page_width(page)} px wide"
        for test_id in buttons:
            assert_inside_viewport(page, page.get_by_test_id(test_id).first, f"{path} {test_id}")
        # The header is whole: as wide as the screen, its tab strip scrolling inside it.
        header = page.locator("header.topbar").bounding_box()
        assert header is not None and header["width"] == PHONE["width"]
        assert_inside_viewport(page, page.get_by_test_id("alert-bell"), f"{path} alert bell")
        page.shoot(f"phone{path.replace('/', '-')}")  # type: ignore[attr-defined]


def test_tabs_strip_reaches_every_page_on_a_phone(page: Page, live: Stack) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/")
    strip = page.locator("nav.topnav")
    # Seven tabs do not fit 390 px: the strip scrolls, the page does not.
    assert strip.evaluate("n => n.scrollWidth > n.clientWidth")
    for test_id, path in (("nav-alerts", "/alerts"), ("nav-stories", "/"), ("nav-dashboard", "/dashboard")):
        page.get_by_test_id(test_id).click()
        expect(page).to_have_url(f"{live.base_url}{path}")
        # The current tab is scrolled into the strip's view.
        expect(page.get_by_test_id(test_id)).to_be_in_viewport()
        assert page_width(page) <= PHONE["width"]


def test_dialogs_fit_a_phone(page: Page, live: Stack) -> None:
    niche, batch = checked_niche(live)
    proxy = live.call("GET", "/proxies")[0]
    add_error_logs(live, proxy["id"], 6)
    page.set_viewport_size(PHONE)

    page.goto("/batches")
    row = batch_row(page, batch["id"])
    row.get_by_test_id("batch-logs").click()
    dialog = page.get_by_test_id("batch-log-modal")
    expect(dialog.get_by_test_id("log-row").first).to_be_visible()
    assert_dialog_fits(page, dialog, "batch log")
    page.shoot("phone-batch-log")  # type: ignore[attr-defined]
    dialog.get_by_role("button", name="Close").click()

    row.get_by_test_id("batch-stories").click()
    dialog = page.get_by_test_id("batch-results-modal")
    expect(dialog.get_by_test_id("result-row").first).to_be_visible()
    # Its table of seven columns scrolls inside its own box; the dialog does not.
    assert_dialog_fits(page, dialog, "batch results", sideways_ok=True)
    dialog.get_by_role("button", name="Close").click()

    page.goto("/niches")
    open_niche(page, niche["name"])
    page.get_by_role("button", name="posted").first.click()
    dialog = page.get_by_test_id("story-history-modal")
    expect(dialog.get_by_test_id("story-window").first).to_be_visible()
    assert_dialog_fits(page, dialog, "story history")
    dialog.get_by_role("button", name="Close").click()

    page.goto("/proxies")
    pair = page.locator(f'[data-testid="proxy-row"][data-proxy-id="{proxy["id"]}"]')
    pair.get_by_test_id("proxy-replace-session").click()
    dialog = page.get_by_test_id("replace-session-modal")
    assert_dialog_fits(page, dialog, "replace session")
    dialog.get_by_role("button", name="Cancel").click()

    shown = len(live.call("GET", f"/proxies/{proxy['id']}/error-logs", params={"limit": 20})["logs"])
    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        pair.get_by_test_id("proxy-errors").click()
        dialog = page.get_by_test_id("proxy-error-modal")
        expect(dialog.get_by_test_id("proxy-error-row")).to_have_count(shown)
        # Every column is on screen: the long message wraps, nothing scrolls sideways.
        expect(dialog).to_contain_text(TRANSITION)
        assert_dialog_fits(page, dialog, f"pair error log at {viewport['width']} px")
        page.shoot(f"pair-errors-{viewport['width']}")  # type: ignore[attr-defined]
        dialog.get_by_role("button", name="Close").click()
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]
