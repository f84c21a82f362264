"""`storycheck simulate`: options, startup summary, serving, clean stop on SIGTERM and Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import pytest
from click.testing import CliRunner

from storycheck.simulator import INSTAGRAM_APP_ID, Limit
from storycheck.simulator.command import build_config, simulate


def start(*args: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    command = [sys.executable, "-m", "storycheck.simulator", "--port", "0", "--json", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        pytest.fail(f"simulate did not start: {process.communicate()[1]}")
    return process, json.loads(line)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_simulate_serves_with_proxies_and_stops_cleanly(signum: signal.Signals) -> None:
    process, summary = start(
        "--sessions",
        "2",
        "--proxies",
        "2",
        "--proxy-user",
        "u",
        "--proxy-password",
        "p",
        "--session-profile-limit",
        "1/60",
    )
    try:
        sessions = summary["sessions"]
        proxies = summary["proxies"]
        assert isinstance(sessions, list) and len(sessions) == 2
        assert isinstance(proxies, list) and len(proxies) == 2
        assert all(str(url).startswith("http://u:p@127.0.0.1:") for url in proxies)
        base_url = str(summary["base_url"])
        headers = {"X-IG-App-ID": INSTAGRAM_APP_ID}
        with httpx.Client(
            proxy=str(proxies[1]), headers=headers, cookies={"sessionid": str(sessions[0])}
        ) as client:
            url = base_url + "/api/v1/users/web_profile_info/?username=user00001"
            assert [client.get(url).status_code for _ in range(2)] == [200, 401]
        stats = httpx.get(base_url + "/__sim__/stats").json()
        assert set(stats["addresses"]) == {"127.0.0.11"}
    finally:
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_human_readable_summary() -> None:
    command = [sys.executable, "-m", "storycheck.simulator", "--port", "0", "--sessions", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Instagram simulator: http://127.0.0.1:")
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_options_build_the_config() -> None:
    captured = {}

    def fake_run(coroutine: object) -> None:
        captured["coroutine"] = coroutine
        coroutine.close()  # type: ignore[attr-defined]

    runner = CliRunner()
    options = [
        "--seed",
        "3",
        "--no-limits",
        "--session-story-limit",
        "10/2s",
        "--address-profile-limit",
        "off",
        "--rate-limit-status",
        "mix",
        "--reel-cap",
        "12",
        "--fault-5xx",
        "0.1",
        "--latency",
        "0.05",
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("storycheck.simulator.command.asyncio.run", fake_run)
        result = runner.invoke(simulate, options)
    assert result.exit_code == 0, result.output
    assert "coroutine" in captured


def test_build_config_maps_every_option() -> None:
    context = simulate.make_context(
        "simulate",
        [
            "--seed",
            "3",
            "--session-story-limit",
            "10/2s",
            "--address-profile-limit",
            "off",
            "--rate-limit-status",
            "429",
            "--login-required-status",
            "302",
            "--reel-cap",
            "12",
            "--fault-drop",
            "0.1",
            "--hang-seconds",
            "3",
            "--private-share",
            "0.5",
            "--accept-any-session",
            "--session",
            "abc",
            "--retry-after",
        ],
    )
    config = build_config(dict(context.params))
    assert config.seed == 3 and config.reel_ids_cap == 12
    assert config.limits.session_stories == Limit(10, 2)
    assert config.limits.session_profile == Limit(200, 3600)
    assert config.limits.address_profile is None
    assert config.rate_limit_status == "429" and config.login_required_status == 302
    assert config.faults.drop_share == 0.1 and config.faults.hang_seconds == 3
    assert config.population.private_share == 0.5
    assert config.accept_any_session and config.session_ids == ("abc",) and config.retry_after


def test_bad_options_are_usage_errors() -> None:
    runner = CliRunner()
    assert runner.invoke(simulate, ["--session-story-limit", "lots"]).exit_code == 2
    assert runner.invoke(simulate, ["--fault-5xx", "1.5"]).exit_code == 2
    assert runner.invoke(simulate, ["--proxy-user", "u"]).exit_code == 2
    assert (
        runner.invoke(simulate, ["--missing-share", "0.6", "--private-share", "0.6"]).exit_code == 2
    )


def test_build_config_maps_the_web_client_and_truth_options() -> None:
    context = simulate.make_context(
        "simulate",
        [
            "--session-total-limit",
            "30/1m",
            "--business-deleted-share",
            "0.2",
            "--not-found-style",
            "user_null",
            "--min-chrome-major",
            "132",
            "--cookie-rotation-every",
            "5",
            "--doc-id",
            "111",
            "--doc-id",
            "222",
            "--proxy-silent-close",
            "--no-private-stories",
        ],
    )
    config = build_config(dict(context.params))
    assert config.population.private_stories is False
    assert config.limits.session_total == Limit(30, 60)
    assert config.population.business_deleted_share == 0.2
    assert config.not_found_style == "user_null" and config.min_chrome_major == 132
    assert config.cookie_rotation_every == 5 and config.doc_ids == ("111", "222")
    assert config.proxy_silent_close is True
    defaults = build_config(dict(simulate.make_context("simulate", []).params))
    assert defaults.limits.session_total is None and defaults.doc_ids == ()
    assert defaults.not_found_style == "empty" and not defaults.proxy_silent_close
    assert defaults.population.private_stories is True


def test_simulate_process_with_silent_proxies_and_dense_doc_id() -> None:
    process, summary = start(
        "--sessions", "1", "--proxies", "1", "--proxy-silent-close", "--doc-id", "123"
    )
    try:
        base_url = str(summary["base_url"])
        proxies = summary["proxies"]
        sessions = summary["sessions"]
        assert isinstance(proxies, list) and isinstance(sessions, list)
        headers = {"X-IG-App-ID": INSTAGRAM_APP_ID}
        with httpx.Client(
            proxy=str(proxies[0]), headers=headers, cookies={"sessionid": str(sessions[0])}
        ) as client:
            form = {"doc_id": "123", "variables": json.dumps({"reel_ids": ["1000000001"]})}
            dense = client.post(base_url + "/graphql/query", data=form)
            assert dense.json()["data"]["xdt_api__v1__feed__reels_media"] == {"reels_media": []}
            # The dropped keep-alive shows as "disconnected" or as a reset, by timing.
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                client.post(base_url + "/graphql/query", data=form)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
