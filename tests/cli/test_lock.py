"""The engine lock: a held lock names its holder; a free or stale one names nobody."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

from storycheck.cli import main
from storycheck.cli.lock import EngineLock, Holder, holder, lock_path
from storycheck.db import Database
from storycheck.migrate import upgrade
from tests.cli.conftest import cli_env


def test_a_held_lock_names_its_holder_and_a_released_one_nobody(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert holder(url) is None  # no file yet

    lock = EngineLock.acquire(url, kind="server", url="http://127.0.0.1:5123")
    assert lock is not None
    assert holder(url) == Holder(pid=os.getpid(), kind="server", url="http://127.0.0.1:5123")
    assert EngineLock.acquire(url, kind="check") is None  # one holder at a time

    lock.release()
    assert lock_path(url) == tmp_path / "a.db.engine.lock"
    assert (tmp_path / "a.db.engine.lock").exists()  # the stale note stays, and means nothing
    assert holder(url) is None


def test_no_lock_for_databases_without_a_file():
    assert lock_path("postgresql+psycopg://user:secret@db-host/storycheck") is None
    assert lock_path("sqlite://") is None
    assert EngineLock.acquire("sqlite:///:memory:", kind="check") is None


def test_a_second_in_process_check_refuses_in_one_line(tmp_path: Path):
    path = tmp_path / "busy.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    db.dispose()
    lock = EngineLock.acquire(f"sqlite:///{path}", kind="check")
    assert lock is not None
    try:
        result = CliRunner().invoke(main, ["check", "Fitness"], env=cli_env(path))
    finally:
        lock.release()
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: Another storycheck check (pid {os.getpid()}) runs the engine on "
        f"sqlite:///{path}; wait for it to finish, or run `storycheck serve` and check through it"
    ]
