"""Pair tests in a real browser: "Test" says what is wrong in words, "Test all" proves the rest.

A pair on a closed port says "proxy unreachable"; a pair whose session Instagram logged out
says "session logged out"; a working pair says "ok — logged in as <account id>". New pairs show
`untested` until then.
"""

from __future__ import annotations

import pytest

from storycheck.proxies.sessions import ds_user_id_of
from tests.browser.conftest import SKIP_REASON, Stack
from tests.helpers import free_port

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON or "")]

if not SKIP_REASON:
    from playwright.sync_api import Page, expect

DEAD_COOKIE = "58888888888%3AbrowserDeadPair%3A1%3AneverSentToInstagram"
LOGGED_OUT_COOKIE = "57777777777%3AbrowserLoggedOut%3A1%3AloggedOutByTheSim"


def test_test_tells_a_dead_port_from_a_logged_out_session(page: Page, live: Stack) -> None:
    sim = live.sim
    sim.call(lambda: sim.state.set_profile_kind("instagram", "poster"))
    sim.add_sessions([LOGGED_OUT_COOKIE])
    sim.flag_session(LOGGED_OUT_COOKIE, "logged_out")
    dead_port = free_port()
    dead = live.call(
        "POST", "/proxies", json={"url": f"http://127.0.0.1:{dead_port}", "session": DEAD_COOKIE}
    )
    # The first proxy of the fleet again, under another name: a pair of its own.
    logged_out_url = live.proxy_urls[0].replace("127.0.0.1", "localhost")
    logged_out = live.call(
        "POST", "/proxies", json={"url": logged_out_url, "session": LOGGED_OUT_COOKIE}
    )
    try:
        page.goto("/proxies")
        rows = page.get_by_test_id("proxy-row")
        dead_row = rows.filter(has_text=f"127.0.0.1:{dead_port}")
        out_row = rows.filter(has_text=logged_out_url.rsplit("@", 1)[-1].split("://")[-1])
        expect(dead_row).to_have_attribute("data-test-state", "untested")
        expect(dead_row.get_by_test_id("proxy-test-state")).to_have_text("untested")
        expect(page.get_by_test_id("proxy-summary")).to_contain_text("untested")

        dead_row.get_by_test_id("proxy-test").click()
        expect(dead_row.get_by_test_id("proxy-test-state")).to_have_text("proxy unreachable")
        expect(dead_row).to_have_attribute("data-test-state", "failed")
        report = page.get_by_test_id("proxy-test-report").first
        expect(report.get_by_test_id("proxy-test-summary")).to_have_text("proxy unreachable")
        proxy_step = report.locator("[data-step=proxy]")
        expect(proxy_step).to_have_attribute("data-status", "failed")
        expect(proxy_step).to_contain_text("connection refused")
        expect(report.locator("[data-step=session]")).to_contain_text("not tried")
        page.shoot("dead port tested")

        out_row.get_by_test_id("proxy-test").click()
        expect(out_row.get_by_test_id("proxy-test-state")).to_have_text("session logged out")
        out_report = page.locator("[data-testid=proxy-test-report]").filter(
            has_text="session logged out"
        )
        expect(out_report.locator("[data-step=proxy]")).to_have_attribute("data-status", "ok")
        expect(out_report.locator("[data-step=session]")).to_have_attribute("data-status", "failed")
        # The cookie is never on the page, the account id of a failed session neither.
        expect(page.locator("body")).not_to_contain_text("browserLoggedOut")

        # Test all: the working pairs prove themselves, each with its own account.
        page.get_by_test_id("proxy-test-all").click()
        first = rows.filter(has_text=live.proxy_urls[0].split("://")[-1])
        account = ds_user_id_of(live.session_ids[0])
        expect(first.get_by_test_id("proxy-test-state")).to_have_text(
            f"ok — logged in as {account}"
        )
        expect(first).to_have_attribute("data-test-state", "ok")
        expect(dead_row).to_have_attribute("data-test-state", "failed")
        expect(page.get_by_test_id("proxy-summary")).not_to_contain_text("untested")
        page.shoot("all pairs tested")
        assert not page.js_errors  # type: ignore[attr-defined]
    finally:
        for pair in (dead, logged_out):
            live.call("DELETE", f"/proxies/{pair['id']}")
