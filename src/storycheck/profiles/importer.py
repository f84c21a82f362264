"""Bulk import of usernames (one per line) into a niche, set-based so 100,000 lines take seconds.

Every line is parsed in Python, duplicates are found set-based (one read of every stored key for
big imports, else probes of the normalised keys: one `= ANY(array)` on PostgreSQL, one JSON
list on SQLite), and new profiles (in username-key order, with ascending ids from
`db.ordered_ids`) are written with COPY on PostgreSQL, one INSERT … SELECT from a JSON
parameter on SQLite — all in the caller's transaction, so a failed import leaves nothing
behind and a retried one (the original client re-sends failed requests) only reports
duplicates.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, String, Table, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from storycheck.db import AdvisoryLock, advisory_xact_lock, ordered_ids, utcnow
from storycheck.errors import NotFound, ValidationError
from storycheck.niches.models import Niche
from storycheck.profiles.counts import stored_count
from storycheck.profiles.models import Profile, username_key
from storycheck.profiles.service import (
    INVALID_FORMAT,
    RESERVED_PATHS,
    USERNAME_RE,
    extract_username,
    profile_to_dict,
    profile_url,
)

MAX_LINES = 250_000
# The report lists at most this many created profiles and errors; the counts are always exact.
REPORT_LIMIT = 1000
LINE_ECHO_LENGTH = 200
# Read every stored key instead of probing when the import has at least 1/4 as many lines.
FULL_SCAN_RATIO = 4
# After this many new rows PostgreSQL gets fresh statistics at once (and drops cached plans).
ANALYZE_AFTER_ROWS = 10_000
# Serialises imports on PostgreSQL so two concurrent uploads cannot both pass the duplicate check.

# SQLite row triggers replaced by set-based statements during an import (`_insert_sqlite`).
_BULK_TRIGGERS = ("profiles_search_insert", "profile_counts_insert")

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class ImportReport:
    """What an import did; `to_dict` is the API's import report."""

    total: int = 0
    created: list[dict[str, Any]] = field(default_factory=list)
    created_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0
    duplicate_count: int = 0
    invalid_format_count: int = 0

    def add_error(self, line_number: int, line: str, error: str) -> None:
        """Record a rejected line (only the first REPORT_LIMIT are listed)."""
        self.error_count += 1
        if len(self.errors) < REPORT_LIMIT:
            echo = line if len(line) <= LINE_ECHO_LENGTH else line[:LINE_ECHO_LENGTH] + "…"
            self.errors.append({"line": echo, "error": error, "line_number": line_number})

    def to_dict(self) -> dict[str, Any]:
        """The import report of the API (contract §4.4 plus `line_number` and truncation flags)."""
        return {
            "created": self.created,
            "errors": self.errors,
            "total": self.total,
            "created_count": self.created_count,
            "error_count": self.error_count,
            "duplicate_count": self.duplicate_count,
            "invalid_format_count": self.invalid_format_count,
            "created_truncated": self.created_count > len(self.created),
            "errors_truncated": self.error_count > len(self.errors),
        }


def decode_upload(raw: bytes) -> str:
    """Decode an uploaded list as UTF-8 (a byte-order mark is dropped)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"The file is not UTF-8 text (invalid byte at position {exc.start}); "
            "save it as UTF-8 and import it again",
            code="The file is not UTF-8 text",
        ) from exc


def split_lines(text: str) -> list[tuple[int, str]]:
    """Non-blank trimmed lines with their 1-based line numbers (CRLF, CR and LF all break)."""
    lines = [
        (number, stripped)
        for number, line in enumerate(_LINE_BREAK.split(text), start=1)
        if (stripped := line.strip())
    ]
    if len(lines) > MAX_LINES:
        raise ValidationError(
            f"The file has {len(lines)} usernames; at most {MAX_LINES} can be imported at once",
            code="The file is too long",
            details={"valid_range": f"1-{MAX_LINES} lines"},
        )
    return lines


def import_profiles(session: Session, *, niche_id: str, raw: bytes) -> ImportReport:
    """Create one active profile per new username in the upload, reporting every other line."""
    niche = session.get(Niche, niche_id)
    if niche is None:
        message = f"Invalid niche_id: {niche_id[:64]}"
        raise NotFound(message, code=message, details={"niche_id": niche_id[:64]})
    lines = split_lines(decode_upload(raw))
    if not lines:
        raise ValidationError(
            "The file contains no usernames (it is empty or only has blank lines)",
            code="The file contains no usernames",
        )
    advisory_xact_lock(session, AdvisoryLock.IMPORT)

    report = ImportReport(total=len(lines))
    # (line number, line, username or None, its key or the reason it is invalid)
    parsed = [(number, line, *_read_line(line)) for number, line in lines]
    # Usernames already stored (any niche, any status), found in a few set-based queries.
    existing = _existing_usernames(
        session, list({key for _, _, name, key in parsed if name is not None})
    )

    accepted: list[tuple[str, str]] = []  # (key, username) of each new profile, file order
    first_seen: dict[str, str] = {}
    for number, line, username, key_or_reason in parsed:
        if username is None:
            report.invalid_format_count += 1
            report.add_error(number, line, key_or_reason)
            continue
        earlier = existing.get(key_or_reason) or first_seen.get(key_or_reason)
        if earlier is not None:
            report.duplicate_count += 1
            report.add_error(number, line, f"Profile already exists (as {earlier})")
            continue
        first_seen[key_or_reason] = username
        accepted.append((key_or_reason, username))

    # Written in key order with ascending ids (`db.ordered_ids`): every index of `profiles`
    # then takes the new entries in its own order, page after page, instead of at 100,000
    # random places. The report keeps the file's order.
    by_key = sorted(accepted)
    ids = ordered_ids(len(by_key))
    # Every column but the first four is the same for each new profile.
    shared = {
        "niche_id": niche.id,
        "status": "active",
        "active_story": False,
        "total_checks": 0,
        "total_detections": 0,
        "not_found": False,
        "created_at": (now := utcnow()),
        "updated_at": now,
    }
    if by_key:
        rows = [
            (new_id, username, key, profile_url(username))
            for new_id, (key, username) in zip(ids, by_key, strict=True)
        ]
        _insert(session, rows, shared)
        if len(rows) >= ANALYZE_AFTER_ROWS and session.get_bind().dialect.name == "postgresql":
            session.execute(text("ANALYZE profiles"))
    report.created_count = len(by_key)
    id_of = dict(zip((key for key, _ in by_key), ids, strict=True))
    # Every new profile's API object is the same but for its id, username and url.
    template = profile_to_dict(Profile(**shared), niche.name, now=now)
    report.created = [
        {**template, "id": id_of[key], "username": name, "url": profile_url(name)}
        for key, name in accepted[:REPORT_LIMIT]
    ]
    return report


def _read_line(line: str) -> tuple[str, str] | tuple[None, str]:
    """`(username, key)` of a line, or `(None, reason)` when it names no valid username."""
    if USERNAME_RE.match(line) and line.lower() not in RESERVED_PATHS:
        return line, username_key(line)  # the common case: a bare username
    username, reason = extract_username(line)
    if username is None:
        return None, reason or INVALID_FORMAT
    return username, username_key(username)


# The columns each new profile gets a value of its own for (`_insert`'s rows).
_OWN_COLUMNS = ("id", "username", "username_key", "url")
_OwnValues = tuple[str, str, str, str]


def _insert(session: Session, rows: list[_OwnValues], shared: dict[str, Any]) -> None:
    """Insert the new profiles (`_OWN_COLUMNS` values, then `shared` for every row): COPY on
    PostgreSQL, one INSERT … SELECT on SQLite."""
    table = cast(Table, Profile.__table__)
    if session.get_bind().dialect.name != "postgresql":
        _insert_sqlite(session, table, rows, shared)
        return
    columns = [*_OWN_COLUMNS, *shared]
    tail = tuple(shared.values())
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    statement = f"COPY profiles ({', '.join(columns)}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[attr-defined]
        for row in rows:
            copy.write_row(row + tail)
    # The COPY filled the trigram index's pending list (migration 0011); merge it now, in bulk,
    # so later searches do not scan it. Needs ownership of the index: skipped without it.
    try:
        with session.begin_nested():
            session.execute(text("SELECT gin_clean_pending_list('ix_profiles_username_trgm')"))
    except DBAPIError:
        pass


def _insert_sqlite(
    session: Session, table: Table, rows: list[_OwnValues], shared: dict[str, Any]
) -> None:
    """One INSERT … SELECT, with the search table and the counts brought up to date set-based.

    SQLite's row triggers (migration 0010) would add each row to the FTS table and upsert the
    counts row by row, which costs most of a large import; inside this transaction (DDL is
    transactional in SQLite, and the transaction holds the only write lock, so no other
    writer can run without them) the two insert triggers are dropped, the rows inserted, the
    new rows (rowids above the previous maximum) added to both in one statement each, and the
    triggers created again from their stored text. A failure rolls all of it back.
    """
    connection = session.connection()
    triggers: dict[str, str] = dict(
        connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?)",
            _BULK_TRIGGERS,
        ).all()
    )
    last = connection.exec_driver_sql("SELECT coalesce(max(rowid), 0) FROM profiles").scalar()
    for name in triggers:
        connection.exec_driver_sql(f"DROP TRIGGER {name}")
    _insert_json(connection, table, rows, shared)
    if "profiles_search_insert" in triggers:
        connection.exec_driver_sql(
            "INSERT INTO profiles_search (rowid, username) "
            "SELECT rowid, username FROM profiles WHERE rowid > ?",
            (last,),
        )
    if "profile_counts_insert" in triggers:
        connection.exec_driver_sql(
            "INSERT INTO profile_counts (niche_key, status, profiles) "
            "SELECT coalesce(niche_id, ''), status, count(*) FROM profiles WHERE rowid > ? "
            "GROUP BY coalesce(niche_id, ''), status "
            "ON CONFLICT (niche_key, status) DO UPDATE SET profiles = profiles + excluded.profiles",
            (last,),
        )
    for definition in triggers.values():
        connection.exec_driver_sql(definition)


def _insert_json(
    connection: Connection, table: Table, rows: list[_OwnValues], shared: dict[str, Any]
) -> None:
    """INSERT … SELECT the rows from one JSON parameter (`json_each`), shared values bound once.

    One statement instead of an executemany: SQLite then builds the 100,000 records in C
    instead of binding and stepping a statement per row from Python (−15 % of SQLite's
    instructions for an import, BENCHMARKS.md "Import, fourth pass"). The own columns are
    plain strings, so the JSON text carries them exactly; every other value is bound as its
    column type.
    """
    assert all(_bound_as_is(connection, table, name) for name in _OWN_COLUMNS)
    shared_values = tuple(_bound(connection, table, name, value) for name, value in shared.items())
    own = ", ".join(f"value ->> {index}" for index in range(len(_OWN_COLUMNS)))
    statement = (
        f"INSERT INTO {table.name} ({', '.join((*_OWN_COLUMNS, *shared))}) "
        f"SELECT {own}, {', '.join('?' for _ in shared)} FROM json_each(?)"
    )
    connection.exec_driver_sql(statement, (*shared_values, json.dumps(rows)))


def _bound_as_is(connection: Connection, table: Table, name: str) -> bool:
    return table.c[name].type.bind_processor(connection.dialect) is None


def _bound(connection: Connection, table: Table, name: str, value: Any) -> Any:
    """`value` as SQLite receives it: the column type's conversion, then the driver's adapter."""
    process: Callable[[Any], Any] | None = table.c[name].type.bind_processor(connection.dialect)
    value = process(value) if process is not None else value
    adapter = sqlite3.adapters.get((type(value), sqlite3.PrepareProtocol))
    return adapter(value) if adapter is not None else value


def _existing_usernames(session: Session, keys: list[str]) -> dict[str, str]:
    """Usernames already stored under any of `keys` (normalised key -> stored username)."""
    if not keys:
        return {}
    stored = stored_count(session, niche_id=None, status=None)
    if len(keys) * FULL_SCAN_RATIO >= stored:
        # A large import against a table of similar size: one sequential read of every key is
        # faster than thousands of probes, and immune to a stale PostgreSQL plan (a plan made
        # while the table was empty keeps scanning it once per probe batch).
        wanted = set(keys)
        rows = session.execute(select(Profile.username_key, Profile.username))
        return {key: name for key, name in rows if key in wanted}
    if session.get_bind().dialect.name == "postgresql":
        # One statement with every key in one array parameter: half the time of the
        # 5,000-bind IN lists below (100,000 keys against 1,000,000 rows: 0.8 s vs 1.6 s).
        array = bindparam("keys", keys, type_=ARRAY(String()))
        query = select(Profile.username_key, Profile.username).where(
            Profile.username_key == any_(array)
        )
        return {key: name for key, name in session.execute(query)}
    # SQLite: every key in one JSON parameter, probed through the unique key index (the
    # 5,000-bind IN lists this replaces spent more time building their SQL than running it).
    rows = session.connection().exec_driver_sql(
        "SELECT username_key, username FROM profiles "
        "WHERE username_key IN (SELECT value FROM json_each(?))",
        (json.dumps(keys),),
    )
    return {key: name for key, name in rows}
