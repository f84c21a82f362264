"""Profile import: line formats, duplicates, per-line errors, 201 vs 207, retries, volume."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from storycheck.profiles.importer import REPORT_LIMIT
from storycheck.profiles.models import Profile
from tests.factories import make_niche
from tests.helpers import assert_error

REPORT_FIELDS = {
    "created",
    "errors",
    "total",
    "created_count",
    "error_count",
    "duplicate_count",
    "invalid_format_count",
    "created_truncated",
    "errors_truncated",
}


def _upload(client, niche_id: str, content: bytes | str, filename: str = "list.txt"):  # type: ignore[no-untyped-def]
    raw = content.encode() if isinstance(content, str) else content
    return client.post(
        f"/api/profiles/niches/{niche_id}/import",
        data={"file": (io.BytesIO(raw), filename)},
        content_type="multipart/form-data",
    )


def _count(db) -> int:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Profile)) or 0


@pytest.fixture
def niche(db) -> str:  # type: ignore[no-untyped-def]
    return make_niche(db, name="Imports")


def test_clean_file_creates_everything_with_201(client, niche):  # type: ignore[no-untyped-def]
    response = _upload(client, niche, "alice\nbob\ncarol\n")

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == REPORT_FIELDS
    assert [p["username"] for p in body["created"]] == ["alice", "bob", "carol"]
    assert body["errors"] == []
    assert (body["total"], body["created_count"], body["error_count"]) == (3, 3, 0)
    created = body["created"][0]
    assert created["url"] == "https://instagram.com/alice"
    assert (created["niche_id"], created["niche"], created["status"]) == (
        niche,
        "Imports",
        "active",
    )
    # Each reported profile is the stored one (the report is built without reloading them).
    for reported in body["created"]:
        assert client.get(f"/api/profiles/{reported['id']}").get_json() == reported
    assert client.get(f"/api/niches/{niche}").get_json()["profile_count"] == 3


def test_accepted_line_forms(client, niche):  # type: ignore[no-untyped-def]
    lines = [
        "plain",
        "@at_sign",
        "instagram.com/bare.url",
        "www.instagram.com/with_slash/",
        "https://instagram.com/query?igshid=x",
        "http://www.instagram.com/Mixed.Case/?utm_source=ig_web",
        "https://instagr.am/short",
        "https://m.instagram.com/mobile",
        "https://www.instagram.com/stories/storyteller/3141592653589793/",
        "  padded  ",
    ]
    body = _upload(client, niche, "\n".join(lines)).get_json()

    assert body["errors"] == []
    assert [p["username"] for p in body["created"]] == [
        "plain",
        "at_sign",
        "bare.url",
        "with_slash",
        "query",
        "Mixed.Case",
        "short",
        "mobile",
        "storyteller",
        "padded",
    ]


def test_line_endings_bom_and_blank_lines(client, niche):  # type: ignore[no-untyped-def]
    content = "\ufeffone\r\ntwo\r\n\r\n   \rthree\rfour\n\n\tfive\t\r\n".encode()

    body = _upload(client, niche, content).get_json()

    assert [p["username"] for p in body["created"]] == ["one", "two", "three", "four", "five"]
    assert body["total"] == 5


def test_invalid_lines_are_reported_per_line_with_207(client, niche):  # type: ignore[no-untyped-def]
    content = "\n".join(
        [
            "good_one",  # 1
            "has space",  # 2
            "x" * 31,  # 3
            "instagram.com/p/Cabc123/",  # 4
            "https://www.instagram.com/reel/xyz/",  # 5
            "instagram.com/stories/",  # 6
            "https://www.instagram.com/explore/tags/cats/",  # 7
            "https://example.com/someone",  # 8
            "ünïcode",  # 9
            "good_two",  # 10
        ]
    )

    response = _upload(client, niche, content)

    assert response.status_code == 207
    body = response.get_json()
    assert [p["username"] for p in body["created"]] == ["good_one", "good_two"]
    assert [e["line_number"] for e in body["errors"]] == [2, 3, 4, 5, 6, 7, 8, 9]
    assert all("Invalid username format" in e["error"] for e in body["errors"])
    assert body["errors"][0]["line"] == "has space"
    assert (body["invalid_format_count"], body["duplicate_count"], body["error_count"]) == (8, 0, 8)
    assert (body["total"], body["created_count"]) == (10, 2)


def test_duplicates_within_the_file_and_against_the_database(client, niche):  # type: ignore[no-untyped-def]
    client.post("/api/profiles", json={"username": "Existing.User"})
    content = "\n".join(
        [
            "john.doe",  # 1 created
            "JOHN_DOE",  # 2 duplicate of line 1 (case, . vs _)
            "@john.doe",  # 3 duplicate
            "existing_user",  # 4 duplicate of the database row
            "instagram.com/EXISTING.USER",  # 5 duplicate of the database row
            "fresh",  # 6 created
        ]
    )

    response = _upload(client, niche, content)

    assert response.status_code == 207
    body = response.get_json()
    assert [p["username"] for p in body["created"]] == ["john.doe", "fresh"]
    assert [(e["line_number"], e["error"]) for e in body["errors"]] == [
        (2, "Profile already exists (as john.doe)"),
        (3, "Profile already exists (as john.doe)"),
        (4, "Profile already exists (as Existing.User)"),
        (5, "Profile already exists (as Existing.User)"),
    ]
    assert (body["duplicate_count"], body["invalid_format_count"]) == (4, 0)


def test_duplicates_count_across_niches_and_deleted_profiles(client, db, niche):  # type: ignore[no-untyped-def]
    other = make_niche(db, name="Other")
    _upload(client, other, "elsewhere\nretired\n")
    retired = client.get("/api/profiles?search=retired").get_json()["profiles"][0]
    client.delete(f"/api/profiles/{retired['id']}")

    body = _upload(client, niche, "elsewhere\nretired\n").get_json()

    assert body["created_count"] == 0 and body["duplicate_count"] == 2


def test_retrying_the_same_file_creates_nothing_new(client, db, niche):  # type: ignore[no-untyped-def]
    content = "\n".join(f"user_{i}" for i in range(300))
    assert _upload(client, niche, content).status_code == 201
    before = _count(db)

    again = _upload(client, niche, content)

    assert again.status_code == 207
    body = again.get_json()
    assert (body["created_count"], body["duplicate_count"]) == (0, 300)
    assert _count(db) == before == 300


def test_large_imports_cap_the_listed_rows_but_count_all(client, db, niche):  # type: ignore[no-untyped-def]
    n = REPORT_LIMIT + 500
    content = "\n".join(f"bulk_{i}" for i in range(n))

    body = _upload(client, niche, content).get_json()

    assert body["created_count"] == n and len(body["created"]) == REPORT_LIMIT
    assert body["created_truncated"] is True and body["errors_truncated"] is False
    assert _count(db) == n
    again = _upload(client, niche, content).get_json()
    assert again["error_count"] == n and len(again["errors"]) == REPORT_LIMIT
    assert again["errors_truncated"] is True


def test_raw_text_body_is_accepted(client, niche):  # type: ignore[no-untyped-def]
    response = client.post(
        f"/api/profiles/niches/{niche}/import",
        data="cli_one\ncli_two\n",
        content_type="text/plain; charset=utf-8",
    )
    assert response.status_code == 201
    assert response.get_json()["created_count"] == 2


def test_invalid_utf8_is_a_clear_400(client, db, niche):  # type: ignore[no-untyped-def]
    body = assert_error(_upload(client, niche, b"alice\n\xff\xfebob\n"), 400)
    assert "UTF-8" in body["error"] and "UTF-8" in body["message"]
    assert _count(db) == 0


def test_unknown_niche(client):  # type: ignore[no-untyped-def]
    body = assert_error(_upload(client, "ghost-niche", "alice\n"), 404)
    assert body["error"] == "Invalid niche_id: ghost-niche"


def test_missing_or_empty_uploads(client, niche):  # type: ignore[no-untyped-def]
    url = f"/api/profiles/niches/{niche}/import"
    no_file = client.post(url, data={"other": "x"}, content_type="multipart/form-data")
    assert_error(no_file, 400, "No file provided")
    unnamed = client.post(
        url, data={"file": (io.BytesIO(b"alice"), "")}, content_type="multipart/form-data"
    )
    assert assert_error(unnamed, 400)["error"] in ("No file selected", "No file provided")
    assert_error(client.post(url), 400, "No file provided")
    assert_error(client.post(url, json={"lines": "alice"}), 400, "No file provided")
    assert "no usernames" in assert_error(_upload(client, niche, "\n \r\n\t\n"), 400)["message"]
    assert "no usernames" in assert_error(_upload(client, niche, b"\xef\xbb\xbf"), 400)["message"]


def test_long_lines_are_echoed_shortened(client, niche):  # type: ignore[no-untyped-def]
    body = _upload(client, niche, "y" * 5000).get_json()
    assert len(body["errors"][0]["line"]) <= 201


def test_probing_and_full_scan_find_the_same_duplicates(client, db, niche, monkeypatch):  # type: ignore[no-untyped-def]
    from storycheck.profiles import importer

    _upload(client, niche, "\n".join(f"seed_{i}" for i in range(50)))
    content = "\n".join(["SEED_3", "seed.10", "brand_new"])

    monkeypatch.setattr(importer, "FULL_SCAN_RATIO", 0)  # always probe with IN (...)
    probed = _upload(client, niche, content).get_json()
    monkeypatch.setattr(importer, "FULL_SCAN_RATIO", 10**9)  # always read every key
    scanned = _upload(client, niche, content).get_json()

    assert [e["error"] for e in probed["errors"]] == [
        "Profile already exists (as seed_3)",
        "Profile already exists (as seed_10)",
    ]
    assert probed["created_count"] == 1
    assert [e["error"] for e in scanned["errors"]] == [
        "Profile already exists (as seed_3)",
        "Profile already exists (as seed_10)",
        "Profile already exists (as brand_new)",
    ]
