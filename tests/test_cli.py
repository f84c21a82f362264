"""The `storycheck` command line: db upgrade, import, batches."""

from __future__ import annotations

import json

from click.testing import CliRunner

from storycheck.cli import main


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

    again = runner.invoke(main, ["import", "fitness", str(accounts)])
    assert "0 created, 4 duplicates" in again.output

    listed = runner.invoke(main, ["batches"])
    assert listed.exit_code == 0 and "No batches." in listed.output
    assert json.loads(runner.invoke(main, ["batches", "--json"]).output) == []


def test_help_lists_every_command():
    output = CliRunner().invoke(main, ["--help"]).output
    for command in ("serve", "db", "import", "batches", "simulate", "demo", "worker"):
        assert command in output
