"""Small Playwright helpers shared by the browser tests (what a user clicks, what they see)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page


def open_niche(page: Page, name: str) -> None:
    """Show one niche in the feed by clicking it in the sidebar.

    The click is made again (at most twice) when it did not select the niche: on a loaded
    machine the profile table can still be growing the page while the click is aimed at a
    sidebar item that had to be scrolled into view, and the click then lands beside it (seen
    in CI: the niche unselected, nothing else selected).
    """
    from playwright.sync_api import expect

    item = page.get_by_test_id("niche-item").filter(has_text=name)
    selected = re.compile(r"\bselected\b")
    for _ in range(2):
        item.get_by_test_id("niche-name").click()
        try:
            expect(item).to_have_class(selected, timeout=3_000)
            break
        except AssertionError:
            continue
    else:
        item.get_by_test_id("niche-name").click()
    expect(item).to_have_class(selected)
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def plain_cell(row: Locator) -> Locator:
    """A profile row's Niche cell: no checkbox, link or button in it, so a click selects the row."""
    return row.locator("td").nth(2)


def batch_cell(row: Locator) -> Locator:
    """A batch row's Niche cell (plain text): a click there selects the row."""
    return row.locator("td").nth(1)


def batch_row(page: Page, batch_id: str) -> Locator:
    return page.locator(f'[data-testid="batch-row"][data-batch-id="{batch_id}"]')


def select_batch(row: Locator) -> None:
    """Click a batch row: selects only this row."""
    from playwright.sync_api import expect

    batch_cell(row).click()
    expect(row).to_have_attribute("aria-selected", "true")


def mark_page(page: Page) -> None:
    """Tag the loaded document; `assert_not_reloaded` fails if the page was loaded again."""
    page.evaluate("window.__storycheckNoReload = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__storycheckNoReload === true"), "the page was reloaded"


def wait_live(page: Page) -> None:
    """Wait until the event stream is connected (the badge says Live)."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stream-mode")).to_have_text("Live")


def story_usernames(page: Page) -> set[str]:
    """Every username on "Stories now" (after "Load more" until all rows are loaded)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    more = page.get_by_test_id("stories-load-more")
    while more.count():
        shown = page.get_by_test_id("story-row").count()
        try:
            more.click(timeout=3000)
        except PlaywrightTimeout:
            continue  # the list was reloaded by a live update meanwhile: look again
        expect(page.get_by_test_id("story-row")).not_to_have_count(shown)
    names = page.get_by_test_id("story-row").evaluate_all(
        "rows => rows.map(r => r.dataset.username)"
    )
    return set(names)


def result_usernames(page: Page) -> list[str]:
    """Every username in the open results dialog's current tab, page after page."""
    from playwright.sync_api import expect

    dialog = page.get_by_test_id("batch-results-modal")
    names: list[str] = []
    while True:
        rows = dialog.get_by_test_id("result-row")
        names += rows.evaluate_all("rows => rows.map(r => r.dataset.username)")
        following = dialog.get_by_role("button", name="Next page")
        if following.is_disabled():
            return names
        first = rows.first.get_attribute("data-username")
        following.click()
        expect(rows.first).not_to_have_attribute("data-username", first or "")


def no_horizontal_scroll(page: Page) -> bool:
    """True when the page itself does not scroll sideways (tables scroll inside their box)."""
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


# --------------------------------------------------------------------------------------------
# Small screens and accessibility
# --------------------------------------------------------------------------------------------

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

# axe-core comes with the client's dev dependencies (`make client` runs `npm ci`).
AXE_SOURCE = Path(__file__).resolve().parents[2] / "client" / "node_modules" / "axe-core" / "axe.min.js"

_AXE_RUN = """async (impacts) => {
  const result = await axe.run(document, { resultTypes: ['violations'] })
  return result.violations
    .filter((v) => impacts.includes(v.impact))
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' :: ' + (n.failureSummary || '')),
    }))
}"""


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; its violations of the given impacts.

    The script is evaluated through the DevTools protocol, so the server's Content Security
    Policy (no inline scripts) does not block it and the page itself stays unchanged.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE.read_text(encoding="utf-8") + "\n;undefined")
    return list(page.evaluate(_AXE_RUN, list(impacts)))


def assert_accessible(page: Page, where: str) -> None:
    """No serious or critical axe-core violation on the page (the message lists them)."""
    found = axe_violations(page)
    lines = [f"{v['impact']} {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in found]
    assert not found, f"axe on {where}:\n" + "\n".join(lines)


def visit(page: Page, path: str, heading: str | None, niche_name: str) -> None:
    """Open one page of `world.PAGES` and wait until its content (not just its frame) shows."""
    from playwright.sync_api import expect

    page.goto(path)
    if path == "/niches":
        open_niche(page, niche_name)
        expect(page.get_by_test_id("profile-row").first).to_be_visible()
    else:
        expect(page.get_by_role("heading", level=1)).to_have_text(heading or "")
    shown = {"/": "story-row", "/batches": "batch-row", "/dashboard": "dashboard-niche"}
    if path in shown:
        expect(page.get_by_test_id(shown[path]).first).to_be_visible()


def page_width(page: Page) -> int:
    """How wide the document is (wider than the viewport = the page scrolls sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth"))


def assert_inside_viewport(page: Page, locator: Locator, what: str) -> None:
    """The element, scrolled into view, lies within the viewport's width (it can be reached)."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    viewport = page.viewport_size
    assert box is not None and viewport is not None, f"{what} is not rendered"
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 0.5, (
        f"{what} sits at x={box['x']:.0f}..{box['x'] + box['width']:.0f}, "
        f"outside the {viewport['width']} px viewport"
    )


def assert_dialog_fits(page: Page, dialog: Locator, what: str, sideways_ok: bool = False) -> None:
    """An open dialog lies inside the viewport and (unless `sideways_ok`, for a wide table that
    scrolls in its own box) nothing in it scrolls sideways."""
    box = dialog.bounding_box()
    viewport = page.viewport_size
    assert box is not None and viewport is not None, f"{what} is not rendered"
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 0.5, (what, box)
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] + 0.5, (what, box)
    assert page_width(page) <= viewport["width"], f"{what}: the page scrolls sideways"
    if sideways_ok:
        return
    sideways = dialog.evaluate(
        """d => [...d.querySelectorAll('*')]
              .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible')
              .map(e => e.className || e.tagName)"""
    )
    assert not sideways, f"{what}: these parts scroll sideways: {sideways}"
