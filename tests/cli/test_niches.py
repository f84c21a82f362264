"""`storycheck niches`: each niche's live count, and a zero nobody could see said as unknown."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import update

from storycheck.cli import main
from storycheck.db import Database
from storycheck.migrate import upgrade
from storycheck.profiles.models import Profile
from storycheck.testing import seed_niche, seed_profiles
from tests.cli.conftest import cli_env


def niches(path: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["niches", *args], env=cli_env(path), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def by_niche(path: Path) -> dict[str | None, dict[str, Any]]:
    return {row["niche"]: row for row in json.loads(niches(path, "--json"))}


def test_each_niche_says_what_its_count_can_speak_for(tmp_path: Path) -> None:
    path = tmp_path / "niches.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    assert niches(path).strip() == "No niches yet: `storycheck import NICHE FILE` creates one."

    fitness = seed_profiles(db, seed_niche(db, "Fitness"), ["ann", "bob", "cid"])
    hidden = seed_profiles(db, seed_niche(db, "Hidden"), ["dee", "eve"])
    seed_profiles(db, seed_niche(db, "Fresh"), ["fay"])
    checked = datetime.now(UTC) - timedelta(hours=2)
    with db.write() as session:
        # Fitness: two accounts checked and seen (no story); one never checked.
        session.execute(
            update(Profile)
            .where(Profile.id.in_(fitness[:2]))
            .values(last_checked=checked, story_seen_at=checked, total_checks=1, is_private=False)
        )
        # Hidden: both checked, both private and followed by no session: nothing was seen.
        session.execute(
            update(Profile)
            .where(Profile.id.in_(hidden))
            .values(last_checked=checked, total_checks=1, is_private=True)
        )
    db.dispose()

    rows = by_niche(path)
    assert set(rows) == {"Fitness", "Hidden", "Fresh", None}
    assert list(rows)[-1] is None  # every niche together, last
    # Fitness's 0 is an answer for the two it could see; the third is unknown.
    assert rows["Fitness"] | {"stories_today": 0} == {
        "niche": "Fitness",
        "accounts": 3,
        "live_now": 0,
        "checked_recently": 2,
        "unknown": 1,
        "stories_today": 0,
        "daily_story_target": rows["Fitness"]["daily_story_target"],
    }
    # Checked, but every check was blind: no count, both unknown.
    assert (rows["Hidden"]["live_now"], rows["Hidden"]["checked_recently"]) == (None, 2)
    assert rows["Hidden"]["unknown"] == 2
    # Never checked: no count, all unknown.
    assert (rows["Fresh"]["live_now"], rows["Fresh"]["unknown"]) == (None, 1)
    assert rows[None] | {"stories_today": None} == {
        "niche": None,
        "accounts": 6,
        "live_now": 0,
        "checked_recently": 4,
        "unknown": 4,
        "stories_today": None,
        "daily_story_target": None,
    }

    table = niches(path)
    lines = {line.split()[1]: line for line in table.splitlines() if line.startswith("│")}
    assert lines["Fitness"].split("│")[3].strip() == "0"
    assert lines["Hidden"].split("│")[3].strip() == "—"
    assert lines["Fresh"].split("│")[3].strip() == "—"
    assert "(unknown, not 0)" in table


def test_niches_of_an_unknown_server_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["niches", "--server", "http://127.0.0.1:9"], env=cli_env(tmp_path / "x.db")
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
