"""Why a batch is not moving, whether it is stalled, and its model ETA, in the API (issue 13)."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import event, insert, select, update

from storycheck.alerts.models import AlertEvent
from storycheck.alerts.sources import check_stalled_batches
from storycheck.batches.models import Batch, BatchProfile
from storycheck.db import Database, new_id, utcnow
from storycheck.profiles.models import Profile
from storycheck.proxies.models import IgSession, Proxy, ProxyUsage
from storycheck.testing import seed_profiles
from storycheck.web.api import event_hub
from tests.factories import make_niche, make_profiles, set_settings

PORTS = itertools.count(20000)  # never connected to: the rows only describe pairs


def add_pair(db: Database, health: str = "ready", **proxy: Any) -> str:
    proxy_id = new_id()
    with db.write() as session:
        session.add(Proxy(id=proxy_id, ip="127.0.0.1", port=next(PORTS), health=health, **proxy))
        session.flush()
        session.add(IgSession(session_encrypted="opaque", session_digest=new_id(),
                              proxy_id=proxy_id))
    return proxy_id


def create_batch(client: Any, db: Database, profiles: list[str] | None = None) -> dict[str, Any]:
    niche = make_niche(db)
    ids = profiles or make_profiles(db, niche, 4)
    response = client.post("/api/batches", json={"niche_id": niche, "profile_ids": ids})
    assert response.status_code == 201, response.json
    return dict(response.json)


def listed(client: Any) -> dict[str, dict[str, Any]]:
    return {b["id"]: b for b in client.get("/api/batches").json}


def test_a_running_batch_without_pairs_says_why_and_a_queued_one_where_it_waits(client, db):
    running = create_batch(client, db)
    queued = create_batch(client, db)
    assert running["status"] == "in_progress"
    assert running["waiting_reason"] == "no usable pair: none configured (add a proxy + session)"
    assert running["waiting_code"] == "no_usable_pair"
    assert running["eta_seconds"] is None and running["eta_range_seconds"] is None
    assert running["stalled"] is False
    batches = listed(client)
    assert batches[queued["id"]]["waiting_reason"] == (
        "queued #1: 1 running (max_concurrent_batches = 1)"
    )
    assert batches[queued["id"]]["waiting_code"] == "queued"
    detail = client.get(f"/api/batches/{running['id']}").json
    assert detail["waiting_reason"] == running["waiting_reason"]
    paused = client.post("/api/batches/stop", json={"batch_ids": [queued["id"]]}).json[0]
    assert paused["waiting_reason"] is None and paused["eta_seconds"] is None


def test_the_reason_names_what_holds_each_pair(client, db):
    add_pair(db, "invalid")
    add_pair(db, "invalid")
    until = utcnow() + timedelta(minutes=3)
    add_pair(db, "cooling", cooldown_until=until)
    batch = create_batch(client, db)
    reason = batch["waiting_reason"]
    assert reason.startswith(
        "no usable pair: 2 invalid (new session needed), 1 cooling until "
        f"{until:%H:%M} UTC (in "
    ), reason
    assert batch["waiting_until"][:16] == until.isoformat()[:16]
    # The cooling pair is coming back: the ETA counts from its cooldown.
    assert batch["eta_seconds"] >= 170


def test_the_eta_comes_from_the_model_and_names_what_binds(client, db):
    set_settings(db, lookup_hourly_limit=1, proxy_hourly_limit=150, min_request_interval=2.0)
    add_pair(db)
    add_pair(db)
    niche = make_niche(db)
    new = seed_profiles(db, niche, [f"new{i}" for i in range(10)])
    known_names = [f"known{i}" for i in range(30)]
    known = seed_profiles(
        db, niche, known_names,
        user_ids={n: str(i) for i, n in enumerate(known_names)},
        private=dict.fromkeys(known_names, False),
    )
    batch = create_batch(client, db, new + known)
    assert batch["waiting_reason"] is None
    assert batch["eta_bound_by"] == "bound by lookups: 10 new accounts"
    low, high = batch["eta_range_seconds"]
    assert low <= batch["eta_seconds"] <= high
    # 2 pairs × 1 lookup an hour: 10.5 lookups (with "not found" confirmations) take ~4 h.
    assert 4 * 3600 <= batch["eta_seconds"] <= 5 * 3600


def test_a_spent_lookup_budget_holds_new_accounts(client, db):
    set_settings(db, lookup_hourly_limit=5)
    pairs = [add_pair(db), add_pair(db)]
    minute = int(utcnow().timestamp() // 60)
    with db.write() as session:
        session.execute(insert(ProxyUsage), [
            {"proxy_id": p, "kind": "lookup", "minute": minute - 10, "requests": 5} for p in pairs
        ])
    batch = create_batch(client, db)
    assert batch["waiting_code"] == "lookup_budget"
    assert batch["waiting_reason"].startswith("lookup budget exhausted until ")
    assert batch["waiting_reason"].endswith(": 4 new accounts need a username lookup")
    assert batch["eta_seconds"] >= 49 * 60  # the window frees its first lookups in ~50 min


def test_a_batch_without_a_usable_pair_for_n_minutes_is_stalled_and_alerted(client, db):
    add_pair(db, "invalid")
    batch = create_batch(client, db)
    assert batch["stalled"] is False
    with db.write() as session:
        session.execute(
            update(Batch).where(Batch.id == batch["id"])
            .values(started_at=utcnow() - timedelta(minutes=11),
                    updated_at=utcnow() - timedelta(minutes=11))
        )
    shown = listed(client)[batch["id"]]
    assert shown["stalled"] is True and shown["stalled_since"]
    dashboard = client.get("/api/dashboard").json["pool"]
    assert dashboard["waiting_reason"] == "no usable pair: 1 invalid (new session needed)"
    assert dashboard["running_batches"][0]["stalled"] is True
    with db.write() as session:
        assert len(check_stalled_batches(session, utcnow(), 10)) == 1
    with db.read() as session:
        (payload,) = session.scalars(
            select(AlertEvent.payload).where(AlertEvent.type == "batch.stalled")
        ).all()
    assert json.loads(payload)["waiting_reason"] == "no usable pair: 1 invalid (new session needed)"


def test_dashboard_pool_summary(client, db):
    set_settings(db, lookup_hourly_limit=60, proxy_hourly_limit=150)
    add_pair(db)
    add_pair(db, "challenge")
    pool = client.get("/api/dashboard").json["pool"]
    assert pool["pairs"] == 2 and pool["ready"] == 1 and pool["usable"] == 1
    assert pool["lookups_per_hour"] == 60 and pool["requests_per_hour"] == 150
    assert pool["lookups_left"] == 60
    assert pool["summary"] == "1 of 2 pairs ready; 1 challenge (needs a human)"
    assert pool["waiting_reason"] is None and pool["running_batches"] == []


def test_the_batch_list_reads_the_pool_once_whatever_the_number_of_batches(
    client, db, monkeypatch
):
    from storycheck.batches import progress

    monkeypatch.setattr(progress, "WORK_COST_FACTOR", 0.0)  # count afresh on every request
    add_pair(db)

    def statements() -> int:
        seen: list[str] = []
        engine = db.engine

        def count(*args: Any) -> None:
            seen.append(args[2])

        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get("/api/batches").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    create_batch(client, db)
    create_batch(client, db)
    few = statements()
    for _ in range(8):
        create_batch(client, db)
    assert statements() == few


def test_the_event_stream_sends_a_new_reason_although_the_batch_row_did_not_change(app, client, db):
    pair = add_pair(db)
    batch = create_batch(client, db)
    with app.app_context():
        hub = event_hub()
        hub._refresh()  # the state a new stream starts from
        with db.write() as session:
            session.execute(update(Proxy).where(Proxy.id == pair).values(health="invalid"))
        events = [json.loads(data) for kind, data in hub._refresh() if kind == "batch"]
    assert [e["id"] for e in events] == [batch["id"]]
    assert events[0]["waiting_reason"] == "no usable pair: 1 invalid (new session needed)"


def test_a_big_batch_is_counted_on_a_sample(client, db, monkeypatch):
    from storycheck.batches import progress

    monkeypatch.setattr(progress, "EXACT_LIMIT", 100)
    monkeypatch.setattr(progress, "SAMPLE_SIZE", 300)
    add_pair(db)
    niche = make_niche(db)
    names = [f"big{i}" for i in range(1200)]
    known = names[::3]  # a third checked before, two thirds new
    ids = seed_profiles(db, niche, names, user_ids={n: str(i) for i, n in enumerate(known)},
                        private=dict.fromkeys(known, False))
    batch = create_batch(client, db, ids)
    with db.read() as session:
        (work,) = progress.read_work(
            session, [batch["id"]], now=utcnow().timestamp(), open_items={batch["id"]: 1200}
        ).values()
        exact = progress.read_work(session, [batch["id"]], now=utcnow().timestamp())
    assert exact[batch["id"]] == progress.Work(1200, 800, 0)
    assert work.pending == 1200
    assert abs(work.unresolved - 800) <= 120  # a 300-item sample: a few percent off at most


def test_a_niche_batch_has_ascending_ids_and_is_still_sampled_evenly(client, db, monkeypatch):
    """Imported profiles and a niche batch's items get ascending ids (`db.ordered_ids`); the
    progress sample, chosen by the ids' last digits, still spreads over the whole batch."""
    from storycheck.batches import progress

    monkeypatch.setattr(progress, "EXACT_LIMIT", 100)
    monkeypatch.setattr(progress, "SAMPLE_SIZE", 300)
    add_pair(db)
    niche = make_niche(db)
    names = [f"ordered{i}" for i in range(1200)]
    response = client.post(f"/api/profiles/niches/{niche}/import", data="\n".join(names).encode())
    assert response.status_code == 201
    with db.write() as session:
        by_id = session.execute(
            select(Profile.id, Profile.username).where(Profile.niche_id == niche).order_by(Profile.id)
        ).all()
        # A third of the accounts known, every third line of the file.
        known = [profile_id for profile_id, name in by_id if int(name[7:]) % 3 == 0]
        session.execute(
            update(Profile).where(Profile.id.in_(known)).values(ig_user_id="1", is_private=False)
        )
    assert [name for _, name in by_id] == sorted(names)  # ids ascend in username order
    batch = client.post("/api/batches", json={"niche_id": niche, "all_profiles": True}).json
    with db.read() as session:
        items = session.execute(
            select(BatchProfile.id, BatchProfile.profile_id)
            .where(BatchProfile.batch_id == batch["id"])
            .order_by(BatchProfile.id)
        ).all()
        (work,) = progress.read_work(
            session, [batch["id"]], now=utcnow().timestamp(), open_items={batch["id"]: 1200}
        ).values()
    assert [profile_id for _, profile_id in items] == [profile_id for profile_id, _ in by_id]
    assert {uuid.UUID(item_id).version for item_id, _ in items} == {7}
    assert work.pending == 1200
    assert abs(work.unresolved - 800) <= 120


def test_a_big_batch_is_sampled_through_its_ids_or_by_digits_without_them(client, db, monkeypatch):
    """A batch's run of ordered ids is probed at SAMPLE_SIZE evenly spread ids (the count
    reads the sample, not the batch); items with random ids fall back to the digits sample."""
    from storycheck.batches import progress

    monkeypatch.setattr(progress, "EXACT_LIMIT", 100)
    monkeypatch.setattr(progress, "SAMPLE_SIZE", 300)
    add_pair(db)
    niche = make_niche(db)
    names = [f"probe{i}" for i in range(1200)]
    known = names[::3]
    ids = seed_profiles(db, niche, names, user_ids={n: str(i) for i, n in enumerate(known)},
                        private=dict.fromkeys(known, False))
    batch = create_batch(client, db, ids)
    with db.read() as session:
        probe = progress._probe_ids(session, batch["id"])
        items = sorted(session.scalars(select(BatchProfile.id).where(BatchProfile.batch_id == batch["id"])))
    assert probe is not None and len(probe) == 300 and set(probe) <= set(items)
    positions = [items.index(item_id) for item_id in probe]
    assert positions[0] == 0 and positions[-1] >= 1195  # spread over the whole run
    assert all(3 <= b - a <= 5 for a, b in zip(positions, positions[1:], strict=False))

    # The same batch with random ids (a database from before ordered ids).
    with db.write() as session:
        for item_id in items:
            session.execute(
                update(BatchProfile).where(BatchProfile.id == item_id).values(id=str(uuid.uuid4()))
            )
    with db.read() as session:
        assert progress._probe_ids(session, batch["id"]) is None
        (work,) = progress.read_work(
            session, [batch["id"]], now=utcnow().timestamp(), open_items={batch["id"]: 1200}
        ).values()
    assert work.pending == 1200 and abs(work.unresolved - 800) <= 120
