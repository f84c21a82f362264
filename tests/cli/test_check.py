"""`storycheck check` end to end: a real subprocess, a real engine, the simulator as the truth.

Local mode runs the engine inside the CLI process on a SQLite file; `--server` mode drives a
running `storycheck serve` through its API. Either way the accounts printed at the end must be
exactly those the simulator says have a story, and the progress goes out as plain lines
(stdout is not a terminal here).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.cli.conftest import World, account_file, cli_env, usernames
from tests.robustness.conftest import Api

PROFILES = 300
PROGRESS_LINE = re.compile(r"(checking|done|queued[^:]*): (\d+)/300 \(\d+%\) · .* stories · ")
ACCOUNT = re.compile(r"\buser\d{6}\b")


def test_check_file_in_process_prints_progress_and_exactly_the_live_stories(
    tmp_path: Path, world: World, local_database: Path, run_cli
):
    names = usernames(PROFILES)
    accounts = account_file(tmp_path, names)
    env = cli_env(local_database, world.sim.base_url)

    result = run_cli(
        "check", "--file", str(accounts), "--niche", "Fitness", "--create-niche", env=env
    )

    assert result.returncode == 0, result.stderr
    progress = PROGRESS_LINE.findall(result.stdout)
    assert progress, result.stdout
    assert progress[-1] == ("done", "300")
    assert "Checked 300/300 accounts" in result.stdout
    table = result.stdout.split("accounts with a live story", 1)[1]
    assert set(ACCOUNT.findall(table)) == world.live_story_accounts(names)
    # Nothing was created in the working directory (no stray ./storycheck.db).
    assert list((tmp_path / "cwd").iterdir()) == []



def test_check_through_a_server_json_and_stories(tmp_path: Path, world: World, start_server, run_cli):
    server = start_server(world.sim.base_url)
    api = Api(server.base_url)
    for url, session in zip(world.fleet.urls, world.sim.session_ids, strict=False):
        api.add_pair(url, session)
    api.fast_settings()
    names = usernames(PROFILES, start=1000)
    accounts = account_file(tmp_path, names)
    # The CLI's own database setting points elsewhere: --server alone decides where it works.
    env = cli_env(tmp_path / "unused.db")

    result = run_cli(
        "check",
        "--server",
        server.base_url,
        "--file",
        str(accounts),
        "--niche",
        "Travel",
        "--create-niche",
        "--json",
        env=env,
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    expected = world.live_story_accounts(names)
    assert report["batch"]["status"] == "done"
    assert report["batch"]["completed_profiles"] == PROFILES
    assert {s["username"] for s in report["stories"]} == expected
    assert all(s["story_url"].endswith(f"/stories/{s['username']}/") for s in report["stories"])
    assert PROGRESS_LINE.findall(result.stderr), result.stderr  # progress on stderr, data on stdout
    assert not (tmp_path / "unused.db").exists()

    # Without --server, on the server's database, the CLI finds the server through the engine
    # lock and asks it (no second engine on the same file).
    on_file = cli_env(server.database_path)
    listed = run_cli("batches", env=on_file)
    assert listed.returncode == 0, listed.stderr
    assert f"Using the storycheck server at {server.base_url}" in listed.stderr
    assert report["batch"]["id"] in listed.stdout and "done" in listed.stdout

    # `--niche` matches ignoring case ("travel" is the niche "Travel" the check created).
    stories = run_cli("stories", "--niche", "travel", "--server", server.base_url, env=env)
    assert stories.returncode == 0, stories.stderr
    assert set(ACCOUNT.findall(stories.stdout)) == expected
