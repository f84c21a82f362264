"""`storycheck check` end to end: a real subprocess, a real engine, the simulator as the truth.

Local mode runs the engine inside the CLI process on a SQLite file; `--server` mode drives a
running `storycheck serve` through its API (and Ctrl-C pauses the batch, `--batch` resumes it). Either way the accounts printed at the end must be
exactly those the simulator says have a story, and the progress goes out as plain lines
(stdout is not a terminal here).
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import re
import signal
import struct
import subprocess
import termios
from pathlib import Path

from click.testing import CliRunner

from storycheck.cli import main
from tests.cli.conftest import STORYCHECK_BIN, World, account_file, cli_env, usernames
from tests.helpers import wait_until
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
    # Accounts that do not exist are said apart, as an answer, not among failed checks.
    missing = len(world.missing_accounts(names))
    assert missing > 0
    assert f", {missing} not found (no such account)" in result.stdout, result.stdout
    assert "failed" not in result.stdout.split("Checked 300/300", 1)[1].splitlines()[0]
    # The progress line says them apart too: the last one counts them as not found.
    last_line = [line for line in result.stdout.splitlines() if " done: 300/300" in line][-1]
    assert f"· {missing} not found · 0 failed" in last_line, last_line
    table = result.stdout.split("accounts with a live story", 1)[1]
    assert set(ACCOUNT.findall(table)) == world.live_story_accounts(names)
    # Nothing was created in the working directory (no stray ./storycheck.db).
    assert list((tmp_path / "cwd").iterdir()) == []

    # The whole niche, named in any case, as JSON (in this process: the same code, no start-up).
    again = CliRunner().invoke(main, ["check", "fitness", "--json", "--quiet"], env=env)
    assert again.exit_code == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["batch"]["niche"] == "Fitness"
    assert report["batch"]["completed_profiles"] == PROFILES
    assert report["batch"]["not_found"] == missing
    assert {s["username"] for s in report["stories"]} == world.live_story_accounts(names)

    # `stories --csv` reads the same truth back from the database, with no engine running.
    exported = CliRunner().invoke(main, ["stories", "--csv"], env=env)
    assert exported.exit_code == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert {r["username"] for r in rows} == world.live_story_accounts(names)
    assert {r["niche_name"] for r in rows} == {"Fitness"}

    # `niches` counts the same live stories for the niche, and what it can speak for.
    listed = CliRunner().invoke(main, ["niches", "--json"], env=env)
    assert listed.exit_code == 0, listed.stderr
    fitness = json.loads(listed.stdout)[0]
    assert fitness["niche"] == "Fitness" and fitness["accounts"] == PROFILES
    assert fitness["live_now"] == len(world.live_story_accounts(names))
    # Every account was checked just now; none is private here (POPULATION), so none unknown.
    assert (fitness["checked_recently"], fitness["unknown"]) == (PROFILES, 0), fitness



def test_check_through_a_server_ctrl_c_pauses_then_batch_resumes_to_the_live_stories(
    tmp_path: Path, world: World, start_server, run_cli
):
    server = start_server(world.sim.base_url)
    api = Api(server.base_url)
    for url, session in zip(world.fleet.urls, world.sim.session_ids, strict=False):
        api.add_pair(url, session)
    # Slow at first (one request per pair every 2 s), so Ctrl-C lands mid-batch.
    api.fast_settings(min_request_interval=2)
    names = usernames(PROFILES, start=1000)
    accounts = account_file(tmp_path, names)
    # The CLI's own database setting points elsewhere: --server alone decides where it works.
    env = cli_env(tmp_path / "unused.db")
    check = ["check", "--server", server.base_url, "--json"]

    out, err = tmp_path / "check.out", tmp_path / "check.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        first = subprocess.Popen(
            [str(STORYCHECK_BIN), *check, "--file", str(accounts), "--niche", "Travel"]
            + ["--create-niche"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        wait_until(lambda: b"checking:" in err.read_bytes(), timeout=60, what="progress")
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=30) == 130
    finally:
        first.kill()
    batch_id = api.ok("GET", "/api/batches")[0]["id"]
    assert api.batch(batch_id, items_limit=0)["status"] == "paused"
    assert out.read_text() == ""  # no half a JSON document
    # (Requests in flight at the pause still finish, so the count may move on a little.)
    assert re.fullmatch(
        rf"Error: Interrupted: paused batch {batch_id} at \d+/{PROFILES}; "
        rf"`storycheck check --batch {batch_id}` resumes it",
        err.read_text().splitlines()[-1],
    )

    api.fast_settings()
    result = run_cli(*check, "--batch", batch_id, env=env)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    expected = world.live_story_accounts(names)
    assert report["batch"]["status"] == "done"
    assert report["batch"]["completed_profiles"] == PROFILES
    assert report["batch"]["not_found"] == len(world.missing_accounts(names))
    assert {s["username"] for s in report["stories"]} == expected
    assert all(s["story_url"].endswith(f"/stories/{s['username']}/") for s in report["stories"])
    assert PROGRESS_LINE.findall(result.stderr), result.stderr  # progress on stderr, data on stdout
    assert not (tmp_path / "unused.db").exists()

    # Without --server, on the server's database, the CLI finds the server through the engine
    # lock and asks it (no second engine on the same file). `--niche` matches ignoring case
    # ("travel" is the niche "Travel" the check created).
    stories = run_cli("stories", "--niche", "travel", env=cli_env(server.database_path))
    assert stories.returncode == 0, stories.stderr
    assert stories.stderr.splitlines() == [
        f"Using the storycheck server at {server.base_url} (it serves this database)"
    ]
    assert set(ACCOUNT.findall(stories.stdout)) == expected

    # On a terminal the progress is a rich bar (following the finished batch: it shows done).
    on_terminal = ["check", "--server", server.base_url, "--batch", batch_id]
    shown = run_on_terminal([str(STORYCHECK_BIN), *on_terminal], env=env)
    assert "━" in shown and re.search(r"done\s+━+ 300/300 100%", shown), shown
    assert set(ACCOUNT.findall(shown.split("accounts with a live story", 1)[1])) == expected

    listed = CliRunner().invoke(main, ["batches", "--server", server.base_url], env=env)
    assert listed.exit_code == 0, listed.output
    assert batch_id in listed.stdout and "done" in listed.stdout


def run_on_terminal(command: list[str], env: dict[str, str]) -> str:
    """Run `command` with a pseudo-terminal as stdout; return what it showed, escapes removed."""
    leader, follower = pty.openpty()
    # A wide terminal: table rows stay on one line.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=subprocess.PIPE
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))
