"""Helpers every test package shares: free ports, waiting, absence checks and the error shape.

One home for each: a test module imports from here instead of keeping its own copy.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import event

from storycheck.migrate import alembic_config
from storycheck.testing import SimulatorProcess, wait_until

__all__ = [
    "assert_error",
    "check_error_shape",
    "free_port",
    "holds_for",
    "migrate",
    "no_violations",
    "recorded_statements",
    "revision_before",
    "wait_until",
]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def holds_for(
    condition: Callable[[], bool], *, seconds: float, interval: float = 0.05, what: str = ""
) -> None:
    """Check that `condition` stays true for `seconds`, failing at the first poll it is false.

    For "nothing more happens" only (no request after a pause, no progress while paused): what
    must *become* true is waited for with `wait_until`. Give a window of a few of the engine's
    own intervals, so the system had every chance to break the condition.
    """
    deadline = time.monotonic() + seconds
    while True:
        assert condition(), f"no longer true: {what or condition}"
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)


def check_error_shape(status: int, body: Any, what: str = "") -> None:
    """A 4xx body is a JSON object with non-empty string `error` and `message`."""
    assert isinstance(body, dict), f"{what}: {status} body is not a JSON object"
    assert isinstance(body.get("error"), str) and body["error"], f"{what}: {status} lacks error"
    assert isinstance(body.get("message"), str) and body["message"], (
        f"{what}: {status} lacks message"
    )


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """Check a Flask test-client answer is `status` with the error shape (and the `error` code
    `code`, when given); return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    check_error_shape(status, body, f"{response.request.method} {response.request.path}")
    if code is not None:
        assert body["error"] == code, body
    return dict(body)


def no_violations(sim: SimulatorProcess) -> None:
    """The simulator's referee saw no request over a session's or an address's limit."""
    violations = sim.stats()["violations"]
    assert violations["count"] == 0, violations["samples"][:5]


@contextmanager
def recorded_statements(db: Any) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement (with its parameters) `db`'s engine runs inside the block."""
    seen: list[tuple[str, Any]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def revision_before(database_url: str, file_suffix: str) -> str:
    """The revision a migration comes after, found by its file's name (numbers are re-chained
    when branches merge)."""
    scripts = ScriptDirectory.from_config(alembic_config(database_url)).walk_revisions()
    (migration,) = [r for r in scripts if str(r.path).endswith(file_suffix)]
    return str(migration.down_revision)


def migrate(db: Any, database_url: str, target: str, *, down: bool = False) -> None:
    """Run the migrations of `db` up (or `down`) to `target` on a connection of its own engine."""
    cfg = alembic_config(database_url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, target)
