"""Live events (SSE) and the dashboard."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update

from storycheck.db import utcnow
from storycheck.profiles.models import Profile
from tests.factories import make_niche, make_profiles


def _events(text: str) -> list[tuple[str, dict]]:
    found = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


def test_event_stream_sends_batches_and_proxies(client, db):
    niche = make_niche(db, name="live")
    batch = client.post(
        "/api/batches", json={"niche_id": niche, "profile_ids": make_profiles(db, niche, 2)}
    ).json
    client.post("/api/proxies", json={"ip": "127.0.0.1", "port": 9100, "session": "s" * 20})
    response = client.get("/api/events?max_seconds=0.5")
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    events = _events(response.get_data(as_text=True))
    batches = [data for kind, data in events if kind == "batch"]
    assert batches[0]["id"] == batch["id"] and batches[0]["niche"]["name"] == "live"
    proxies = [data for kind, data in events if kind == "proxy"]
    assert proxies and "s" * 20 not in json.dumps(proxies)


def test_event_stream_rejects_bad_duration(client):
    response = client.get("/api/events?max_seconds=abc")
    assert response.status_code == 400 and response.json["message"]


def test_dashboard_says_whether_a_niche_was_checked_today(client, db):
    niche = make_niche(db, name="dash")
    ids = make_profiles(db, niche, 2)
    now = utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)

    def checked_today(last_checked):
        with db.write() as session:
            session.execute(
                update(Profile).where(Profile.id == ids[0]).values(last_checked=last_checked)
            )
        return client.get("/api/dashboard").json["niches"][0]["checked_today"]

    assert checked_today(None) is False
    assert checked_today(midnight - timedelta(minutes=1)) is False  # yesterday's check
    assert checked_today(now) is True


def test_dashboard_says_whether_a_check_today_could_see(client, db):
    niche = make_niche(db, name="hidden")
    ids = make_profiles(db, niche, 2)
    now = utcnow()

    def today(**values):  # type: ignore[no-untyped-def]
        with db.write() as session:
            session.execute(update(Profile).where(Profile.id == ids[0]).values(**values))
        entry = client.get("/api/dashboard").json["niches"][0]
        return entry["checked_today"], entry["seen_today"]

    # Checked now, but the check could not see (a private account no session follows).
    assert today(last_checked=now, story_seen_at=None, is_private=True) == (True, False)
    assert today(story_seen_at=now - timedelta(days=2)) == (True, False)
    # The latest check saw: "no story" is an answer.
    assert today(story_seen_at=now, is_private=False) == (True, True)


def test_dashboard_shape(client, db):
    niche = make_niche(db, name="dash", daily_story_target=7)
    make_profiles(db, niche, 3)
    body = client.get("/api/dashboard").json
    assert body["niches"] == [
        {"id": niche, "name": "dash", "daily_story_target": 7, "stories_today": 0,
         "profile_count": 3, "checked_today": False, "seen_today": False}
    ]
    assert len(body["throughput"]) == 60 and all(p["checks"] == 0 for p in body["throughput"])
    assert set(body["pairs"]) == {"ready", "cooling", "open", "invalid", "challenge", "disabled"}
