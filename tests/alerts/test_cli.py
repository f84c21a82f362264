"""`storycheck alerts test CHANNEL` against a real receiver and an unreachable SMTP host."""

from __future__ import annotations

from click.testing import CliRunner

from storycheck.alerts import channels
from storycheck.cli import main
from storycheck.crypto import SecretBox
from storycheck.db import Database
from tests.helpers import free_port

KEY = "alerts-cli-test-key"


def test_alerts_test_command(sqlite_url, monkeypatch, receivers):
    monkeypatch.setenv("STORYCHECK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("STORYCHECK_SECRET_KEY", KEY)
    receiver = receivers()
    dead = free_port()
    database = Database(sqlite_url)
    with database.write() as session:
        channels.create_channel(session, {
            "name": "ops", "kind": "webhook", "secret": "cli-secret-hidden",
            "config": {"url": receiver.url}}, SecretBox(KEY))
        channels.create_channel(session, {
            "name": "mail", "kind": "email", "secret": "cli-password-hidden",
            "config": {"host": "127.0.0.1", "port": dead, "security": "none",
                       "username": "u", "from_address": "a@storycheck.test",
                       "to": ["b@storycheck.test"]}}, SecretBox(KEY))
    database.dispose()
    runner = CliRunner()

    ok = runner.invoke(main, ["alerts", "test", "ops"])
    assert ok.exit_code == 0, ok.output
    assert "delivered over webhook channel ops" in ok.output
    assert [r.json["type"] for r in receiver.received] == ["alert.test"]

    refused = runner.invoke(main, ["alerts", "test", "mail"])
    assert refused.exit_code == 1
    assert (f"Test message not delivered over mail: Could not connect to SMTP server "
            f"127.0.0.1:{dead}: connection refused") in refused.output

    unknown = runner.invoke(main, ["alerts", "test", "nope"])
    assert unknown.exit_code == 1 and "Alert channel nope not found" in unknown.output
    for result in (ok, refused, unknown):
        assert "cli-secret-hidden" not in result.output
        assert "cli-password-hidden" not in result.output
