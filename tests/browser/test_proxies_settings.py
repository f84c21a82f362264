"""Proxies and Settings in a real browser: add a pair, see its health; validation errors."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import SKIP_REASON, Stack
from tests.helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON or "")]

if not SKIP_REASON:
    from playwright.sync_api import Page, expect


def test_add_a_proxy_pair_and_see_it_ready(page: Page, live: Stack) -> None:
    url, session_id = live.spare_pair
    address = url.split("://", 1)[1].rsplit("@", 1)[-1]
    # What the page asked of /api/proxies, for the failure message.
    calls: list[str] = []
    page.on(
        "response",
        lambda r: (
            calls.append(f"{time.monotonic():.2f} {r.request.method} {r.url} {r.status}")
            if "/api/proxies" in r.url
            else None
        ),
    )
    page.goto("/proxies")
    rows = page.get_by_test_id("proxy-row")
    expect(rows).to_have_count(len(live.proxy_urls))
    for index in range(len(live.proxy_urls)):
        expect(rows.nth(index)).to_have_attribute("data-health", "ready")

    form = page.get_by_test_id("proxy-add-form")
    # A session is required: the form says so before anything is sent.
    form.get_by_test_id("proxy-mode-url").click()
    form.get_by_test_id("proxy-field-url").fill(url)
    form.get_by_test_id("proxy-add-submit").click()
    expect(form).to_contain_text("Required: the Instagram session")
    expect(rows).to_have_count(len(live.proxy_urls))

    form.get_by_test_id("proxy-field-session").fill(session_id)
    form.get_by_test_id("proxy-add-submit").click()
    row = rows.filter(has_text=address)
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-health", "ready")
    expect(row.get_by_test_id("proxy-health")).to_have_text("ready")
    # The session cookie is shown masked, never in full.
    expect(row.get_by_test_id("proxy-session")).to_contain_text("…")
    expect(row.get_by_test_id("proxy-session")).not_to_contain_text(session_id)
    expect(form.get_by_test_id("proxy-field-url")).to_have_value("")
    page.shoot("pair added")

    # The same proxy twice: the server refuses, the form shows why.
    form.get_by_test_id("proxy-field-url").fill(url)
    form.get_by_test_id("proxy-field-session").fill(session_id + "x")
    form.get_by_test_id("proxy-add-submit").click()
    expect(form.get_by_test_id("proxy-add-error")).to_contain_text("already exists")
    expect(rows).to_have_count(len(live.proxy_urls) + 1)

    # Disable, then delete it (accepting the confirmation): the fleet is as it was.
    row.get_by_test_id("proxy-toggle").click()
    expect(row).to_have_attribute("data-health", "disabled")
    # Deleted at once: a late `proxy` event or an older list must not bring the pair back.
    row.get_by_test_id("proxy-delete").click()
    wait_until(
        lambda: not any(address in p["url"] for p in live.call("GET", "/proxies")),
        timeout=10,
        interval=0.2,
        what=f"the pair deleted; calls: {calls}",
    )
    assert page.dialogs and page.dialogs[-1].startswith(f"Delete the pair {address}?")
    try:
        expect(row).to_have_count(0)
    except AssertionError as exc:
        raise AssertionError(f"deleted on the server, still on screen; calls: {calls}") from exc
    expect(rows).to_have_count(len(live.proxy_urls))
    count = len(live.proxy_urls)
    # (Other tests of the shared stack may have tested the pairs, or not.)
    expect(page.get_by_test_id("proxy-summary")).to_have_text(
        re.compile(rf"^{count} pairs, {count} ready(, \d+ untested)?$")
    )


def test_settings_refuse_out_of_range_values(page: Page, live: Stack) -> None:
    put_requests: list[str] = []
    page.on(
        "request",
        lambda r: (
            put_requests.append(r.url) if r.method == "PUT" and "/api/settings" in r.url else None
        ),
    )
    # A stored value that differs from the form's built-in default, so the field shows it only
    # once the settings are loaded. (Typing before that is lost: the loaded settings replace
    # the form's values — reported as a client bug.)
    live.call("PUT", "/settings", json={"max_threads": 10})
    with page.expect_response(
        lambda r: r.url.endswith("/api/settings") and r.request.method == "GET"
    ):
        page.goto("/settings")
    threads = page.get_by_test_id("settings-field-max_threads")
    expect(threads).to_have_value("10")
    expect(page.get_by_test_id("settings-form")).to_have_attribute("aria-busy", "false")

    # Out of range: the field says so at once and the form refuses to save.
    threads.fill("0")
    error = page.get_by_test_id("settings-error-max_threads")
    expect(error).to_have_text("Must be 1–256")
    expect(threads).to_have_attribute("aria-invalid", "true")
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-form")).to_contain_text(
        "Fix the 1 highlighted field first."
    )
    page.shoot("max_threads 0 refused")
    assert put_requests == []
    assert live.call("GET", "/settings")["max_threads"] == 10

    # Fixing it clears the error and saves.
    threads.fill("12")
    expect(error).to_have_count(0)
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-saved")).to_be_visible()
    assert live.call("GET", "/settings")["max_threads"] == 12
    assert len(put_requests) == 1

    # A value only the server knows is too big (the client's schema has no upper bound for
    # profiles_per_minute): the 400's message shows inline at the field, nothing is stored.
    # Should the client learn the bound, its own message names it too.
    per_minute = page.get_by_test_id("settings-field-profiles_per_minute")
    per_minute.fill("200000")
    page.get_by_test_id("settings-save").click()
    per_minute_error = page.get_by_test_id("settings-error-profiles_per_minute")
    expect(per_minute_error).to_be_visible()
    expect(per_minute_error).to_contain_text("100000")
    expect(per_minute).to_have_attribute("aria-invalid", "true")
    # (The earlier "Saved at …" stays on screen next to this refused save: reported as a client
    # bug, not asserted here.)
    page.shoot("profiles_per_minute refused")
    assert live.call("GET", "/settings")["profiles_per_minute"] == 0
    # Editing the field clears the server's error.
    per_minute.fill("0")
    expect(per_minute_error).to_have_count(0)
