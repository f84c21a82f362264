"""Batch routes: the original client's contract, the new routes, and bad input."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import update

from storycheck.batches import service
from storycheck.batches.models import Batch, BatchProfile
from storycheck.db import utcnow
from storycheck.errors import NotFound
from storycheck.profiles.models import Profile
from tests.factories import make_niche, make_profiles
from tests.helpers import assert_error

CONTRACT_FIELDS = {
    "id", "niche_id", "niche", "status", "queue_position", "total_profiles",
    "completed_profiles", "successful_checks", "failed_checks", "completion_rate",
    "profiles_with_stories", "created_at", "updated_at", "completed_at",
    "stories_found", "checks_failed", "pending_profiles", "rate_per_minute", "eta_seconds",
}


@pytest.fixture
def niche(db):
    niche_id = make_niche(db, name="fitness")
    return niche_id, make_profiles(db, niche_id, 4)


def _create(client, niche) -> dict:
    niche_id, profile_ids = niche
    response = client.post("/api/batches", json={"niche_id": niche_id, "profile_ids": profile_ids})
    assert response.status_code == 201, response.json
    return response.json


def test_create_returns_the_contract_batch_object(client, niche):
    batch = _create(client, niche)
    assert CONTRACT_FIELDS <= set(batch)
    assert batch["status"] == "in_progress" and batch["queue_position"] == 0
    assert batch["niche"]["name"] == "fitness" and batch["niche"]["profile_count"] == 4
    assert batch["total_profiles"] == 4 and batch["profiles_with_stories"] == []


def test_second_batch_waits_at_position_one(client, niche):
    _create(client, niche)
    second = _create(client, niche)
    assert (second["status"], second["queue_position"]) == ("queued", 1)
    listed = client.get("/api/batches").json
    assert [b["queue_position"] for b in listed] == [0, 1]


def test_stop_resume_start_roundtrip(client, niche):
    first = _create(client, niche)
    second = _create(client, niche)
    stopped = client.post("/api/batches/stop", json={"batch_ids": [first["id"]]})
    assert stopped.status_code == 200
    assert [(b["id"], b["status"], b["queue_position"]) for b in stopped.json] == [
        (first["id"], "paused", None)
    ]
    assert client.get(f"/api/batches/{second['id']}").json["status"] == "in_progress"
    resumed = client.post("/api/batches/resume", json={"batch_ids": [first["id"]]})
    assert resumed.json[0]["status"] == "queued" and resumed.json[0]["queue_position"] == 1
    client.post("/api/batches/stop", json={"batch_ids": [first["id"]]})
    started = client.post("/api/batches/start", json={"batch_ids": [first["id"]]})
    assert started.status_code == 200 and started.json[0]["status"] == "queued"


def test_start_running_batch_is_409_with_running_ids(client, niche):
    first = _create(client, niche)
    body = assert_error(client.post("/api/batches/start", json={"batch_ids": [first["id"]]}), 409)
    assert body["running_batch_ids"] == [first["id"]]


def test_stop_paused_batch_skips_it_and_strict_mode_refuses(client, niche):
    first = _create(client, niche)
    client.post("/api/batches/stop", json={"batch_ids": [first["id"]]})
    again = client.post("/api/batches/stop", json={"batch_ids": [first["id"]]})
    assert again.status_code == 200 and again.json == []
    assert again.headers["X-Storycheck-Skipped"] == f"{first['id']}:paused"
    strict = client.post("/api/batches/stop?strict=1", json={"batch_ids": [first["id"]]})
    assert_error(strict, 409)


def test_delete_then_list(client, niche):
    first = _create(client, niche)
    second = _create(client, niche)
    response = client.delete("/api/batches", json={"batch_ids": [first["id"]]})
    assert response.status_code == 204 and response.data == b""
    listed = client.get("/api/batches").json
    assert [(b["id"], b["status"], b["queue_position"]) for b in listed] == [
        (second["id"], "in_progress", 0)
    ]


def test_reorder_and_detail(client, niche):
    _create(client, niche)
    a, b, c = (_create(client, niche) for _ in range(3))
    response = client.post("/api/batches/reorder", json={"batch_ids": [c["id"]]})
    assert response.status_code == 200
    assert [x["id"] for x in response.json] == [c["id"], a["id"], b["id"]]
    assert [x["queue_position"] for x in response.json] == [1, 2, 3]
    detail = client.get(f"/api/batches/{a['id']}").json
    assert detail["items_total"] == 4 and {i["status"] for i in detail["items"]} == {"pending"}
    assert {"username", "has_story", "error", "attempts"} <= set(detail["items"][0])


def test_logs_have_state_changes(client, niche):
    batch = _create(client, niche)
    body = client.get(f"/api/batches/{batch['id']}/logs?limit=20&offset=0").json
    assert body["total"] >= 2 and body["limit"] == 20 and body["offset"] == 0
    assert {"id", "timestamp", "event_type", "message", "profile_id", "proxy_id"} <= set(
        body["logs"][0]
    )
    assert all(log["event_type"] == "STATE_CHANGE" for log in body["logs"])
    unknown = client.get("/api/batches/00000000-0000-0000-0000-000000000000/logs").json
    assert unknown["logs"] == [] and unknown["total"] == 0


def test_results_csv(client, niche):
    batch = _create(client, niche)
    response = client.get(f"/api/batches/{batch['id']}/results.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).strip().splitlines()
    assert lines[0].startswith("username,status,has_story") and len(lines) == 5


@pytest.fixture
def finished(client, db):
    """A batch of six accounts: story, no story, private, not found, unavailable, pending."""
    niche_id = make_niche(db, name="results")
    ids = make_profiles(db, niche_id, 6, prefix="acct")
    batch = client.post("/api/batches", json={"niche_id": niche_id, "profile_ids": ids}).json
    now = utcnow()
    story = {"status": "completed", "has_story": True, "story_count": 2,
             "latest_story_at": now - timedelta(hours=1),
             "story_expires_at": now + timedelta(hours=23), "processed_at": now}
    finals = [
        story,
        {"status": "completed", "processed_at": now},
        {"status": "completed", "processed_at": now},
        {"status": "failed", "error": "not_found", "processed_at": now},
        {"status": "failed", "error": "Profile unavailable (Instagram error)", "processed_at": now},
        {},
    ]
    with db.write() as session:
        for profile_id, values in zip(ids, finals, strict=True):
            if values:
                session.execute(
                    update(BatchProfile)
                    .where(BatchProfile.batch_id == batch["id"], BatchProfile.profile_id == profile_id)
                    .values(**values)
                )
        session.execute(update(Profile).where(Profile.id == ids[2]).values(is_private=True))
        session.execute(update(Profile).where(Profile.id == ids[3]).values(not_found=True))
    return batch["id"], ids


def _results(client, batch_id, **params):
    response = client.get(f"/api/batches/{batch_id}/results", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def test_results_list_every_account_with_its_outcome(client, finished):
    batch_id, ids = finished
    body = _results(client, batch_id)
    assert body["counts"] == {
        "story": 1, "no_story": 1, "private": 1, "failed": 2, "pending": 1, "not_found": 1
    }
    assert (body["total"], body["page"], body["page_size"]) == (6, 1, 100)
    by_id = {r["profile_id"]: r for r in body["results"]}
    assert [by_id[i]["outcome"] for i in ids] == [
        "story", "no_story", "private", "failed", "failed", "pending"
    ]
    story = by_id[ids[0]]
    assert set(story) == {"profile_id", "username", "outcome", "answer", "unknown_reason",
                          "posted_at", "expires_at", "checked_at", "item_count", "failure_kind",
                          "error"}
    # The answer of each: only a story, a proven "no story" and a confirmed missing account
    # are answers; the private account, the failed check and the pending one are unknown.
    assert [(by_id[i]["answer"], by_id[i]["unknown_reason"]) for i in ids] == [
        ("story", None),
        ("no_story", None),
        ("unknown", "private"),
        ("not_found", None),
        ("unknown", "failed"),
        ("unknown", "not_checked"),
    ]
    assert story["posted_at"] < story["checked_at"] < story["expires_at"]
    assert story["item_count"] == 2
    assert by_id[ids[1]]["posted_at"] is None and by_id[ids[1]]["checked_at"]
    assert (by_id[ids[3]]["failure_kind"], by_id[ids[4]]["failure_kind"]) == (
        "not_found", "unavailable"
    )
    assert by_id[ids[4]]["error"].startswith("Profile unavailable")
    assert by_id[ids[5]]["checked_at"] is None


def test_each_outcome_filter_lists_exactly_its_count(client, finished):
    batch_id, _ = finished
    counts = _results(client, batch_id)["counts"]
    for outcome in ("story", "no_story", "private", "failed"):
        body = _results(client, batch_id, outcome=outcome)
        assert body["total"] == len(body["results"]) == counts[outcome]
        assert {r["outcome"] for r in body["results"]} == {outcome}
    failed = _results(client, batch_id, outcome="failed")["results"]
    assert all(r["failure_kind"] and r["error"] for r in failed)


def test_results_search_and_paging(client, finished):
    batch_id, ids = finished
    username = client.get(f"/api/profiles/{ids[3]}").json["username"]
    found = _results(client, batch_id, search=username.upper())
    assert [r["profile_id"] for r in found["results"]] == [ids[3]] and found["total"] == 1
    pages = [_results(client, batch_id, page=n, page_size=4) for n in (1, 2, 3)]
    seen = [r["profile_id"] for page in pages for r in page["results"]]
    assert [len(p["results"]) for p in pages] == [4, 2, 0]
    assert sorted(seen) == sorted(ids)
    usernames = [r["username"] for page in pages for r in page["results"]]
    assert usernames == sorted(usernames, key=str.lower)


@pytest.mark.parametrize(
    "params", [{"outcome": "maybe"}, {"page": 0}, {"page_size": 1001}, {"search": "x" * 101}]
)
def test_results_reject_bad_parameters(client, finished, params):
    batch_id, _ = finished
    response = client.get(f"/api/batches/{batch_id}/results", query_string=params)
    assert_error(response, 400)


def test_results_of_an_unknown_batch_are_404(client):
    for suffix in ("results", "results.csv", "results.json"):
        assert_error(client.get(f"/api/batches/nope/{suffix}"), 404)


def test_results_csv_and_json_carry_the_outcome_and_three_times(client, finished):
    batch_id, ids = finished
    text = client.get(f"/api/batches/{batch_id}/results.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 6
    assert {"outcome", "failure_kind", "posted_at", "expires_at", "checked_at"} <= set(rows[0])
    story = next(r for r in rows if r["profile_id"] == ids[0])
    assert story["outcome"] == "story" and story["posted_at"] and story["expires_at"]
    by_id = {r["profile_id"]: r for r in rows}
    assert [(by_id[i]["answer"], by_id[i]["unknown_reason"]) for i in ids] == [
        ("story", ""),
        ("no_story", ""),
        ("unknown", "private"),
        ("not_found", ""),
        ("unknown", "failed"),
        ("unknown", "not_checked"),
    ]
    failed = client.get(f"/api/batches/{batch_id}/results.csv?outcome=failed").get_data(
        as_text=True
    )
    assert len(failed.strip().splitlines()) == 3

    response = client.get(f"/api/batches/{batch_id}/results.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = json.loads(response.get_data(as_text=True))
    assert document["batch_id"] == batch_id and document["count"] == 6
    assert document["results"] == _results(client, batch_id)["results"]


def test_retry_failed_without_failures_is_409(client, niche):
    batch = _create(client, niche)
    assert_error(client.post(f"/api/batches/{batch['id']}/retry-failed"), 409)


def test_whole_niche_batch(client, niche):
    niche_id, _ = niche
    response = client.post("/api/batches", json={"niche_id": niche_id, "all_profiles": True})
    assert response.status_code == 201 and response.json["total_profiles"] == 4


def test_invariants_endpoint(client, niche):
    _create(client, niche)
    assert client.get("/api/admin/invariants").json == {"ok": True, "violations": []}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("post", "/api/batches", {"json": {}}, 400),
        ("post", "/api/batches", {"data": "{not json", "content_type": "application/json"}, 400),
        ("post", "/api/batches", {"json": {"niche_id": "x"}}, 400),
        ("post", "/api/batches", {"json": {"niche_id": "x", "profile_ids": "abc"}}, 400),
        ("post", "/api/batches", {"json": {"niche_id": 5, "profile_ids": ["a"]}}, 400),
        ("post", "/api/batches", {"json": {"niche_id": "nope", "profile_ids": ["a"]}}, 404),
        ("post", "/api/batches", {"json": [1, 2]}, 400),
        ("post", "/api/batches/stop", {"json": {}}, 400),
        ("post", "/api/batches/stop", {"json": {"batch_ids": "x"}}, 400),
        ("post", "/api/batches/stop", {"json": {"batch_ids": [1]}}, 400),
        ("post", "/api/batches/resume", {"json": {"batch_ids": ["nope"]}}, 404),
        ("post", "/api/batches/start", {"data": "", "content_type": "application/json"}, 400),
        ("delete", "/api/batches", {"json": {"batch_ids": ["nope"]}}, 404),
        ("post", "/api/batches/reorder", {"json": {"batch_ids": [None]}}, 400),
        ("get", "/api/batches/nope", {}, 404),
        ("get", "/api/batches/x/logs?limit=abc", {}, 400),
        ("get", "/api/batches/x/logs?limit=100000", {}, 400),
        ("get", "/api/batches/x/logs?start_time=yesterday", {}, 400),
        ("get", "/api/batches?status=bogus", {}, 400),
        ("post", "/api/batches/nope/retry-failed", {}, 404),
        ("put", "/api/batches", {"json": {}}, 405),
        ("get", "/api/nothing-here", {}, 404),
    ],
)
def test_bad_input_is_a_clear_4xx(client, niche, method, path, kwargs, status):
    assert_error(getattr(client, method)(path, **kwargs), status)


def test_unknown_profile_in_create_is_404(client, niche):
    niche_id, profile_ids = niche
    response = client.post(
        "/api/batches", json={"niche_id": niche_id, "profile_ids": profile_ids + ["missing"]}
    )
    assert_error(response, 404)
    assert client.get("/api/batches").json == []


def test_cors_preflight_with_credentials(client):
    response = client.options(
        "/api/batches/start",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_cors_refuses_other_origins(client):
    response = client.get("/api/batches", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_batch_deleted_before_its_answer_is_built_answers_404(client, db, niche):
    # A concurrent delete can land between a state change and the payload of its answer
    # (seen under the stress test for retry-failed): that is "not found", never a 500.
    created = _create(client, niche)
    with db.read() as session:
        batch = session.get(Batch, created["id"])
    assert client.delete("/api/batches", json={"batch_ids": [created["id"]]}).status_code in (
        200,
        204,
    )
    with db.read() as session, pytest.raises(NotFound):
        service.batch_payload(session, batch)
