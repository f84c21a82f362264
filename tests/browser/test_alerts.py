"""The Alerts page and the header bell in Chromium, at 1280 and 390 px, against the live stack."""

from __future__ import annotations

import pytest

from tests.browser.conftest import BATCH_TIMEOUT_MS, SKIP_REASON, Stack
from tests.helpers import free_port

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON or "")]

if not SKIP_REASON:
    from playwright.sync_api import Page, expect


def _no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


@pytest.mark.parametrize("width", [1280, 390])
def test_alerts_page_send_test_and_bell(page: Page, live: Stack, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 844})
    dead_port = free_port()
    name = live.unique_name("Hook")
    channel = live.call("POST", "/alerts/channels", json={
        "name": name, "kind": "webhook", "secret": "never-shown-in-the-page",
        "config": {"url": f"http://127.0.0.1:{dead_port}/hook", "timeout_seconds": 2,
                   "max_attempts": 1},
    })
    try:
        niche = live.niche_with_profiles(5, "Alerted")
        batch = live.create_batch(niche["id"])
        live.wait_batch(batch["id"], lambda b: b["status"] == "done", timeout=BATCH_TIMEOUT_MS / 1000)

        page.goto("/alerts")
        card = page.get_by_test_id("channel-row").filter(has_text=name)
        expect(card.get_by_test_id("channel-target")).to_have_text(f"http://127.0.0.1:{dead_port}/hook")
        card.get_by_test_id("channel-test").click()
        expect(card.get_by_test_id("channel-test-result")).to_have_text(
            f"Test message not delivered: Could not reach http://127.0.0.1:{dead_port}: "
            "connection refused"
        )
        # The batch's completion reached the channel and failed visibly after its one attempt.
        failed = page.get_by_test_id("delivery-row").filter(has_text=niche["name"])
        expect(failed.first).to_have_attribute("data-status", "failed")
        assert "never-shown-in-the-page" not in page.content()
        _no_horizontal_scroll(page)

        page.get_by_test_id("alert-bell").click()
        panel = page.get_by_test_id("alert-bell-panel")
        finished = panel.get_by_test_id("alert-bell-event").filter(has_text=niche["name"])
        expect(finished.first).to_contain_text("finished")
        box = panel.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        _no_horizontal_scroll(page)
        page.shoot(f"alerts-{width}")  # type: ignore[attr-defined]
    finally:  # later tests' batches send no alerts
        live.call("DELETE", f"/alerts/channels/{channel['id']}")
