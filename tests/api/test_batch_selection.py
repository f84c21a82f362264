"""The original client's multi-select flows: list actions act on the eligible batches.

The batch table's header checkbox selects every batch; "Stop Selected" / "Resume Selected" /
"Start Selected" then send every id. The original server changed the eligible batches and
answered 200 with the array of those; the rest were ignored (original-contract.md §5.4–5.6).
"""

from __future__ import annotations

import pytest

from tests.batches.helpers import assert_invariants, finish_items
from tests.factories import make_niche, make_profiles


@pytest.fixture
def niche(db):
    niche_id = make_niche(db, name="fitness")
    return niche_id, make_profiles(db, niche_id, 3)


def _create(client, niche) -> str:
    niche_id, profile_ids = niche
    response = client.post("/api/batches", json={"niche_id": niche_id, "profile_ids": profile_ids})
    assert response.status_code == 201, response.json
    return response.json["id"]


def _statuses(client) -> dict[str, tuple[str, int | None]]:
    return {b["id"]: (b["status"], b["queue_position"]) for b in client.get("/api/batches").json}


@pytest.fixture
def mixed(client, db, niche):
    """One batch of each state: done, paused, running, queued."""
    done = _create(client, niche)
    finish_items(db, done)
    services = client.application.extensions["storycheck"]
    assert services.state.complete_if_finished(done)
    paused = _create(client, niche)
    running = _create(client, niche)
    assert client.post("/api/batches/stop", json={"batch_ids": [paused]}).status_code == 200
    queued = _create(client, niche)
    assert _statuses(client)[running] == ("in_progress", 0)
    assert _statuses(client)[queued] == ("queued", 1)
    return {"done": done, "paused": paused, "running": running, "queued": queued}


def test_select_all_stop_pauses_running_and_queued_and_skips_the_rest(client, db, mixed):
    response = client.post("/api/batches/stop", json={"batch_ids": list(mixed.values())})

    assert response.status_code == 200
    assert sorted(b["id"] for b in response.json) == sorted([mixed["running"], mixed["queued"]])
    assert all(b["status"] == "paused" for b in response.json)
    skipped = set(response.headers["X-Storycheck-Skipped"].split(","))
    assert skipped == {f"{mixed['done']}:done", f"{mixed['paused']}:paused"}
    after = _statuses(client)
    assert after[mixed["done"]] == ("done", None)
    assert {after[mixed[k]] for k in ("paused", "running", "queued")} == {("paused", None)}
    assert_invariants(db)


def test_select_all_resume_requeues_only_paused(client, db, mixed):
    response = client.post("/api/batches/resume", json={"batch_ids": list(mixed.values())})

    assert response.status_code == 200
    assert [b["id"] for b in response.json] == [mixed["paused"]]
    assert response.json[0]["status"] == "queued" and response.json[0]["queue_position"] == 2
    assert _statuses(client)[mixed["running"]] == ("in_progress", 0)
    assert_invariants(db)


def test_select_all_start_requeues_paused_and_done(client, db, mixed):
    response = client.post("/api/batches/start", json={"batch_ids": list(mixed.values())})

    assert response.status_code == 200
    assert sorted(b["id"] for b in response.json) == sorted([mixed["paused"], mixed["done"]])
    assert {b["status"] for b in response.json} == {"queued"}
    skipped = response.headers["X-Storycheck-Skipped"]
    assert f"{mixed['queued']}:queued" in skipped and f"{mixed['running']}:in_progress" in skipped
    assert_invariants(db)


def test_nothing_eligible_answers_an_empty_list(client, mixed):
    response = client.post("/api/batches/stop", json={"batch_ids": [mixed["done"]]})
    assert response.status_code == 200 and response.json == []
    response = client.post("/api/batches/resume", json={"batch_ids": [mixed["queued"]]})
    assert response.status_code == 200 and response.json == []


def test_start_of_running_batches_only_keeps_the_original_409(client, mixed):
    response = client.post("/api/batches/start", json={"batch_ids": [mixed["running"]]})
    assert response.status_code == 409
    assert response.json["running_batch_ids"] == [mixed["running"]]


def test_strict_mode_refuses_the_whole_list(client, db, mixed):
    before = _statuses(client)
    response = client.post("/api/batches/stop?strict=1", json={"batch_ids": list(mixed.values())})

    assert response.status_code == 409
    assert response.json["error"] == "illegal_transition"
    assert mixed["done"] in response.json["message"]
    assert _statuses(client) == before


def test_unknown_ids_are_ignored_and_an_all_unknown_list_is_404(client, mixed):
    response = client.post(
        "/api/batches/stop", json={"batch_ids": [mixed["running"], "no-such-batch"]}
    )
    assert response.status_code == 200 and [b["id"] for b in response.json] == [mixed["running"]]
    assert client.post("/api/batches/stop", json={"batch_ids": ["nope"]}).status_code == 404


def test_every_payload_lists_its_allowed_actions(client, mixed):
    actions = {b["id"]: b["allowed_actions"] for b in client.get("/api/batches").json}
    assert actions[mixed["running"]] == ["stop", "delete"]
    assert actions[mixed["queued"]] == ["stop", "reorder", "delete"]
    assert actions[mixed["paused"]] == ["resume", "delete"]
    assert actions[mixed["done"]] == ["start", "delete"]
