"""`storycheck doctor`: effective configuration with secrets hidden, and honest checks."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import cli_env


def test_doctor_on_a_missing_database_fails_and_creates_nothing(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "missing.db"
    result = run_cli("doctor", env=cli_env(database, STORYCHECK_API_TOKEN="tok-" + "s" * 40))
    assert result.returncode == 1
    assert "STORYCHECK_DATABASE_URL" in result.stdout and "FAIL no file at" in result.stdout
    assert "set (hidden)" in result.stdout and "tok-" not in result.stdout + result.stderr
    assert not database.exists() and not (tmp_path / "storycheck.key").exists()


def test_doctor_reports_the_key_and_the_pairs(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "doc.db"
    env = cli_env(database)
    assert run_cli("db", "upgrade", env=env).returncode == 0
    result = run_cli("doctor", env=env)
    assert "ok   revision" in result.stdout
    assert "STORYCHECK_SECRET_KEY decrypts the stored secrets" in result.stdout
    assert "FAIL none: add a proxy + session pair" in result.stdout  # a new user's next step
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: 1 check(s) failed (see above)"


def test_a_bad_variable_is_one_line_naming_it(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    for command in (("doctor",), ("serve",), ("db", "upgrade")):
        result = run_cli(*command, env=cli_env(tmp_path / "bad.db", STORYCHECK_PORT="abc"))
        assert result.returncode == 2
        assert result.stderr.startswith("Error: Bad environment configuration: STORYCHECK_PORT='abc'")
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "bad.db").exists()


def test_doctor_names_the_database_url_fallback(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    env = cli_env(tmp_path / "unused.db")
    del env["STORYCHECK_DATABASE_URL"]
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'fallback.db'}"
    result = run_cli("doctor", env=env)
    assert "fallback.db  [env DATABASE_URL]" in result.stdout


def test_doctor_lists_the_engine_alert_and_pair_variables(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    from storycheck.alerts.delivery import AlertVariables
    from storycheck.config import variable_names
    from storycheck.distributed.ownership import PairVariables
    from storycheck.engine.options import EngineVariables

    env = cli_env(tmp_path / "unused.db", STORYCHECK_ALERTS_STALL_MINUTES="7")
    env.pop("STORYCHECK_ENGINE_MAX_CLAIM", None)
    lines = run_cli("doctor", env=env).stdout.splitlines()
    shown = {line.split()[0]: line for line in lines if line.startswith("  STORYCHECK_")}
    for model in (EngineVariables, AlertVariables, PairVariables):
        for names in variable_names(model).values():
            assert names[0] in shown, names[0]
    assert shown["STORYCHECK_ALERTS_STALL_MINUTES"].split()[1:] == ["7.0", "[env]"]
    assert shown["STORYCHECK_ENGINE_MAX_CLAIM"].split()[1:] == ["2000", "[default]"]


def test_a_bad_option_variable_is_one_line_naming_it(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    cases = [(("doctor",), "STORYCHECK_ENGINE_LEASE_SECONDS"), (("serve",), "STORYCHECK_ENGINE_DENSE"),
             (("serve",), "STORYCHECK_ALERTS_BACKOFF_CAP"), (("worker",), "STORYCHECK_PAIR_RENEW_INTERVAL")]
    for command, variable in cases:
        result = run_cli(*command, env=cli_env(tmp_path / "bad.db", **{variable: "soon"}))
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.startswith(f"Error: Bad environment configuration: {variable}='soon'")
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "bad.db").exists()  # serve and worker stop before the database
