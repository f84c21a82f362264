"""The engine lock: who serves a SQLite database right now, and at which address.

`storycheck serve` (and `demo`) and an in-process `storycheck check` hold an exclusive
`flock` on `<database file>.engine.lock` while they run, with a JSON note of who they are
(`{"pid", "kind", "url"}`). The kernel drops the lock when the process ends, however it ends,
so a stale file is harmless. Other CLI commands read the note: a server's URL means "talk to
it through its API instead of starting a second engine on the same file". PostgreSQL
databases have no lock file; there the CLI needs `--server` to reach a running server.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SUFFIX = ".engine.lock"


@dataclass(frozen=True)
class Holder:
    """The process holding the lock: its pid, what it is, and the API it serves (if any)."""

    pid: int | None
    kind: str
    url: str | None


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL; None for in-memory SQLite and other databases."""
    from sqlalchemy.engine import make_url  # here: --server runs need no SQLAlchemy

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve()


def lock_path(database_url: str) -> Path | None:
    """Where the engine lock of this database lives (None: no lock for this kind of database)."""
    path = sqlite_path(database_url)
    return None if path is None else path.with_name(path.name + SUFFIX)


class EngineLock:
    """An exclusive hold on a database's engine lock, released by `release` or process exit."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle: IO[str] | None = handle

    @classmethod
    def acquire(cls, database_url: str, *, kind: str, url: str | None = None) -> EngineLock | None:
        """Take the lock without waiting; None when another process holds it (or no lock applies)."""
        path = lock_path(database_url)
        if path is None or not path.parent.is_dir():
            return None
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "kind": kind, "url": url}))
        handle.flush()
        return cls(handle)

    def release(self) -> None:
        """Give the lock up (the note stays; without the lock nobody trusts it)."""
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def holder(database_url: str, *, settle: float = 0.5) -> Holder | None:
    """Who holds the engine lock of this database now; None when nobody does."""
    path = lock_path(database_url)
    if path is None or not path.exists():
        return None
    with open(path, encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            pass  # held: read the note below
        else:
            fcntl.flock(handle, fcntl.LOCK_UN)
            return None
        # The holder writes its note just after locking: give it a moment to appear.
        deadline = time.monotonic() + settle
        while True:
            handle.seek(0)
            text = handle.read()
            if text or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    try:
        note = json.loads(text)
    except ValueError:
        note = {}
    pid = note.get("pid")
    return Holder(
        pid=pid if isinstance(pid, int) else None,
        kind=str(note.get("kind") or "unknown"),
        url=note.get("url") if isinstance(note.get("url"), str) else None,
    )
