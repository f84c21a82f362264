"""A guard that makes the single-writer rule of batch state fail loudly (STYLE habit 1).

Only `BatchStateManager` may change `batches.status` or `batches.queue_position`. The state
manager marks its transactions with `state_writer()`; `install_guard(engine)` adds a
`before_cursor_execute` listener that refuses every other statement that updates either column,
whatever shape produced it (ORM flush, Core `update()`, bulk updates, raw SQL). The test suite
turns it on for every engine (`STORYCHECK_SINGLE_WRITER_GUARD=1`, also inherited by the servers
and workers the tests start); production does not pay for it.
"""

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

GUARD_ENV = "STORYCHECK_SINGLE_WRITER_GUARD"

_writer: contextvars.ContextVar[bool] = contextvars.ContextVar("batch_state_writer", default=False)
_UPDATE_BATCHES = re.compile(r"^\s*UPDATE\s+\"?batches\"?\s+SET\s+(?P<set>.*)$", re.I | re.S)
_GUARDED_COLUMN = re.compile(r"(?<![\w.])\"?(status|queue_position)\"?\s*=", re.I)


class SingleWriterViolation(AssertionError):
    """A statement outside BatchStateManager tried to write a batch's status or position."""


@contextmanager
def state_writer() -> Iterator[None]:
    """Mark the statements run inside as the state manager's own."""
    token = _writer.set(True)
    try:
        yield
    finally:
        _writer.reset(token)


def writes_batch_state(statement: str) -> bool:
    """True when `statement` is an UPDATE of `batches` that sets status or queue_position."""
    match = _UPDATE_BATCHES.match(statement)
    if match is None:
        return False
    set_clause = re.split(r"\bWHERE\b|\bRETURNING\b", match.group("set"), maxsplit=1, flags=re.I)[0]
    return _GUARDED_COLUMN.search(set_clause) is not None


def _check(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    if not _writer.get() and writes_batch_state(statement):
        raise SingleWriterViolation(
            "Only BatchStateManager may write batches.status or batches.queue_position: "
            + " ".join(statement.split())[:200]
        )


def install_guard(engine: Engine) -> None:
    """Refuse batch status/position writes outside `state_writer()` on `engine`."""
    if not event.contains(engine, "before_cursor_execute", _check):
        event.listen(engine, "before_cursor_execute", _check)


def guard_enabled() -> bool:
    """Whether the environment asks for the guard (the test suite sets it)."""
    return os.environ.get(GUARD_ENV, "") == "1"
