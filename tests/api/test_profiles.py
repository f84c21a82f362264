"""Profile routes: list (filters, sort, stable paging), ids, CRUD, bulk, stats, refresh."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from storycheck.db import new_id, utcnow
from storycheck.profiles.listing import SORT_COLUMNS
from storycheck.profiles.models import Profile
from storycheck.stories.models import StoryResult
from tests.factories import make_niche, make_profiles, set_settings
from tests.helpers import assert_error

PROFILE_FIELDS = {
    "id",
    "username",
    "url",
    "niche_id",
    "niche",
    "status",
    "active_story",
    "last_story_detected",
    "total_checks",
    "total_detections",
    "last_checked",
    "last_detected",
    "detection_rate",
    "is_private",
    "not_found",
    "not_found_at",
    "story_posted_at",
    "story_expires_at",
    "story_live",
    "story_answer",
    "story_unknown_reason",
    "created_at",
    "updated_at",
}


def _set(db, profile_id: str, **values) -> None:  # type: ignore[no-untyped-def]
    with db.write() as session:
        session.execute(update(Profile).where(Profile.id == profile_id).values(**values))


def _create(client, username: str, niche_id: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    response = client.post("/api/profiles", json={"username": username, "niche_id": niche_id})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------- list


def test_list_envelope_and_default_order(client, db):  # type: ignore[no-untyped-def]
    niche = make_niche(db, name="N")
    for name in ("charlie", "Alpha", "bravo"):
        _create(client, name, niche)

    response = client.get("/api/profiles")

    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 3
    assert (body["page"], body["page_size"]) == (1, 50)
    assert body["sort_column"] is None and body["sort_direction"] == "asc"
    assert body["filters"] == {
        "search": None,
        "niche_id": None,
        "status": None,
        "active_story": None,
        "not_found": None,
        "story": None,
    }
    assert [p["username"] for p in body["profiles"]] == ["Alpha", "bravo", "charlie"]
    first = body["profiles"][0]
    assert set(first) == PROFILE_FIELDS
    assert first["niche"] == "N" and first["niche_id"] == niche
    assert first["url"] == "https://instagram.com/Alpha"


def test_list_filters(client, db):  # type: ignore[no-untyped-def]
    a = make_niche(db, name="a")
    b = make_niche(db, name="b")
    in_a = _create(client, "one_a", a)
    _create(client, "two_a", a)
    in_b = _create(client, "one_b", b)
    client.put(f"/api/profiles/{in_b['id']}", json={"status": "inactive"})
    # A live story is the latest window not yet expired (the stored flag alone is not enough).
    _set(db, in_a["id"], active_story=True, story_expires_at=utcnow() + timedelta(hours=1))
    _set(db, in_b["id"], not_found=True)

    def names(**params):  # type: ignore[no-untyped-def]
        body = client.get("/api/profiles", query_string=params).get_json()
        return sorted(p["username"] for p in body["profiles"]), body["total"]

    assert names(niche_id=a) == (["one_a", "two_a"], 2)
    assert names(status="inactive") == (["one_b"], 1)
    assert names(search="ONE") == (["one_a", "one_b"], 2)
    assert names(active_story="true") == (["one_a"], 1)
    assert names(active_story="false", niche_id=a) == (["two_a"], 1)
    assert names(not_found="true") == (["one_b"], 1)
    assert names(not_found="false") == (["one_a", "two_a"], 2)
    assert names(niche_id="", status="", search="") == (["one_a", "one_b", "two_a"], 3)


def test_search_treats_percent_and_underscore_literally(client):  # type: ignore[no-untyped-def]
    _create(client, "a_b")
    _create(client, "axb")
    body = client.get("/api/profiles", query_string={"search": "a_b"}).get_json()
    assert [p["username"] for p in body["profiles"]] == ["a_b"]
    assert client.get("/api/profiles", query_string={"search": "%"}).get_json()["total"] == 0


@pytest.mark.parametrize("column", SORT_COLUMNS)
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_every_sort_column_works(client, db, column, direction):  # type: ignore[no-untyped-def]
    niche = make_niche(db, name="n")
    make_profiles(db, niche, 3)
    make_profiles(db, None, 2, prefix="loose")

    response = client.get(
        "/api/profiles", query_string={"sort_by": column, "sort_direction": direction}
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 5 and len(body["profiles"]) == 5
    assert (body["sort_column"], body["sort_direction"]) == (column, direction)


def test_sort_by_niche_keeps_profiles_without_niche_last(client, db):  # type: ignore[no-untyped-def]
    zeta = make_niche(db, name="zeta")
    alpha = make_niche(db, name="alpha")
    _create(client, "in_zeta", zeta)
    _create(client, "nowhere")
    _create(client, "in_alpha", alpha)

    for direction, expected in (
        ("asc", ["in_alpha", "in_zeta", "nowhere"]),
        ("desc", ["in_zeta", "in_alpha", "nowhere"]),
    ):
        body = client.get(
            "/api/profiles", query_string={"sort_by": "niche__name", "sort_direction": direction}
        ).get_json()
        assert [p["username"] for p in body["profiles"]] == expected
        assert body["total"] == 3


def test_sort_by_detection_rate_is_computed_in_sql(client, db):  # type: ignore[no-untyped-def]
    low = _create(client, "low")
    high = _create(client, "high")
    never = _create(client, "never")
    _set(db, low["id"], total_checks=10, total_detections=1)
    _set(db, high["id"], total_checks=4, total_detections=3)

    body = client.get(
        "/api/profiles", query_string={"sort_by": "detection_rate", "sort_direction": "desc"}
    ).get_json()

    assert [p["username"] for p in body["profiles"]] == ["high", "low", "never"]
    assert [p["detection_rate"] for p in body["profiles"]] == [75.0, 10.0, 0.0]
    assert never["detection_rate"] == 0.0


def test_timestamp_sorts_put_nulls_last(client, db):  # type: ignore[no-untyped-def]
    old = _create(client, "old")
    new = _create(client, "new")
    _create(client, "unchecked")
    now = utcnow()
    _set(db, old["id"], last_checked=now - timedelta(days=1))
    _set(db, new["id"], last_checked=now)
    for direction, expected in (
        ("asc", ["old", "new", "unchecked"]),
        ("desc", ["new", "old", "unchecked"]),
    ):
        body = client.get(
            "/api/profiles", query_string={"sort_by": "last_checked", "sort_direction": direction}
        ).get_json()
        assert [p["username"] for p in body["profiles"]] == expected


@pytest.mark.parametrize("column", ["total_checks", "status", "active_story", "niche__name"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_paging_over_ties_is_stable(client, db, column, direction):  # type: ignore[no-untyped-def]
    niche = make_niche(db, name="same")
    ids = set(make_profiles(db, niche, 57))

    seen: list[str] = []
    for page in range(1, 8):
        body = client.get(
            "/api/profiles",
            query_string={
                "sort_by": column,
                "sort_direction": direction,
                "page": page,
                "page_size": 10,
            },
        ).get_json()
        assert body["total"] == 57
        seen.extend(p["id"] for p in body["profiles"])

    assert len(seen) == 57
    assert set(seen) == ids


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"page": "-1"},
        {"page": "abc"},
        {"page": "99999999999999999999999"},
        {"page_size": "0"},
        {"page_size": "1001"},
        {"page_size": "1e9"},
        {"sort_by": "password"},
        {"sort_by": "username", "sort_direction": "sideways"},
        {"status": "gone"},
        {"active_story": "maybe"},
        {"search": "x" * 101},
    ],
)
def test_list_rejects_bad_parameters(client, params):  # type: ignore[no-untyped-def]
    assert_error(client.get("/api/profiles", query_string=params), 400)


def test_list_accepts_the_largest_page_size_and_a_far_page(client, db):  # type: ignore[no-untyped-def]
    make_profiles(db, None, 3)
    assert len(client.get("/api/profiles?page_size=1000").get_json()["profiles"]) == 3
    body = client.get("/api/profiles?page=1000000&page_size=1000").get_json()
    assert body["profiles"] == [] and body["total"] == 3


def test_sort_direction_is_case_insensitive(client, db):  # type: ignore[no-untyped-def]
    make_profiles(db, None, 2)
    response = client.get("/api/profiles?sort_by=username&sort_direction=DESC")
    assert response.status_code == 200
    assert response.get_json()["sort_direction"] == "desc"


def test_ids_lists_every_match(client, db):  # type: ignore[no-untyped-def]
    a = make_niche(db, name="a")
    in_a = set(make_profiles(db, a, 1200))
    make_profiles(db, None, 5)

    body = client.get("/api/profiles/ids", query_string={"niche_id": a}).get_json()

    assert set(body["ids"]) == in_a
    assert body["total"] == 1200 and body["truncated"] is False
    assert client.get("/api/profiles/ids?sort_by=niche__name").get_json()["total"] == 1205
    assert_error(client.get("/api/profiles/ids?status=unknown"), 400)


# ---------------------------------------------------------------------------------- one


def test_get_one_and_404(client):  # type: ignore[no-untyped-def]
    created = _create(client, "someone")
    assert client.get(f"/api/profiles/{created['id']}").get_json() == created
    assert assert_error(client.get("/api/profiles/nope"), 404)["message"] == "Profile not found"


def test_create(client, db):  # type: ignore[no-untyped-def]
    niche = make_niche(db, name="n")
    body = _create(client, "@New.User", niche)
    assert body["username"] == "New.User" and body["status"] == "active"
    assert body["niche"] == "n"
    assert _create(client, "https://www.instagram.com/linked/")["username"] == "linked"
    assert client.get(f"/api/niches/{niche}").get_json()["profile_count"] == 1


def test_create_rejects_duplicates_after_normalisation(client):  # type: ignore[no-untyped-def]
    _create(client, "john.doe")
    body = assert_error(client.post("/api/profiles", json={"username": "JOHN_DOE"}), 409)
    assert "already exists" in body["message"] and "john.doe" in body["message"]


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "bad name"},
        {"username": "x" * 31},
        {"username": ""},
        {"username": 12},
        {"niche_id": "x"},
        {"username": "instagram.com/p/abc"},
        {"username": "ok_name", "niche_id": 5},
    ],
)
def test_create_rejects_bad_input(client, payload):  # type: ignore[no-untyped-def]
    assert_error(client.post("/api/profiles", json=payload), 400)


def test_create_with_unknown_niche_says_so(client):  # type: ignore[no-untyped-def]
    body = assert_error(client.post("/api/profiles", json={"username": "ok", "niche_id": "ghost"}), 404)
    assert "Niche" in body["message"] and "exists" not in body["message"]
    assert_error(client.post("/api/profiles", data="{", content_type="application/json"), 400)
    assert_error(client.post("/api/profiles", json={}), 400)


def test_update(client, db):  # type: ignore[no-untyped-def]
    a = make_niche(db, name="a")
    b = make_niche(db, name="b")
    profile = _create(client, "before", a)
    pid = profile["id"]
    _set(db, pid, ig_user_id="123")

    body = client.put(
        f"/api/profiles/{pid}", json={"username": "after", "status": "inactive", "niche_id": b}
    ).get_json()

    assert (body["username"], body["status"], body["niche_id"], body["niche"]) == (
        "after",
        "inactive",
        b,
        "b",
    )
    assert body["url"] == "https://instagram.com/after"
    with db.read() as session:
        row = session.get(Profile, pid)
        assert row is not None and row.username_key == "after" and row.ig_user_id is None
    body = client.put(f"/api/profiles/{pid}", json={"niche_id": None}).get_json()
    assert body["niche_id"] is None and body["niche"] is None
    for status in ("active", "deleted", "suspended"):
        assert client.put(f"/api/profiles/{pid}", json={"status": status}).status_code == 200


def test_update_errors_are_specific(client, db):  # type: ignore[no-untyped-def]
    taken = _create(client, "taken.name")
    mine = _create(client, "mine")
    pid = mine["id"]
    duplicate = assert_error(client.put(f"/api/profiles/{pid}", json={"username": "Taken_Name"}), 409)
    assert "already exists" in duplicate["message"]
    bad_status = assert_error(client.put(f"/api/profiles/{pid}", json={"status": "banned"}), 400)
    assert "Invalid status" in bad_status["message"]
    unknown_niche = assert_error(client.put(f"/api/profiles/{pid}", json={"niche_id": "ghost"}), 404)
    assert "Niche" in unknown_niche["message"]
    assert "Username" not in unknown_niche["message"]
    assert_error(client.put(f"/api/profiles/{pid}", json={"username": "no spaces"}), 400)
    assert_error(client.put("/api/profiles/ghost", json={"status": "active"}), 404)
    assert_error(client.put(f"/api/profiles/{pid}", data="?", content_type="application/json"), 400)
    assert client.get(f"/api/profiles/{pid}").get_json() == mine
    # changing only the case keeps the identity and is not a duplicate of itself
    assert client.put(f"/api/profiles/{pid}", json={"username": "MINE"}).status_code == 200
    assert taken["username"] == "taken.name"


def test_bulk_update(client, db):  # type: ignore[no-untyped-def]
    a = make_niche(db, name="a")
    b = make_niche(db, name="b")
    ids = make_profiles(db, a, 4)

    body = client.post(
        "/api/profiles/bulk",
        json={"profile_ids": [*ids[:3], "ghost"], "status": "inactive", "niche_id": b},
    ).get_json()

    assert body == {"updated": 3, "not_found": 1}
    listed = client.get("/api/profiles", query_string={"niche_id": b}).get_json()["profiles"]
    assert {p["id"] for p in listed} == set(ids[:3])
    assert {p["status"] for p in listed} == {"inactive"}


def test_bulk_update_rejects_bad_input(client, db):  # type: ignore[no-untyped-def]
    ids = make_profiles(db, None, 2)
    assert_error(client.post("/api/profiles/bulk", json={"status": "active"}), 400)
    assert_error(client.post("/api/profiles/bulk", json={"profile_ids": "x", "status": "active"}), 400)
    assert_error(client.post("/api/profiles/bulk", json={"profile_ids": ids}), 400)
    assert_error(client.post("/api/profiles/bulk", json={"profile_ids": ids, "status": "bad"}), 400)
    assert_error(client.post("/api/profiles/bulk", json={"profile_ids": ids, "niche_id": "ghost"}), 404)


def test_soft_delete_and_reactivate(client, db):  # type: ignore[no-untyped-def]
    niche = make_niche(db, name="n")
    profile = _create(client, "soon_gone", niche)

    assert client.delete(f"/api/profiles/{profile['id']}").status_code == 204

    listed = client.get("/api/profiles").get_json()["profiles"]
    assert [(p["username"], p["status"]) for p in listed] == [("soon_gone", "deleted")]
    assert client.get(f"/api/niches/{niche}").get_json()["profile_count"] == 0
    body = client.post(f"/api/profiles/{profile['id']}/reactivate").get_json()
    assert body["status"] == "active"
    assert_error(client.delete("/api/profiles/ghost"), 404)
    assert_error(client.post("/api/profiles/ghost/reactivate"), 404)


def test_record_check(client):  # type: ignore[no-untyped-def]
    pid = _create(client, "checked")["id"]

    body = client.post(
        f"/api/profiles/{pid}/record_check", json={"story_detected": True}
    ).get_json()
    assert (body["total_checks"], body["total_detections"], body["active_story"]) == (1, 1, True)
    assert body["last_detected"] and body["last_story_detected"] and body["last_checked"]

    body = client.post(f"/api/profiles/{pid}/record_check").get_json()
    assert (body["total_checks"], body["total_detections"], body["active_story"]) == (2, 1, False)
    assert body["detection_rate"] == 50.0

    assert_error(client.post(f"/api/profiles/{pid}/record_check", json={"story_detected": "yes"}), 400)
    assert_error(client.post("/api/profiles/ghost/record_check", json={}), 404)


def test_refresh_stories_clears_expired_windows(client, db):  # type: ignore[no-untyped-def]
    set_settings(db, story_retention_hours=2)
    now = utcnow()
    stale = _create(client, "stale")["id"]
    fresh = _create(client, "fresh")["id"]
    # Detected an hour ago but its story expired: "24 h after the check" no longer counts.
    _set(
        db,
        stale,
        active_story=True,
        last_story_detected=now - timedelta(hours=1),
        story_expires_at=now - timedelta(minutes=1),
    )
    _set(
        db,
        fresh,
        active_story=True,
        last_story_detected=now - timedelta(hours=5),
        story_expires_at=now + timedelta(hours=1),
    )
    with db.write() as session:
        session.execute(
            insert(StoryResult),
            [
                {
                    "id": new_id(),
                    "profile_id": stale,
                    "detected_at": now - timedelta(hours=30),
                    "expires_at": now - timedelta(hours=6),
                    "story_count": 1,
                },
                {
                    "id": new_id(),
                    "profile_id": fresh,
                    "detected_at": now - timedelta(hours=1),
                    "expires_at": now + timedelta(hours=23),
                    "story_count": 1,
                },
            ],
        )

    response = client.post("/api/profiles/refresh-stories")

    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "Stories refreshed successfully"
    assert body["cleared"] == 1
    assert client.get(f"/api/profiles/{stale}").get_json()["active_story"] is False
    assert client.get(f"/api/profiles/{fresh}").get_json()["active_story"] is True
    with db.read() as session:
        assert session.scalars(select(StoryResult.profile_id)).all() == [fresh]


def test_unknown_routes_and_methods_answer_json(client):  # type: ignore[no-untyped-def]
    assert_error(client.patch("/api/profiles"), 405)
    assert_error(client.get("/api/profiles/ghost/nothing"), 404)


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", "/api/profiles/%00", None),
        ("get", "/api/profiles?niche_id=%00", None),
        ("get", "/api/profiles?search=a%00b", None),
        ("get", "/api/profiles/ids?niche_id=%00", None),
        ("post", "/api/profiles", {"username": "fine", "niche_id": "\x00"}),
        ("put", "/api/profiles/%00", {"status": "active"}),
        ("post", "/api/profiles/bulk", {"profile_ids": ["\x00"], "status": "active"}),
        ("post", "/api/profiles/niches/%00/import", None),
    ],
)
def test_nul_characters_never_cause_a_500(client, method, url, body):  # type: ignore[no-untyped-def]
    kwargs = {"json": body} if body is not None else {}
    if url.endswith("/import"):
        kwargs = {"data": "alice\n", "content_type": "text/plain"}
    response = getattr(client, method)(url, **kwargs)
    assert response.status_code < 500  # SQLite stores NUL; PostgreSQL refuses it: 400
    assert isinstance(response.get_json(), dict)


# ---------------------------------------------------------------------------------- not found, export


def test_clear_not_found_by_hand(client, db):  # type: ignore[no-untyped-def]
    gone = _create(client, "gone")["id"]
    other = _create(client, "other")["id"]
    _set(db, gone, not_found=True)
    assert client.get(f"/api/profiles/{gone}").get_json()["not_found"] is True

    response = client.post(
        "/api/profiles/clear-not-found", json={"profile_ids": [gone, other, "ghost"]}
    )

    assert response.status_code == 200 and response.get_json() == {"cleared": 1}
    assert client.get(f"/api/profiles/{gone}").get_json()["not_found"] is False
    assert client.get("/api/profiles", query_string={"not_found": "true"}).get_json()["total"] == 0
    assert_error(client.post("/api/profiles/clear-not-found", json={}), 400)
    assert_error(client.post("/api/profiles/clear-not-found", json={"profile_ids": "x"}), 400)


def test_export_csv_uses_the_list_filters(client, db):  # type: ignore[no-untyped-def]
    import csv
    import io

    a = make_niche(db, name="exp_a")
    b = make_niche(db, name="exp_b")
    live = _create(client, "Zed.live", a)["id"]
    _create(client, "amy", a)
    _create(client, "bob", b)
    _set(db, live, story_expires_at=utcnow() + timedelta(hours=2),
         story_posted_at=utcnow() - timedelta(hours=1))

    def export(**params):  # type: ignore[no-untyped-def]
        response = client.get("/api/profiles/export.csv", query_string=params)
        assert response.status_code == 200 and response.mimetype == "text/csv"
        return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))

    rows = export(niche_id=a)
    assert [r["username"] for r in rows] == ["amy", "Zed.live"]
    assert rows[1]["story_live"] == "true" and rows[1]["niche"] == "exp_a"
    assert rows[1]["story_expires_at"] and rows[0]["story_posted_at"] == ""
    assert [r["username"] for r in export(active_story="true")] == ["Zed.live"]
    assert [r["username"] for r in export(search="BO")] == ["bob"]
    assert len(export()) == 3
    assert_error(client.get("/api/profiles/export.csv", query_string={"status": "bogus"}), 400)


def test_export_csv_streams_in_chunks(client, db, monkeypatch):  # type: ignore[no-untyped-def]
    from storycheck.profiles import service

    monkeypatch.setattr(service, "_EXPORT_CHUNK", 7)
    niche = make_niche(db, name="many")
    make_profiles(db, niche, 30)
    response = client.get("/api/profiles/export.csv", buffered=False)
    chunks = [chunk for chunk in response.response if chunk]
    response.close()
    text = b"".join(chunks).decode()
    assert len(text.strip().splitlines()) == 31 and len(chunks) >= 5
