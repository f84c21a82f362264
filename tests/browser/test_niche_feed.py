"""Niche Feed in a real browser: create a niche, import a file into it, select profiles."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import SKIP_REASON, Stack
from tests.browser.ui import open_niche, plain_cell

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON or "")]

if not SKIP_REASON:
    from playwright.sync_api import Page, expect


def test_import_file_into_new_niche(page: Page, live: Stack) -> None:
    page.goto("/niches")
    expect(page.get_by_test_id("nav-niche-feed")).to_have_attribute("aria-current", "page")

    # Create the niche in the sidebar: type a name, press Enter.
    name = live.unique_name("Import")
    page.get_by_test_id("add-niche-input").fill(name)
    page.get_by_test_id("add-niche-input").press("Enter")
    item = page.get_by_test_id("niche-item").filter(has_text=name)
    expect(item).to_have_count(1)
    expect(item.get_by_test_id("niche-count")).to_have_text("0")
    # The new niche is shown at once, empty, with the big dropzone.
    expect(item).to_have_class(re.compile(r"\bselected\b"))
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.get_by_test_id("add-niche-input")).to_have_value("")
    expect(page.get_by_test_id("import-dropzone")).to_contain_text("Drop a .txt/.csv file")
    page.shoot("empty niche")

    a, b, c, d, e, f = live.usernames(6, "imp")
    lines = [
        a,  # 1
        f"@{b}",  # 2
        f"https://www.instagram.com/{c}/?hl=en",  # 3
        "",  # blank lines are skipped, line numbers still count
        f"instagram.com/{d}",  # 5
        e,  # 6
        a,  # 7 duplicate within the file
        f.replace("_", "."),  # 8 new: `.` is read as `_` only for duplicate detection
        f,  # 9 duplicate of line 8 (`.` == `_`)
        "not a valid name!",  # 10 invalid
        "https://www.instagram.com/",  # 11 invalid: the URL names no profile
    ]
    page.get_by_test_id("import-file-input").set_input_files(
        {"name": "accounts.txt", "mimeType": "text/plain", "buffer": "\n".join(lines).encode()}
    )

    report = page.get_by_test_id("import-report")
    expect(report).to_be_visible()
    expect(page.get_by_test_id("import-created")).to_have_text("Imported 6 profiles from 10 lines")
    expect(report).to_contain_text("Import completed with 4 errors — 2 duplicate, 2 invalid format")
    errors = page.get_by_test_id("import-error")
    expect(errors).to_have_count(4)
    expect(errors.nth(0)).to_contain_text(f"#7 {a}: Profile already exists (as {a})")
    expect(errors.nth(1)).to_contain_text(f"#9 {f}: Profile already exists")
    expect(errors.nth(2)).to_contain_text("#10 not a valid name!: Invalid username format")
    expect(errors.nth(3)).to_contain_text("#11 https://www.instagram.com/: Invalid username format")
    page.shoot("import report")

    # The profiles are in the table, and the sidebar count followed.
    rows = page.get_by_test_id("profile-row")
    expect(rows).to_have_count(6)
    expect(page.get_by_test_id("profile-table")).to_contain_text(a)
    for username in (b, c, d, e, f.replace("_", ".")):
        expect(page.get_by_test_id("profile-table")).to_contain_text(username)
    expect(page.get_by_test_id("profile-pager-range")).to_have_text("1–6 of 6")
    expect(item.get_by_test_id("niche-count")).to_have_text("6")

    # The same file again: nothing new, every line reported as a duplicate or invalid.
    page.get_by_test_id("import-file-input").set_input_files(
        {"name": "accounts.txt", "mimeType": "text/plain", "buffer": "\n".join(lines).encode()}
    )
    expect(page.get_by_test_id("import-created")).to_have_text("Imported 0 profiles from 10 lines")
    expect(page.get_by_test_id("import-error")).to_have_count(10)
    expect(item.get_by_test_id("niche-count")).to_have_text("6")
    assert not page.js_errors, page.js_errors


def test_shift_click_selects_a_range(page: Page, live: Stack) -> None:
    niche = live.niche_with_profiles(8, "Select")
    page.goto("/niches")
    open_niche(page, niche["name"])
    rows = page.get_by_test_id("profile-row")
    expect(rows).to_have_count(8)
    count = page.get_by_test_id("selection-count")
    expect(count).to_have_text("0 selected")

    def cell(index: int):
        return plain_cell(rows.nth(index))

    cell(1).click()
    expect(count).to_have_text("1 selected")
    cell(4).click(modifiers=["Shift"])
    expect(count).to_have_text("4 selected")
    for index in range(8):
        selected = 1 <= index <= 4
        expect(rows.nth(index)).to_have_attribute("aria-selected", str(selected).lower())
        checkbox = rows.nth(index).get_by_role("checkbox")
        if selected:
            expect(checkbox).to_be_checked()
        else:
            expect(checkbox).not_to_be_checked()
    expect(page.get_by_test_id("check-selected")).to_have_text("Check selected (4)")
    expect(page.get_by_test_id("check-selected")).to_be_enabled()
    page.shoot("rows 2-5 selected")

    # Shift-click upwards re-anchors the range on row 2: rows 1–2.
    cell(0).click(modifiers=["Shift"])
    expect(count).to_have_text("2 selected")
    expect(rows.nth(0)).to_have_attribute("aria-selected", "true")
    expect(rows.nth(4)).to_have_attribute("aria-selected", "false")

    # Ctrl-click adds one row; a plain click selects just that row again.
    cell(6).click(modifiers=["Control"])
    expect(count).to_have_text("3 selected")
    cell(3).click()
    expect(count).to_have_text("1 selected")
    expect(rows.nth(3)).to_have_attribute("aria-selected", "true")
    page.get_by_test_id("clear-selection").click()
    expect(count).to_have_text("0 selected")
    expect(page.get_by_test_id("check-selected")).to_be_disabled()
