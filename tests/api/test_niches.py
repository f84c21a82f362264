"""Niche routes: list/get/create/update/delete/reorder, with the original's defects fixed."""

from __future__ import annotations

from sqlalchemy import select

from storycheck.batches.models import Batch
from storycheck.profiles.models import Profile
from tests.factories import make_niche, make_profiles
from tests.helpers import assert_error


def test_list_is_ordered_by_order_then_name_with_real_counts(client, db):  # type: ignore[no-untyped-def]
    b = make_niche(db, name="beta", order=1)
    a = make_niche(db, name="alpha", order=1)
    z = make_niche(db, name="zulu", order=0)
    make_profiles(db, a, 3)
    deleted = make_profiles(db, a, 1, prefix="gone")
    client.delete(f"/api/profiles/{deleted[0]}")

    response = client.get("/api/niches")

    assert response.status_code == 200
    body = response.get_json()
    assert [n["id"] for n in body] == [z, a, b]
    assert {n["id"]: n["profile_count"] for n in body} == {z: 0, a: 3, b: 0}
    assert set(body[0]) == {
        "id",
        "name",
        "order",
        "daily_story_target",
        "profile_count",
        "created_at",
        "updated_at",
    }


def test_get_one_reports_real_profile_count(client, db):  # type: ignore[no-untyped-def]
    niche = make_niche(db, name="one")
    make_profiles(db, niche, 2)

    body = client.get(f"/api/niches/{niche}").get_json()

    assert body["name"] == "one" and body["profile_count"] == 2


def test_get_unknown_is_404(client):  # type: ignore[no-untyped-def]
    body = assert_error(client.get("/api/niches/nope"), 404)
    assert body["message"] == "Niche not found"


def test_create_returns_201_and_appends_at_the_end(client, db):  # type: ignore[no-untyped-def]
    make_niche(db, name="first", order=4)

    response = client.post("/api/niches", json={"name": "  Fitness  "})

    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "Fitness"
    assert body["order"] == 5
    assert body["daily_story_target"] == 10
    assert body["profile_count"] == 0
    assert [n["name"] for n in client.get("/api/niches").get_json()] == ["first", "Fitness"]


def test_create_accepts_order_and_target(client):  # type: ignore[no-untyped-def]
    body = client.post(
        "/api/niches", json={"name": "n", "order": 3, "daily_story_target": 25}
    ).get_json()
    assert (body["order"], body["daily_story_target"]) == (3, 25)


def test_create_rejects_bad_input(client):  # type: ignore[no-untyped-def]
    assert assert_error(client.post("/api/niches", json={}), 400)["message"] == "No data provided"
    assert assert_error(client.post("/api/niches", json={"order": 1}), 400)["message"] == (
        "name is required"
    )
    assert assert_error(client.post("/api/niches", json={"name": "   "}), 400)["message"] == (
        "Niche name cannot be empty"
    )
    assert_error(client.post("/api/niches", json={"name": "x" * 51}), 400)
    assert_error(client.post("/api/niches", json={"name": 5}), 400)
    assert_error(client.post("/api/niches", json={"name": "ok", "order": "first"}), 400)
    assert_error(client.post("/api/niches", json={"name": "ok", "daily_story_target": -1}), 400)
    assert_error(client.post("/api/niches", json=["name"]), 400)
    assert_error(client.post("/api/niches", data="{not json", content_type="application/json"), 400)
    assert_error(client.post("/api/niches"), 400)
    assert client.get("/api/niches").get_json() == []


def test_create_accepts_a_fifty_character_name(client):  # type: ignore[no-untyped-def]
    assert client.post("/api/niches", json={"name": "x" * 50}).status_code == 201


def test_create_duplicate_is_400_as_in_the_original(client, db):  # type: ignore[no-untyped-def]
    make_niche(db, name="Travel")
    body = assert_error(client.post("/api/niches", json={"name": "Travel"}), 400)
    assert body["error"] == body["message"] == "Niche already exists"


def test_update_changes_fields_and_reports_real_count(client, db):  # type: ignore[no-untyped-def]
    niche = make_niche(db, name="old")
    make_profiles(db, niche, 4)

    response = client.put(
        f"/api/niches/{niche}",
        json={"name": "new", "order": 7, "daily_story_target": 30, "ignored": True},
    )

    assert response.status_code == 200
    body = response.get_json()
    assert (body["name"], body["order"], body["daily_story_target"]) == ("new", 7, 30)
    assert body["profile_count"] == 4


def test_update_with_only_the_same_name_is_fine(client, db):  # type: ignore[no-untyped-def]
    niche = make_niche(db, name="same")
    assert client.put(f"/api/niches/{niche}", json={"name": "same"}).status_code == 200


def test_update_rejects_bad_input(client, db):  # type: ignore[no-untyped-def]
    niche = make_niche(db, name="a")
    make_niche(db, name="b")
    assert_error(client.put("/api/niches/unknown", json={"name": "x"}), 404)
    assert assert_error(client.put(f"/api/niches/{niche}", json={"name": ""}), 400)["message"] == (
        "Niche name cannot be empty"
    )
    assert assert_error(client.put(f"/api/niches/{niche}", json={"name": "b"}), 400)["message"] == (
        "Niche already exists"
    )
    assert_error(client.put(f"/api/niches/{niche}", json={"daily_story_target": "many"}), 400)
    assert_error(client.put(f"/api/niches/{niche}", json={"order": True}), 400)
    assert_error(client.put(f"/api/niches/{niche}", data="nope", content_type="application/json"), 400)
    assert client.get(f"/api/niches/{niche}").get_json()["name"] == "a"


def test_delete_moves_profiles_to_the_first_other_niche(client, db):  # type: ignore[no-untyped-def]
    doomed = make_niche(db, name="doomed", order=0)
    later = make_niche(db, name="later", order=5)
    first = make_niche(db, name="first", order=2)
    ids = make_profiles(db, doomed, 3)

    assert client.delete(f"/api/niches/{doomed}").status_code == 204

    assert client.get(f"/api/niches/{doomed}").status_code == 404
    with db.read() as session:
        niches = set(session.scalars(select(Profile.niche_id).where(Profile.id.in_(ids))))
    assert niches == {first}
    assert later != first


def test_deleting_the_last_niche_works_and_unassigns_profiles(client, db):  # type: ignore[no-untyped-def]
    only = make_niche(db, name="only")
    ids = make_profiles(db, only, 2)

    assert client.delete(f"/api/niches/{only}").status_code == 204

    assert client.get("/api/niches").get_json() == []
    listed = client.get("/api/profiles").get_json()["profiles"]
    assert {p["id"] for p in listed} == set(ids)
    assert all(p["niche_id"] is None and p["niche"] is None for p in listed)


def test_deleting_an_empty_last_niche_works(client, db):  # type: ignore[no-untyped-def]
    only = make_niche(db, name="empty")
    assert client.delete(f"/api/niches/{only}").status_code == 204


def test_delete_removes_batches_through_the_state_manager(client, db, services):  # type: ignore[no-untyped-def]
    doomed = make_niche(db, name="doomed")
    other = make_niche(db, name="other", order=3)
    doomed_profiles = make_profiles(db, doomed, 3)
    other_profiles = make_profiles(db, other, 2)
    services.state.create_batch(niche_id=other, profile_ids=other_profiles)  # runs
    services.state.create_batch(niche_id=doomed, profile_ids=doomed_profiles)  # queued #1
    kept = services.state.create_batch(niche_id=other, profile_ids=other_profiles)  # queued #2

    assert client.delete(f"/api/niches/{doomed}").status_code == 204

    with db.read() as session:
        batches = session.scalars(select(Batch)).all()
        assert all(b.niche_id == other for b in batches)
        assert len(batches) == 2
        renumbered = session.get(Batch, kept.id)
        assert renumbered is not None and renumbered.queue_position == 1
    assert client.get("/api/admin/invariants").get_json()["ok"] is True


def test_delete_unknown_is_404(client):  # type: ignore[no-untyped-def]
    assert_error(client.delete("/api/niches/missing"), 404)


def test_reorder_sets_the_given_order(client, db):  # type: ignore[no-untyped-def]
    a = make_niche(db, name="a", order=0)
    b = make_niche(db, name="b", order=1)
    c = make_niche(db, name="c", order=2)

    response = client.post("/api/niches/reorder", json={"niche_ids": [c, a, b]})

    assert response.status_code == 200
    assert [n["id"] for n in response.get_json()] == [c, a, b]
    assert [n["id"] for n in client.get("/api/niches").get_json()] == [c, a, b]
    assert [n["order"] for n in client.get("/api/niches").get_json()] == [0, 1, 2]


def test_reorder_rejects_bad_lists(client, db):  # type: ignore[no-untyped-def]
    a = make_niche(db, name="a")
    b = make_niche(db, name="b")
    assert assert_error(client.post("/api/niches/reorder", json={}), 400)["message"] == (
        "niche_ids is required"
    )
    assert_error(client.post("/api/niches/reorder", json={"niche_ids": a}), 400)
    assert_error(client.post("/api/niches/reorder", json={"niche_ids": [a, 3]}), 400)
    unknown = assert_error(client.post("/api/niches/reorder", json={"niche_ids": [a, b, "ghost"]}), 400)
    assert "Invalid niche ID" in unknown["message"]
    partial = assert_error(client.post("/api/niches/reorder", json={"niche_ids": [a]}), 400)
    assert "All niches must be included" in partial["message"]
    assert_error(client.post("/api/niches/reorder", json={"niche_ids": [a, a, b]}), 400)
    assert_error(client.post("/api/niches/reorder", data="[", content_type="application/json"), 400)


def test_nul_characters_never_cause_a_500(client, db):  # type: ignore[no-untyped-def]
    niche = make_niche(db, name="n")
    for response in (
        client.post("/api/niches", json={"name": "a\x00b"}),
        client.get("/api/niches/%00"),
        client.put(f"/api/niches/{niche}", json={"name": "x\x00"}),
        client.delete("/api/niches/%00"),
    ):
        assert response.status_code < 500
        assert response.status_code in (200, 201, 204) or response.get_json()["message"]


def test_control_characters_are_refused_in_names(client):  # type: ignore[no-untyped-def]
    for name in ("two\nlines", "tab\there", "nul\x00byte", "del\x7f"):
        body = assert_error(client.post("/api/niches", json={"name": name}), 400)
        assert "control characters" in body["message"]
    assert client.get("/api/niches").get_json() == []
