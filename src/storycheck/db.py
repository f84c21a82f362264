"""Database engine, sessions and column types shared by every domain's models."""

from __future__ import annotations

import enum
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from storycheck.batches.guard import guard_enabled, install_guard

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Ask for this on a session (`write_session`) to take SQLite's write lock at BEGIN, so two
# writers never both read-then-write the queue; PostgreSQL uses row/advisory locks instead.
IMMEDIATE = {"storycheck_immediate": True}


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """Render a timestamp as ISO-8601 (UTC with offset), or None."""
    return value.isoformat() if value is not None else None


def partial(sqlite: str, postgresql: str | None = None) -> dict[str, Any]:
    """An `Index`'s partial condition on both databases (the same text unless they differ).

    SQLite uses a partial index only for a query term of the same text, so the condition is
    written as the queries that read the index compile.
    """
    return {"sqlite_where": text(sqlite), "postgresql_where": text(postgresql or sqlite)}


def new_id() -> str:
    """Return a new UUID4 primary key as a 36-character string."""
    return str(uuid.uuid4())


# Ids for many rows written at once (an import, a batch's items): one prefix per run, then a
# counter, so the rows' primary-key index grows at its end instead of taking 100,000 random
# inserts across a million entries. The text is a UUID version 7 (RFC 9562): 48 bits of Unix
# milliseconds, 42 random bits per run, the last ORDERED_ID_COUNTER_DIGITS hex digits a
# counter. The counter's last two digits cycle through the run, like a random id's
# (`batches.progress` samples items on them).
ORDERED_ID_COUNTER_DIGITS = 8


def ordered_id_prefix() -> str:
    """The shared first 28 characters of one run of ordered ids (see `ordered_ids`)."""
    millis = int(datetime.now(UTC).timestamp() * 1000) & 0xFFFF_FFFF_FFFF
    bits = int.from_bytes(os.urandom(6), "big")
    rand_a, variant, rand_b, rand_c = (
        bits >> 36,
        8 | (bits >> 34 & 3),
        bits >> 22 & 0xFFF,
        bits >> 6 & 0xFFFF,
    )
    return (
        f"{millis >> 16:08x}-{millis & 0xFFFF:04x}-7{rand_a:03x}-{variant:x}{rand_b:03x}-{rand_c:04x}"
    )


def ordered_ids(count: int) -> list[str]:
    """`count` new unique ids in ascending order (one run: a fresh prefix and a counter)."""
    prefix = ordered_id_prefix()
    digits = ORDERED_ID_COUNTER_DIGITS
    return [f"{prefix}{number:0{digits}x}" for number in range(1, count + 1)]


class AdvisoryLock(enum.IntEnum):
    """Every PostgreSQL advisory lock key of the code base, in one place (one key, one job)."""

    MIGRATIONS = 727001  # two processes starting at once must not both migrate
    QUEUE = 727002  # batch status and queue positions (batches/state.py only)
    IMPORT = 727003  # profile imports: duplicate detection across concurrent imports
    PAIR_OWNERSHIP = 727004  # which worker owns which proxy+session pair


def advisory_xact_lock(target: Session | Connection, lock: AdvisoryLock) -> None:
    """Take `lock` until the end of the current transaction (PostgreSQL; a no-op on SQLite,
    where every writer already serialises on the database's write lock)."""
    bind = target.get_bind() if isinstance(target, Session) else target
    if bind.dialect.name == "postgresql":
        target.execute(select(func.pg_advisory_xact_lock(int(lock))))


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always stored as UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations get stable constraint names."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), str: String()}


def _owner_only(database: str | None) -> None:
    """The database holds encrypted secrets and the whole account list: owner access only.

    SQLite creates the -wal and -shm files with the main file's mode, so they follow.
    """
    if not database:
        return
    for suffix in ("", "-wal", "-shm"):
        path = database + suffix
        try:
            if os.stat(path).st_mode & 0o077:
                os.chmod(path, 0o600)
        except OSError:
            continue  # not created yet, or not ours to change


SQLITE_PAGE_SIZE = 16384
SQLITE_MMAP_BYTES = 2 << 30  # SQLite caps it at its compile-time maximum (2 GiB)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN below decide transaction boundaries, not the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # A new database gets 16 KiB pages (an existing one keeps its size): fewer, fuller
        # B-tree pages for the 14 indexes a bulk import writes (BENCHMARKS.md, "page size").
        # Set before WAL mode, which would create the file with the default size.
        cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # 64 MiB of page cache (the default is 2 MiB): bulk writes touch many index pages.
        cursor.execute("PRAGMA cache_size=-65536")
        # Reads map the file instead of copying each page into the cache: a deep search page
        # fetches thousands of rows at random places.
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()
        _owner_only(engine.url.database)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("storycheck_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Owns the engine and hands out sessions; one per application or worker process."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if ":memory:" in url or url in ("sqlite://", "sqlite:///"):
                raise ValueError("storycheck needs a file-based SQLite database")
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True, pool_recycle=1800)
            if url.startswith("postgresql+psycopg"):
                # Server-side prepared plans made while a table was small outlive its growth
                # (a 5,000-key IN lookup became a full scan); plan every statement afresh.
                kwargs["connect_args"] = {"prepare_threshold": None}
        self.engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        if guard_enabled():
            install_guard(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite backend."""
        return self.engine.dialect.name == "sqlite"

    def checkpoint(self) -> None:
        """Fold SQLite's write-ahead log back into the database file and shrink it.

        A long read (a big download) pins the WAL; once it ends the log can be truncated. The
        maintenance thread calls this every minute; it is a no-op on PostgreSQL.
        """
        if self.is_sqlite:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def session(self) -> Session:
        """Open a plain session (reads, or writes that need no queue lock)."""
        return self._sessions()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Yield a session for reading; it is closed (and rolled back) afterwards."""
        session = self._sessions()
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """Yield a session whose reads all see one consistent snapshot of the database.

        PostgreSQL runs it as REPEATABLE READ; SQLite's WAL gives every read transaction a
        snapshot from its first read on.
        """
        session = self._sessions()
        try:
            if not self.is_sqlite:
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session
        finally:
            session.rollback()
            session.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """Yield a session inside one write transaction, committed on success.

        On SQLite the transaction starts with BEGIN IMMEDIATE, so the write lock is held from
        the first read: read-check-write sequences cannot interleave with another writer.
        """
        session = self._sessions()
        try:
            if self.is_sqlite:
                session.connection(execution_options=IMMEDIATE)
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
