"""Story windows and the "who has a story now" routes, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from storycheck.db import Database
from storycheck.profiles.models import Profile
from storycheck.stories.events import StoryFeed
from storycheck.stories.models import StoryWindow
from storycheck.stories.windows import Sighting, record_sightings
from tests.factories import make_niche, make_profiles

HOUR = 3600.0
DAY = 24 * HOUR


def _record(db: Database, *sightings: Sighting) -> list[str]:
    with db.write() as session:
        return record_sightings(session.connection(), list(sightings))


def _story(
    profile_id: str,
    *,
    seen: float,
    first: float | None,
    last: float | None,
    expires: float | None,
    items: int = 1,
    batch_id: str | None = None,
) -> Sighting:
    return Sighting(profile_id, batch_id, seen, items, first, last, expires)


def _windows(db: Database, profile_id: str) -> list[StoryWindow]:
    with db.read() as session:
        return list(
            session.scalars(
                select(StoryWindow)
                .where(StoryWindow.profile_id == profile_id)
                .order_by(StoryWindow.first_seen_at)
            )
        )


def _profile(db: Database, profile_id: str) -> Profile:
    with db.read() as session:
        profile = session.get(Profile, profile_id)
        assert profile is not None
        return profile


def _at(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


# ---------------------------------------------------------------------------- record_sightings


def test_an_overlapping_sighting_extends_the_window(db):
    (pid,) = make_profiles(db, make_niche(db), 1)
    now = time.time()
    first = _story(pid, seen=now - 5 * HOUR, first=now - 6 * HOUR, last=now - 6 * HOUR,
                   expires=now + 18 * HOUR)
    assert _record(db, first) == [pid]

    # Two hours later: the old item is still there, a new one was added.
    later = _story(pid, seen=now - 3 * HOUR, first=now - 6 * HOUR, last=now - 4 * HOUR,
                   expires=now + 20 * HOUR, items=2)
    assert _record(db, later) == []

    (window,) = _windows(db, pid)
    assert window.first_taken_at == _at(now - 6 * HOUR)
    assert window.last_taken_at == _at(now - 4 * HOUR)
    assert window.expires_at == _at(now + 20 * HOUR)
    assert (window.item_count, window.first_seen_at, window.last_seen_at) == (
        2, _at(now - 5 * HOUR), _at(now - 3 * HOUR)
    )
    profile = _profile(db, pid)
    assert profile.story_posted_at == _at(now - 4 * HOUR)
    assert profile.story_first_posted_at == _at(now - 6 * HOUR)
    assert profile.story_expires_at == _at(now + 20 * HOUR)
    assert (profile.story_item_count, profile.active_story) == (2, True)


def test_a_story_after_the_window_expired_opens_a_new_one(db):
    (pid,) = make_profiles(db, make_niche(db), 1)
    now = time.time()
    old = _story(pid, seen=now - 40 * HOUR, first=now - 41 * HOUR, last=now - 41 * HOUR,
                 expires=now - 17 * HOUR)
    assert _record(db, old) == [pid]
    new = _story(pid, seen=now, first=now - HOUR, last=now - HOUR, expires=now + 23 * HOUR)
    assert _record(db, new) == [pid]
    windows = _windows(db, pid)
    assert [w.expires_at for w in windows] == [_at(now - 17 * HOUR), _at(now + 23 * HOUR)]
    assert _profile(db, pid).story_expires_at == _at(now + 23 * HOUR)


def test_only_profiles_with_a_new_window_are_returned(db):
    a, b, c = make_profiles(db, make_niche(db), 3)
    now = time.time()
    _record(db, _story(a, seen=now - HOUR, first=now - 2 * HOUR, last=now - 2 * HOUR,
                       expires=now + 22 * HOUR))
    batch = [
        _story(a, seen=now, first=now - 2 * HOUR, last=now - 2 * HOUR, expires=now + 22 * HOUR),
        _story(b, seen=now, first=now - 3 * HOUR, last=now - HOUR, expires=now + 23 * HOUR),
        Sighting(c, None, now, 0, None, None, None),  # checked: no story
    ]
    assert _record(db, *batch) == [b]
    assert _windows(db, c) == []


def test_no_story_ends_a_live_window_early(db):
    (pid,) = make_profiles(db, make_niche(db), 1)
    now = time.time()
    _record(db, _story(pid, seen=now - HOUR, first=now - 2 * HOUR, last=now - 2 * HOUR,
                       expires=now + 22 * HOUR))
    assert _record(db, Sighting(pid, None, now - 60, 0, None, None, None)) == []
    (window,) = _windows(db, pid)
    assert window.expires_at == _at(now - 60)
    profile = _profile(db, pid)
    assert (profile.active_story, profile.story_expires_at) == (False, _at(now - 60))


def test_missing_times_fall_back_to_24_hours(db):
    a, b = make_profiles(db, make_niche(db), 2)
    now = time.time()
    _record(
        db,
        _story(a, seen=now, first=None, last=now - HOUR, expires=None),
        _story(b, seen=now, first=None, last=None, expires=None),
    )
    assert _windows(db, a)[0].expires_at == _at(now - HOUR + DAY)
    assert _windows(db, a)[0].first_taken_at == _at(now - HOUR)  # oldest unknown: newest
    assert _windows(db, b)[0].expires_at == _at(now + DAY)
    assert _profile(db, b).story_posted_at == _at(now)  # no item time: the first sight


# ---------------------------------------------------------------------------------- live list


@pytest.fixture
def world(db):
    """Two niches; live stories posted 1..5 hours ago, one expired, one soft-deleted."""
    fitness = make_niche(db, name="Fitness", order=0)
    food = make_niche(db, name="Food", order=1)
    fit = make_profiles(db, fitness, 4, prefix="fit")
    eat = make_profiles(db, food, 3, prefix="eat")
    now = time.time()
    sightings = []
    for hours, pid in enumerate([*fit[:3], *eat[:2]], start=1):
        sightings.append(_story(pid, seen=now - 60, first=now - hours * HOUR - 60,
                                last=now - hours * HOUR, expires=now - hours * HOUR + DAY,
                                items=hours))
    sightings.append(_story(fit[3], seen=now - 30 * HOUR, first=now - 31 * HOUR,
                            last=now - 31 * HOUR, expires=now - 7 * HOUR))
    sightings.append(_story(eat[2], seen=now - 60, first=now - HOUR, last=now - HOUR,
                            expires=now + 23 * HOUR))
    _record(db, *sightings)
    with db.write() as session:
        session.execute(update(Profile).where(Profile.id == eat[2]).values(status="deleted"))
    live = [*fit[:3], *eat[:2]]  # newest post first
    return {"fitness": fitness, "food": food, "live": live, "expired": fit[3], "now": now}


def _ids(body: dict) -> list[str]:
    return [s["profile_id"] for s in body["stories"]]


def test_live_lists_every_live_story_newest_post_first(client, world):
    body = client.get("/api/stories/live").get_json()
    assert _ids(body) == world["live"]
    assert body["total"] == 5 and body["next_cursor"] is None
    first = body["stories"][0]
    assert set(first) == {
        "profile_id", "username", "niche_id", "niche_name", "posted_at", "first_posted_at",
        "expires_at", "expires_in_seconds", "item_count", "checked_at", "story_url",
    }
    assert first["niche_name"] == "Fitness" and first["item_count"] == 1
    assert first["story_url"] == f"https://www.instagram.com/stories/{first['username']}/"
    posted = datetime.fromisoformat(first["posted_at"])
    expires = datetime.fromisoformat(first["expires_at"])
    assert expires - posted == timedelta(days=1)
    assert 22 * HOUR < first["expires_in_seconds"] <= 23 * HOUR


def test_live_filters_and_sorts(client, world):
    def ids(**params):
        return _ids(client.get("/api/stories/live", query_string=params).get_json())

    live = world["live"]
    assert ids(niche_id=world["food"]) == live[3:]
    assert ids(since="150m") == live[:2]
    since = datetime.fromtimestamp(world["now"] - 3.5 * HOUR, UTC).isoformat()
    assert ids(since=since) == live[:3]
    assert ids(sort="expires") == list(reversed(live))  # soonest expiry first
    assert ids(sort="posted", order="asc") == list(reversed(live))
    username = client.get(f"/api/profiles/{live[4]}").get_json()["username"]
    assert ids(search=username.upper()) == [live[4]]


def test_moving_time_past_expiry_removes_the_account(client, world):
    first_expiry = world["now"] - 5 * HOUR + DAY  # the oldest post expires first
    before = datetime.fromtimestamp(first_expiry - 1, UTC).isoformat()
    after = datetime.fromtimestamp(first_expiry + 1, UTC).isoformat()
    assert _ids(client.get("/api/stories/live", query_string={"at": before}).get_json()) == (
        world["live"]
    )
    assert _ids(client.get("/api/stories/live", query_string={"at": after}).get_json()) == (
        world["live"][:4]
    )


def test_cursor_pages_cover_everything_once(client, world):
    for sort in ("posted", "expires"):
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, "sort": sort, **({"cursor": cursor} if cursor else {})}
            body = client.get("/api/stories/live", query_string=params).get_json()
            assert body["total"] == 5 and len(body["stories"]) <= 2
            seen.extend(_ids(body))
            cursor = body["next_cursor"]
            if cursor is None:
                break
        full = _ids(client.get("/api/stories/live", query_string={"sort": sort}).get_json())
        assert seen == full and len(set(seen)) == 5


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "name"},
        {"order": "up"},
        {"limit": 0},
        {"limit": 501},
        {"since": "yesterday"},
        {"at": "soon"},
        {"cursor": "garbage"},
        {"search": "x" * 101},
        {"since": "999999d", "at": "0005-01-01T00:00:00Z"},
    ],
)
def test_live_rejects_bad_parameters(client, world, params):
    response = client.get("/api/stories/live", query_string=params)
    assert response.status_code == 400 and response.get_json()["message"]


def test_a_cursor_of_another_order_is_refused(client, world):
    cursor = client.get("/api/stories/live", query_string={"limit": 1}).get_json()["next_cursor"]
    response = client.get("/api/stories/live", query_string={"cursor": cursor, "sort": "expires"})
    assert response.status_code == 400


def test_counts_per_niche_say_which_zeros_are_unknown(client, world, db):
    # Fitness was checked an hour ago; Food only 30 h ago (longer than a story lives); Travel
    # never. A zero of Food or Travel says nothing about their stories.
    travel = make_niche(db, name="Travel", order=2)
    make_profiles(db, travel, 2, prefix="trip")
    at = datetime.fromtimestamp(world["now"], UTC)
    with db.write() as session:
        for niche, ago in ((world["fitness"], HOUR), (world["food"], 30 * HOUR)):
            session.execute(
                update(Profile)
                .where(Profile.niche_id == niche)
                .values(last_checked=at - timedelta(seconds=ago))
            )
    body = client.get("/api/stories/live/counts", query_string={"at": at.isoformat()}).get_json()
    assert body == {
        "total": 5,
        "checked_recently": True,
        "seen_recently": True,
        "niches": [
            {
                "niche_id": world["fitness"],
                "name": "Fitness",
                "count": 3,
                "checked_recently": True,
                "seen_recently": True,
            },
            {
                "niche_id": world["food"],
                "name": "Food",
                "count": 2,
                "checked_recently": False,
                "seen_recently": True,
            },
            {
                "niche_id": travel,
                "name": "Travel",
                "count": 0,
                "checked_recently": False,
                "seen_recently": False,
            },
        ],
    }
    assert client.get("/api/stories/live/counts?since=90m").get_json()["total"] == 1
    # A check in the future of `at` is not known at `at`.
    earlier = (at - timedelta(hours=2)).isoformat()
    body = client.get("/api/stories/live/counts", query_string={"at": earlier}).get_json()
    assert not body["checked_recently"]


def test_a_zero_whose_recent_checks_could_not_see_is_unknown(client, db):
    # Both niches were checked an hour ago and have no live story. Private's checks could not
    # see (private accounts no session follows: `story_seen_at` stays at an older check);
    # Public's last check proved "no story" for one account. Only Public's zero is an answer.
    private = make_niche(db, name="Private", order=5)
    public = make_niche(db, name="Public", order=6)
    private_ids = make_profiles(db, private, 3, prefix="hidden")
    public_ids = make_profiles(db, public, 3, prefix="open")
    at = datetime.now(UTC)
    checked, seen_long_ago = at - timedelta(hours=1), at - timedelta(hours=30)
    with db.write() as session:
        session.execute(
            update(Profile)
            .where(Profile.id.in_(private_ids + public_ids))
            .values(last_checked=checked, story_seen_at=seen_long_ago, is_private=True)
        )
        session.execute(
            update(Profile)
            .where(Profile.id == public_ids[1])
            .values(story_seen_at=checked, is_private=False)
        )
    body = client.get("/api/stories/live/counts", query_string={"at": at.isoformat()}).get_json()
    by_name = {n["name"]: n for n in body["niches"]}
    assert {k: by_name["Private"][k] for k in ("count", "checked_recently", "seen_recently")} == {
        "count": 0,
        "checked_recently": True,
        "seen_recently": False,
    }
    assert {k: by_name["Public"][k] for k in ("count", "checked_recently", "seen_recently")} == {
        "count": 0,
        "checked_recently": True,
        "seen_recently": True,
    }
    assert body["seen_recently"] is True
    # Before Public's seeing check, neither niche had one that could see.
    earlier = (checked - timedelta(minutes=1)).isoformat()
    body = client.get("/api/stories/live/counts", query_string={"at": earlier}).get_json()
    assert body["seen_recently"] is False


def test_csv_and_json_exports_equal_the_list(client, world):
    listed = client.get("/api/stories/live", query_string={"niche_id": world["fitness"]})
    stories = listed.get_json()["stories"]

    response = client.get("/api/stories/live.csv", query_string={"niche_id": world["fitness"]})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["profile_id"] for r in rows] == [s["profile_id"] for s in stories]
    assert [r["posted_at"] for r in rows] == [s["posted_at"] for s in stories]
    assert {r["niche"] for r in rows} == {"Fitness"}

    response = client.get("/api/stories/live.json", query_string={"niche_id": world["fitness"]})
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = json.loads(response.get_data(as_text=True))
    assert document["count"] == 3
    # The export says which accounts it speaks for, like the coverage route.
    coverage = client.get("/api/stories/live/coverage", query_string={"niche_id": world["fitness"]})
    assert {k: v for k, v in document["coverage"].items() if k != "at"} == {
        k: v for k, v in coverage.get_json().items() if k != "at"
    }
    assert [s["profile_id"] for s in document["stories"]] == [s["profile_id"] for s in stories]
    assert client.get("/api/stories/live.csv?sort=bad").status_code == 400


def test_profile_story_history_newest_first(client, db, world):
    pid = world["expired"]
    now = time.time()
    _record(db, _story(pid, seen=now, first=now - HOUR, last=now - HOUR, expires=now + 23 * HOUR))
    body = client.get(f"/api/profiles/{pid}/stories").get_json()
    assert [w["live"] for w in body["windows"]] == [True, False]
    newest = body["windows"][0]
    assert set(newest) == {
        "id", "first_taken_at", "last_taken_at", "expires_at", "item_count", "first_seen_at",
        "last_seen_at", "batch_id", "live",
    }
    assert body["windows"][0]["expires_at"] > body["windows"][1]["expires_at"]
    assert client.get("/api/profiles/ghost/stories").status_code == 404


def test_profile_payload_names_the_three_times(client, world):
    body = client.get(f"/api/profiles/{world['live'][0]}").get_json()
    assert body["story_live"] is True and body["active_story"] is True
    assert body["story_posted_at"] and body["story_expires_at"]
    expired = client.get(f"/api/profiles/{world['expired']}").get_json()
    assert (expired["story_live"], expired["active_story"]) == (False, False)


# ---------------------------------------------------------------------------------- live events


def test_story_feed_announces_new_and_expired_windows_once(db):
    a, b = make_profiles(db, make_niche(db), 2)
    feed = StoryFeed(db, tick=0.0)
    position, events = feed.poll(feed.position())  # the first tick only sets the watermark
    assert events == []
    now = time.time()
    _record(
        db,
        _story(a, seen=now, first=now - HOUR, last=now - HOUR, expires=now + 23 * HOUR, items=2),
        _story(b, seen=now - 10, first=now - DAY, last=now - DAY, expires=now - 5),
    )
    position, events = feed.poll(position)
    kinds = sorted(kind for kind, _ in events)
    assert kinds == ["story_detected", "story_expired"]
    detected = next(data for kind, data in events if kind == "story_detected")
    assert detected["profile_id"] == a and detected["item_count"] == 2
    assert next(data for kind, data in events if kind == "story_expired")["profile_id"] == b
    # Another listener at the same position gets the same events from the same single read.
    assert feed.poll(0)[1] == events
    assert feed.poll(position)[1] == []  # nothing is announced twice


@pytest.mark.parametrize(
    "path",
    [
        "/api/stories/live",
        "/api/stories/live.csv",
        "/api/stories/live.json",
        "/api/stories/live/counts",
        "/api/profiles/export.csv",
    ],
)
def test_exports_answer_bad_input_before_streaming(client, world, path):
    # PostgreSQL refuses NUL characters: the answer is a 400, not a broken download.
    response = client.get(path, query_string={"search": "a\x00b"})
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert response.get_json()["message"]


def test_event_stream_sends_story_detected_without_reload(app, client, db):
    import threading

    from storycheck.web.api import STORY_FEED_KEY
    from tests.helpers import wait_until

    (pid,) = make_profiles(db, make_niche(db, name="sse"), 1)
    errors: list[BaseException] = []

    def detect_once_the_stream_listens() -> None:
        try:
            wait_until(
                lambda: getattr(app.extensions.get(STORY_FEED_KEY), "_watermark", None)
                is not None,
                timeout=10,
            )
            now = time.time()
            _record(db, _story(pid, seen=now, first=now - 60, last=now - 60,
                               expires=now + DAY - 60))
        except BaseException as exc:  # reported by the test thread below
            errors.append(exc)

    writer = threading.Thread(target=detect_once_the_stream_listens)
    writer.start()
    # The stream runs while its body is read (and the writer acts while it runs).
    text = client.get("/api/events?max_seconds=6").get_data(as_text=True)
    writer.join()
    assert not errors
    blocks = [b for b in text.split("\n\n") if b.startswith("event: story_detected")]
    assert len(blocks) == 1
    data = json.loads(blocks[0].split("data: ", 1)[1])
    assert data["profile_id"] == pid and data["item_count"] == 1


def test_sightings_from_the_engine_outcomes():
    from storycheck.engine.checker import WorkItem
    from storycheck.engine.recorder import ItemOutcome
    from storycheck.stories.windows import sightings_from_outcomes

    def item(profile_id: str, is_private: bool | None = False) -> WorkItem:
        return WorkItem(id=f"bp-{profile_id}", batch_id="b", profile_id=profile_id,
                        username=profile_id, lease_token="t", is_private=is_private)

    outcomes = [
        ItemOutcome(item("story"), "completed", 100.0, has_story=True, item_count=3,
                    newest_taken_at=90, expiring_at=86_490),
        ItemOutcome(item("empty"), "completed", 100.0),
        ItemOutcome(item("hidden", is_private=True), "completed", 100.0),  # unknown: skipped
        ItemOutcome(item("failed"), "failed", 100.0, error="not_found"),  # no answer: skipped
    ]
    story, empty = sightings_from_outcomes(outcomes)
    assert story == Sighting("story", "b", 100.0, 3, None, 90.0, 86_490.0)
    assert (empty.profile_id, empty.item_count, empty.has_story) == ("empty", 0, False)


# ---------------------------------------------------------------------------------- coverage


def test_coverage_says_how_many_accounts_an_empty_list_speaks_for(client, db):
    niche = make_niche(db, name="Covered")
    other = make_niche(db, name="Unchecked")
    recent, stale, never, deleted = (make_profiles(db, niche, n) for n in (3, 1, 2, 1))
    make_profiles(db, other, 4)
    (loose,) = make_profiles(db, None, 1)
    now = datetime.now(UTC)
    with db.write() as session:
        checked = {pid: now - timedelta(hours=1) for pid in [*recent, *deleted, loose]}
        checked[stale[0]] = now - timedelta(hours=30)  # older than a story lives: unknown now
        for pid, at in checked.items():
            # Each check could see (a story, or that there is none) ...
            values = {"last_checked": at, "story_seen_at": at}
            session.execute(update(Profile).where(Profile.id == pid).values(**values))
        session.execute(update(Profile).where(Profile.id.in_(deleted)).values(status="deleted"))
        # ... but one: a private account no usable checking session follows, whose latest
        # check could not tell (it saw the account an hour before that, while it was public).
        session.execute(
            update(Profile)
            .where(Profile.id == recent[0])
            .values(is_private=True, story_seen_at=now - timedelta(hours=2))
        )
        # A private account a session follows: its check saw.
        session.execute(
            update(Profile)
            .where(Profile.id == recent[1])
            .values(is_private=True, followed_by_session_id="s1")
        )

    body = client.get("/api/stories/live/coverage", query_string={"niche_id": niche}).get_json()
    fields = ("window_hours", "profiles", "checked", "answered", "private_unknown", "not_checked")
    assert {k: body[k] for k in fields} == {
        "window_hours": 24,
        "profiles": 6,
        "checked": 3,
        "answered": 2,
        "private_unknown": 1,
        "not_checked": 3,
    }
    assert abs(datetime.fromisoformat(body["last_checked_at"]) - checked[recent[0]]) < timedelta(
        seconds=1
    )
    everything = client.get("/api/stories/live/coverage").get_json()
    assert (everything["profiles"], everything["checked"], everything["not_checked"]) == (11, 4, 7)
    nothing = client.get("/api/stories/live/coverage", query_string={"niche_id": other})
    assert nothing.get_json()["checked"] == 0 and nothing.get_json()["last_checked_at"] is None
    # Two days later nothing checked today speaks for now any more.
    later = (now + timedelta(days=2)).isoformat()
    at_later = client.get("/api/stories/live/coverage", query_string={"at": later}).get_json()
    assert at_later["checked"] == 0
    assert client.get("/api/stories/live/coverage?niche_id=nope").status_code == 404


def _plan_of(db: Database, run: Any, marker: str) -> str:
    """The plan of the first statement `run(session)` executes that contains `marker` (on
    PostgreSQL with sequential scans off: on a small table, can an index serve it?)."""
    from sqlalchemy import event

    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.read() as session:
            run(session)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    (statement, parameters) = next(s for s in seen if marker in s[0])
    with db.engine.connect() as conn:
        if db.is_sqlite:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            return " ".join(str(row[-1]) for row in rows)
        conn.exec_driver_sql("SET enable_seqscan = off")
        plan = " ".join(str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
        conn.rollback()
        return plan


def test_coverage_counts_unseen_accounts_through_their_partial_index(db):
    from storycheck.stories import service

    niche = make_niche(db)
    plan = _plan_of(
        db,
        lambda session: service.live_coverage(session, at=datetime.now(UTC), niche_id=niche),
        "story_seen_at",
    )
    assert "ix_profiles_niche_unseen_checked" in plan, plan


def test_seen_recently_walks_the_niche_checks_index(db):
    from storycheck.stories import service

    niche, at = make_niche(db), datetime.now(UTC)
    plan = _plan_of(
        db,
        lambda session: service.seen_since(session, niche, at - timedelta(days=1), at),
        "story_seen_at",
    )
    assert "ix_profiles_niche_last_checked" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_seen_recently_reads_a_bounded_number_of_the_newest_checks(db, monkeypatch):
    # One account seen three hours ago; two newer checks (one and two hours ago) could not see.
    # Reading only the two newest checks, the niche is unknown (the cautious side); reading
    # three, the older seeing check is found.
    from storycheck.stories import service

    niche = make_niche(db)
    seen, hidden_1h, hidden_2h = make_profiles(db, niche, 3)
    at = datetime.now(UTC)
    with db.write() as session:
        for profile_id, hours, saw in ((seen, 3, True), (hidden_1h, 1, False), (hidden_2h, 2, False)):
            checked = at - timedelta(hours=hours)
            session.execute(
                update(Profile)
                .where(Profile.id == profile_id)
                .values(last_checked=checked, story_seen_at=checked if saw else None)
            )
    since = at - timedelta(days=1)
    for limit, expected in ((2, False), (3, True)):
        monkeypatch.setattr(service, "SEEN_PROBE_LIMIT", limit)
        with db.read() as session:
            assert service.seen_since(session, niche, since, at) is expected, limit
