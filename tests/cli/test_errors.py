"""Bad input is one line on stderr and a non-zero exit code, never a traceback or a new database.

Most cases run in this process through click's runner (the same `main`, the same error
handling, without paying a Python start-up each); a few run the real executable to show the
installed command behaves the same.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from storycheck.cli import main
from storycheck.db import Database
from storycheck.migrate import upgrade
from storycheck.testing import seed_niche, seed_profiles
from tests.cli.conftest import cli_env
from tests.helpers import free_port


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Input files of every kind of bad: empty, blank, not UTF-8, a directory, missing."""
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_bytes(b"\n  \r\n\n")
    (tmp_path / "latin1.txt").write_bytes("café_owner\n".encode("latin-1"))
    (tmp_path / "invalid.txt").write_text("not a name!\nhttps://instagram.com/\n")
    (tmp_path / "good.txt").write_text("alice\nbob\n")
    (tmp_path / "folder").mkdir()
    return {
        "empty": tmp_path / "empty.txt",
        "blank": tmp_path / "blank.txt",
        "latin1": tmp_path / "latin1.txt",
        "invalid": tmp_path / "invalid.txt",
        "good": tmp_path / "good.txt",
        "folder": tmp_path / "folder",
        "missing": tmp_path / "missing.txt",
    }


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A migrated database: niche "Fitness" with one account, an empty niche, no proxy pairs."""
    path = tmp_path / "existing.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    seed_profiles(db, seed_niche(db, "Fitness"), ["carol"])
    seed_niche(db, "Empty")
    db.dispose()
    return path


def invoke(args: list[str], env: dict[str, str]):
    """Run `storycheck ARGS` in this process; return the click result."""
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def assert_one_line_error(result, expected: str) -> None:
    """Exit code ≠ 0, nothing on stdout, exactly one `Error: …` line on stderr."""
    assert result.exit_code != 0, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


MISSING_DATABASE_COMMANDS = [
    ["stories"],
    ["stories", "--json"],
    ["batches"],
    ["batches", "--watch"],
    ["niches"],
    ["check", "Fitness"],
]


@pytest.mark.parametrize("args", MISSING_DATABASE_COMMANDS, ids=" ".join)
def test_missing_database_is_named_and_never_created(tmp_path: Path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "nowhere" / "storycheck.db"
    (tmp_path / "nowhere").mkdir()
    result = invoke(args, cli_env(path))
    assert_one_line_error(result, f"No database at sqlite:///{path}")
    assert "STORYCHECK_DATABASE_URL" in result.stderr
    assert sorted(p.name for p in (tmp_path / "nowhere").iterdir()) == []
    assert not (tmp_path / "storycheck.db").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["check", "--file", "{empty}", "--niche", "Fitness"], "is empty or only has blank lines"),
        (["check", "--file", "{blank}", "--niche", "Fitness"], "is empty or only has blank lines"),
        (["check", "--file", "{missing}", "--niche", "Fitness"], "No such file or directory"),
        (["check", "--file", "{folder}", "--niche", "Fitness"], "is a directory"),
        (["check", "--file", "{latin1}", "--niche", "Fitness"], "is not UTF-8 text"),
        (["check", "--file", "{invalid}", "--niche", "Fitness"], "2 lines are not a username"),
        (["check", "Cooking"], "No niche named 'Cooking' (niches: "),
        (["check", "alice_1"], "to check the account 'alice_1', add --niche NAME"),
        (["check", "--niche", "Cooking", "alice"], "add --create-niche to create it"),
        (["check", "fitness"], "No active proxy + session pair"),
        (["check", "--niche", "empty"], "Niche 'Empty' has no accounts to check"),
        (["check", "alice", "bob"], "needs --niche NAME"),
        (["check", "--json", "--csv", "Fitness"], "choose one of --json and --csv"),
        (["check"], "name a NICHE"),
        (["check", "--batch", "no-such-batch"], "not found"),
        (["stories", "--since", "2 hours"], "--since must be a duration like 30m"),
        (["stories", "--since", "yesterday"], "--since must be a duration like 30m"),
        (["stories", "--niche", "Cooking"], "No niche named 'Cooking'"),
        (["import", "Fitness", "{empty}"], "contains no usernames"),
        (["import", "Fitness", "{missing}"], "No such file or directory"),
        (["batches", "--watch", "--json"], "leave out --json"),
        (["stories", "--server", "ftp://example"], "must be an http:// or https:// URL"),
    ],
    ids=lambda value: value if isinstance(value, str) else " ".join(value)[:40],
)
def test_bad_input_is_one_line(database: Path, files, args, expected):
    filled = [arg.format(**{k: str(v) for k, v in files.items()}) for arg in args]
    result = invoke(filled, cli_env(database))
    assert_one_line_error(result, expected)


def test_unreachable_server_is_one_line_from_the_real_command(tmp_path: Path, files, run_cli):
    env = cli_env(tmp_path / "unused.db")
    url = f"http://127.0.0.1:{free_port()}"
    for args in (
        ["stories", "--server", url],
        ["check", "--server", url, "--file", str(files["good"]), "--niche", "Fitness"],
    ):
        result = run_cli(*args, env=env)
        assert result.returncode == 1, result
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            f"Error: Cannot reach the storycheck server at {url}: [Errno 111] Connection refused"
        ]
    assert not (tmp_path / "unused.db").exists()
