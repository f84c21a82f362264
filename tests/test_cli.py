"""The `storycheck` command line in process: db upgrade, import (niche matched ignoring case), batches.

The end-to-end CLI tests (a real subprocess, server and simulator) are in tests/cli/.
"""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import select

from storycheck.cli import main
from storycheck.db import Database
from storycheck.niches.models import Niche


def test_import_then_list_batches(tmp_path, monkeypatch):
    monkeypatch.setenv("STORYCHECK_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("STORYCHECK_SECRET_KEY", "cli-test-key")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0

    accounts = tmp_path / "accounts.txt"
    accounts.write_bytes(b"\xef\xbb\xbfalice\r\n@bob\r\nhttps://instagram.com/carol/\r\n\r\nbad name\r\nALICE\n")
    result = runner.invoke(main, ["import", "fitness", str(accounts)])
    assert result.exit_code == 0, result.output
    assert "3 created, 1 duplicates, 1 invalid, 5 lines" in result.output
    assert "bad name" in result.output
    assert "(new niche 'fitness')" in result.output

    # The niche is found ignoring case: no second "FITNESS" beside "fitness".
    again = runner.invoke(main, ["import", "FITNESS", str(accounts)])
    assert again.exit_code == 0, again.output
    assert "0 created, 4 duplicates" in again.output and "new niche" not in again.output
    database = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    with database.read() as session:
        assert list(session.scalars(select(Niche.name))) == ["fitness"]
    database.dispose()

    listed = runner.invoke(main, ["batches"])
    assert listed.exit_code == 0 and "No batches." in listed.output
    assert json.loads(runner.invoke(main, ["batches", "--json"]).output) == []


def test_help_lists_every_command():
    output = CliRunner().invoke(main, ["--help"]).output
    for command in (
        "serve", "db", "check", "stories", "import", "batches", "niches", "simulate", "demo",
        "worker",
    ):
        assert command in output
