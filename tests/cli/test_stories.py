"""`storycheck stories` says what an empty list proves: "no story" only for accounts checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import update

from storycheck.cli import main
from storycheck.db import Database
from storycheck.migrate import upgrade
from storycheck.profiles.models import Profile
from storycheck.testing import seed_niche, seed_profiles
from tests.cli.conftest import cli_env


def stories(path: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["stories", *args], env=cli_env(path), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_an_empty_list_is_said_for_what_was_checked(tmp_path: Path) -> None:
    path = tmp_path / "stories.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    assert (
        stories(path).strip() == "No accounts yet: import some with `storycheck import NICHE FILE`."
    )
    ids = seed_profiles(db, seed_niche(db, "Fitness"), ["carol", "dave", "erin"])

    assert stories(path, "--niche", "fitness").strip() == (
        "Nothing checked in the last 24 h could show a story: no one's story is known yet"
        " (3 accounts). Check them: `storycheck check fitness`."
    )
    with db.write() as session:
        session.execute(
            update(Profile)
            .where(Profile.id.in_(ids[:2]))
            .values(last_checked=(seen := datetime.now(UTC) - timedelta(hours=2)), story_seen_at=seen)
        )
    db.dispose()
    assert stories(path).strip() == (
        "No live story among the 2 accounts checked in the last 24 h."
        " 1 not checked in that time (unknown)."
    )
    assert stories(path, "--search", "zz").strip() == (
        "No live story matches these filters."
        " 2 of 3 accounts checked in the last 24 h; 1 not checked in that time (unknown)."
    )
