"""`storycheck proxies test|list` and `storycheck doctor`'s pair tests, as a user runs them.

The real executable, in process on the database (no server) and through a running server;
the pairs' lookups go through real local proxies to the simulator.
"""

from __future__ import annotations

import json
from pathlib import Path

from storycheck.crypto import SecretBox
from storycheck.db import Database
from storycheck.proxies.sessions import ds_user_id_of
from storycheck.testing import ProxySpec, seed_pairs
from tests.cli.conftest import PAIRS, SERVER_SECRET_KEY, Run, World, cli_env
from tests.helpers import free_port

DEAD_COOKIE = "59999999999%3AdeadPairCookie%3A1%3AneverSentAnywhere"


def _add_dead_pair(database: Path) -> str:
    db = Database(f"sqlite:///{database}")
    try:
        spec = ProxySpec.from_url(f"http://127.0.0.1:{free_port()}")
        return seed_pairs(db, SecretBox(SERVER_SECRET_KEY), [spec], [DEAD_COOKIE])[0]
    finally:
        db.dispose()


def _pair_ids(run_cli: Run, env: dict[str, str]) -> list[str]:
    listed = run_cli("proxies", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    return [pair["id"] for pair in json.loads(listed.stdout)]


def test_proxies_test_all_in_process_then_list_and_doctor(
    run_cli: Run, world: World, local_database: Path
) -> None:
    sim = world.sim
    sim.call(lambda: sim.state.set_profile_kind("instagram", "poster"))
    sim.flag_session(sim.session_ids[1], "logged_out")
    dead_id = _add_dead_pair(local_database)
    env = cli_env(local_database, sim.base_url)

    before = run_cli("proxies", "list", env=env)
    assert before.returncode == 0 and before.stdout.count("untested") == PAIRS + 1

    result = run_cli("proxies", "test", "--all", env=env, timeout=120)

    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: 2 of {PAIRS + 1} pair(s) failed or were not tested"
    lines = result.stdout.splitlines()
    heads = [line for line in lines if not line.startswith(" ")]
    assert len(heads) == PAIRS + 1
    account = ds_user_id_of(sim.session_ids[0])
    assert (
        heads[0].startswith("ok   http://127.0.0.1:") and f"ok — logged in as {account}" in heads[0]
    )
    assert heads[1].startswith("FAIL ") and "session logged out" in heads[1]
    assert heads[-1].startswith("FAIL ") and "proxy unreachable" in heads[-1]
    assert dead_id in heads[-1]
    assert any("Proxy reachable" in line and "connection refused" in line for line in lines)
    assert any("Session logged in" in line and "FAIL" in line for line in lines)
    for cookie in (*sim.session_ids[:PAIRS], DEAD_COOKIE):
        assert cookie.split("%3A")[1] not in result.stdout + result.stderr

    # One pair by a unique start of its id, as JSON.
    ids = _pair_ids(run_cli, env)
    one = run_cli("proxies", "test", ids[2][:8], "--json", env=env, timeout=60)
    assert one.returncode == 0, one.stderr
    reports = json.loads(one.stdout)
    assert [r["proxy_id"] for r in reports] == [ids[2]] and reports[0]["ok"] is True
    assert [s["status"] for s in reports[0]["steps"]] == ["ok"] * 4

    listed = run_cli("proxies", "list", env=env)
    assert "session logged out" in listed.stdout and "proxy unreachable" in listed.stdout
    assert "untested" not in listed.stdout

    doctor = run_cli("doctor", env=env)
    assert f"{PAIRS - 1} ok, 2 failed, 0 untested" in doctor.stdout
    assert "tested " in doctor.stdout and f"ok — logged in as {account}" in doctor.stdout
    assert "proxy unreachable" in doctor.stdout and "STORYCHECK_PAIR_TEST_USERNAME" in doctor.stdout

    usage = run_cli("proxies", "test", env=env)
    assert usage.returncode == 2 and "or pass --all" in usage.stderr
    unknown = run_cli("proxies", "test", "zzzz-none", env=env)
    assert unknown.returncode == 1
    assert (
        unknown.stderr.strip()
        == "Error: No pair matches 'zzzz-none' (see `storycheck proxies list`)"
    )


def test_proxies_test_through_a_running_server(
    run_cli: Run,
    world: World,
    local_database: Path,
    start_server,  # type: ignore[no-untyped-def]
) -> None:
    sim = world.sim
    sim.call(lambda: sim.state.set_profile_kind("rockstar", "poster"))
    server = start_server(sim.base_url)
    api = server.api()
    for url, session in zip(world.fleet.urls[:2], sim.session_ids[:2], strict=True):
        api.add_pair(url, session)
    api.close()
    env = cli_env(local_database, sim.base_url)

    result = run_cli(
        "proxies",
        "test",
        "--all",
        "--username",
        "rockstar",
        "--server",
        server.base_url,
        env=env,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    heads = [line for line in result.stdout.splitlines() if not line.startswith(" ")]
    assert len(heads) == 2 and all(head.startswith("ok   ") for head in heads)
    assert "@rockstar is account" in result.stdout
