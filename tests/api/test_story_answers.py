"""The story answer: each profile says live / none / unknown / not_found, and `?story=` finds
exactly the profiles that say it (one definition in profiles.answers, on both databases)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text, update

from storycheck.db import Database, utcnow
from storycheck.profiles.answers import story_answer
from storycheck.profiles.models import Profile
from tests.factories import make_niche, make_profiles
from tests.helpers import assert_error, migrate, revision_before

HOUR = timedelta(hours=1)


def _cases() -> dict[str, tuple[dict[str, Any], str, str | None]]:
    """username -> (stored columns, expected answer, expected unknown reason)."""
    now = utcnow()
    story = {"story_posted_at": now - 2 * HOUR, "story_expires_at": now + 22 * HOUR}
    expired = {"story_posted_at": now - 30 * HOUR, "story_expires_at": now - 6 * HOUR}

    def seen(ago: timedelta) -> dict[str, Any]:
        """A check `ago` that could see (a story, or that there is none)."""
        return {"last_checked": now - ago, "story_seen_at": now - ago}

    return {
        "never_checked": ({}, "unknown", "not_checked"),
        "checked_now": (seen(HOUR), "none", None),
        "checked_23h": (seen(23 * HOUR), "none", None),
        "checked_25h": (seen(25 * HOUR), "unknown", "stale"),
        "live": ({**seen(2 * HOUR), **story}, "live", None),
        "live_unchecked_since": ({**seen(30 * HOUR), **story}, "live", None),
        "expired_story": ({**seen(6 * HOUR), **expired}, "none", None),
        "expired_stale": ({**seen(30 * HOUR), **expired}, "unknown", "stale"),
        # Private and followed by no session: its check could not see.
        "private_hidden": (
            {"last_checked": now - HOUR, "is_private": True},
            "unknown",
            "private",
        ),
        "private_followed": (
            {**seen(HOUR), "is_private": True, "followed_by_session_id": "s1"},
            "none",
            None,
        ),
        # The session that followed it stopped working: the latest check could not see,
        # though an older one (while followed) could, and the follower is still on record.
        "follower_gone": (
            {
                "last_checked": now - HOUR,
                "story_seen_at": now - 5 * HOUR,
                "is_private": True,
                "followed_by_session_id": "s-dead",
            },
            "unknown",
            "private",
        ),
        "public_known": ({**seen(HOUR), "is_private": False}, "none", None),
        # Its latest check said "no such user" (a flag cleared by hand since): saw no story.
        "cleared_missing": (
            {"last_checked": now - HOUR, "story_seen_at": now - 30 * HOUR, "is_private": False},
            "unknown",
            "unseen",
        ),
        "gone": (
            {"last_checked": now - HOUR, "not_found": True, "not_found_at": now - HOUR},
            "not_found",
            None,
        ),
        "gone_long_ago": (
            {"last_checked": now - 50 * HOUR, "not_found": True, "not_found_at": now - 50 * HOUR},
            "not_found",
            None,
        ),
    }


def _seed(client, db) -> tuple[str, dict[str, tuple[dict[str, Any], str, str | None]]]:  # type: ignore[no-untyped-def]
    niche = make_niche(db, name="answers")
    cases = _cases()
    ids = {}
    for username in cases:
        response = client.post("/api/profiles", json={"username": username, "niche_id": niche})
        assert response.status_code == 201, response.get_data(as_text=True)
        ids[username] = response.get_json()["id"]
    with db.write() as session:
        for username, (values, _, _) in cases.items():
            if values:
                session.execute(update(Profile).where(Profile.id == ids[username]).values(**values))
    return niche, cases


def test_each_profile_says_its_story_answer(client, db):  # type: ignore[no-untyped-def]
    niche, cases = _seed(client, db)

    page = client.get("/api/profiles", query_string={"niche_id": niche, "page_size": 100})
    said = {
        p["username"]: (p["story_answer"], p["story_unknown_reason"])
        for p in page.get_json()["profiles"]
    }

    assert said == {name: (answer, reason) for name, (_, answer, reason) in cases.items()}


def test_the_story_filter_finds_exactly_the_profiles_that_say_it(client, db):  # type: ignore[no-untyped-def]
    niche, cases = _seed(client, db)

    for answer in ("live", "none", "unknown", "not_found"):
        page = client.get(
            "/api/profiles", query_string={"niche_id": niche, "story": answer, "page_size": 100}
        ).get_json()
        expected = sorted(
            (name for name, (_, said, _) in cases.items() if said == answer), key=str.lower
        )
        assert [p["username"] for p in page["profiles"]] == expected, answer
        assert page["total"] == len(expected) and page["filters"]["story"] == answer
        assert {p["story_answer"] for p in page["profiles"]} <= {answer}
        ids = client.get("/api/profiles/ids", query_string={"niche_id": niche, "story": answer})
        assert len(ids.get_json()["ids"]) == len(expected)


def test_no_story_is_never_said_of_an_account_nobody_could_see(client, db):  # type: ignore[no-untyped-def]
    """`story=none` leaves out what the original's `active_story=false` still includes."""
    niche, _ = _seed(client, db)

    def names(**params: str) -> set[str]:
        query = {"niche_id": niche, "page_size": "100", **params}
        return {
            p["username"]
            for p in client.get("/api/profiles", query_string=query).get_json()["profiles"]
        }

    none = names(story="none")
    assert none == {
        "checked_now",
        "checked_23h",
        "expired_story",
        "private_followed",
        "public_known",
    }
    unknown = {"never_checked", "checked_25h", "private_hidden", "follower_gone", "cleared_missing"}
    assert unknown <= names(active_story="false") - none


def test_the_export_carries_the_answer_and_a_bad_filter_is_a_400(client, db):  # type: ignore[no-untyped-def]
    niche, cases = _seed(client, db)

    response = client.get("/api/profiles/export.csv", query_string={"niche_id": niche})
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))

    assert {r["username"]: r["story_answer"] for r in rows} == {
        name: answer for name, (_, answer, _) in cases.items()
    }
    assert {r["username"]: r["story_unknown_reason"] for r in rows}["checked_25h"] == "stale"
    error = assert_error(client.get("/api/profiles", query_string={"story": "maybe"}), 400)
    assert "live, none, unknown, not_found" in error["message"]


def test_the_migration_says_which_past_checks_could_see(database_url):  # type: ignore[no-untyped-def]
    """Migration 0018 gives existing profiles `story_seen_at` by the rule they were read by
    before (found, and not private-and-unfollowed), and goes down and up again."""
    db = Database(database_url)
    try:
        niche = make_niche(db, name="migrated")
        public, hidden, followed, gone, never = make_profiles(db, niche, 5)
        migrate(db, database_url, revision_before(database_url, "_story_seen_at.py"), down=True)
        checked = utcnow() - HOUR
        with db.engine.begin() as conn:
            for pid, private, follower, missing in (
                (public, False, None, False),
                (hidden, True, None, False),
                (followed, True, "s1", False),
                (gone, None, None, True),
            ):
                conn.execute(
                    text(
                        "UPDATE profiles SET last_checked = :at, is_private = :private,"
                        " followed_by_session_id = :follower, not_found = :missing"
                        " WHERE id = :id"
                    ),
                    {
                        "at": checked,
                        "private": private,
                        "follower": follower,
                        "missing": missing,
                        "id": pid,
                    },
                )
        migrate(db, database_url, "head")
        with db.read() as session:
            profiles = session.scalars(select(Profile)).all()
            seen = {p.id: p.story_seen_at for p in profiles}
            answers = {p.id: story_answer(p, utcnow())[0] for p in profiles}
        assert seen[public] is not None and abs(seen[public] - checked) < timedelta(seconds=1)
        assert seen[followed] is not None
        assert seen[hidden] is None and seen[gone] is None and seen[never] is None
        assert answers == {
            public: "none",
            followed: "none",
            hidden: "unknown",
            gone: "not_found",
            never: "unknown",
        }
    finally:
        db.dispose()
