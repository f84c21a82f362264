"""Case-insensitive substring search on usernames, served by an index where one can serve.

SQLite: the FTS5 trigram table `profiles_search` (migration 0007, kept by triggers) finds the
rows holding a search of three or more characters; PostgreSQL: the `pg_trgm` GIN index on
`username_key` serves the key's `LIKE` itself and the planner decides when to use it. The plain `ILIKE`
(the user's `%` and `_` are literal) is always part of the condition, so the result is exactly
what a scan would return; the index only narrows which rows are read.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import ColumnElement, String, and_, column, literal_column, text
from sqlalchemy.orm import Session

from storycheck.profiles.counts import stored_count
from storycheck.profiles.models import Profile, username_key

# A trigram index needs three characters; shorter searches scan the niche's sort index.
MIN_INDEXED_LENGTH = 3
# The search index drives a page only while it finds at most this many rows (read, then
# sorted); a search matching more is common enough that walking the sort index is faster.
# (PostgreSQL's estimate is not a count: above it, the depth of the page still decides.)
INDEX_DRIVES_MAX = 20_000
# Reading one match the search table hands over (a row fetched by rowid, then sorted) costs
# about as much as checking this many entries of a sort index during a walk. A page that
# needs `need` rows walks about `need * table rows / matches` entries; it walks when that is
# cheaper than reading every match (a common word's first pages), else the index drives it.
WALK_ENTRIES_PER_MATCH = 10
# Other characters never occur in a username; such searches keep the plain scan.
_USERNAME_CHARACTERS = re.compile(r"\A[A-Za-z0-9._]+\Z")
_ALPHANUMERIC = re.compile(r"\A[A-Za-z0-9]+\Z")
_NARROWS_KEY = "storycheck.search_narrows"


def like_pattern(search: str) -> str:
    """`%search%` with `\\`, `%` and `_` escaped (they match themselves)."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def like_condition(search: str, *, indexable: bool = True) -> ColumnElement[bool]:
    """The exact condition: the username contains `search`, ignoring case.

    Put on `username_key` where that is the same test, because every sort index holds the key:
    the filter is then checked inside the index (PostgreSQL can answer it index-only). The key
    is the lower-case username with `.` read as `_`, so for a search of letters and digits
    "the key contains it" is exactly "the username contains it, ignoring case"; a search with
    `.` or `_` adds that key test as a pre-filter and keeps the ILIKE on the username.
    `indexable=False` writes the key test so that no index serves it (PostgreSQL: the trigram
    index), for a page that walks the sort index (`search_condition`).
    """
    exact = Profile.username.ilike(like_pattern(search), escape="\\")
    if not _USERNAME_CHARACTERS.match(search):
        return exact
    key: ColumnElement[Any] = (
        Profile.__table__.c.username_key
        if indexable
        else literal_column("(profiles.username_key || '')", String)
    )
    on_key = key.like(like_pattern(username_key(search)), escape="\\")
    return on_key if _ALPHANUMERIC.match(search) else and_(on_key, exact)


def search_condition(
    session: Session, search: str, *, need: int | None = None, scope: int | None = None
) -> ColumnElement[bool]:
    """The WHERE term of a search: index-narrowed where that helps, exact always.

    `need` is how many rows of the list the query reads (offset + page); with it, a search
    whose matches are common enough for a walk of the sort index to fill the page sooner
    keeps the plain (in-index) condition. `scope`: the rows a walk can read at most (the
    niche/status).
    """
    exact = like_condition(search)
    drives = search_drives(session, search, need=need, scope=scope)
    if not _is_sqlite(session):
        # The trigram index serves the LIKE itself. A page that walks is written so that it
        # cannot: on its rough substring estimate the planner fetched every match of the
        # whole table for a small niche's page (65 ms where the walk takes 5).
        return like_condition(search, indexable=False) if need is not None and not drives else exact
    if not drives:
        return exact
    return and_(literal_column("profiles.rowid").in_(_fts_rowids(search)), exact)


def search_drives(
    session: Session, search: str, *, need: int | None = None, scope: int | None = None
) -> bool:
    """True when the search index should drive the query for `search`.

    Driving means: read every match through the search index (SQLite: the FTS table's rowids;
    PostgreSQL: a bitmap scan of the trigram index), then sort them. It does when, for a page
    needing `need` rows, reading them all is cheaper than walking the sort index (see
    WALK_ENTRIES_PER_MATCH); a walk never reads more than the `scope` rows of the niche/status
    (a count: all of them). Above INDEX_DRIVES_MAX matches it never does on SQLite (its count
    stops there) nor, on PostgreSQL, for a query without `need`. PostgreSQL's planner is not
    left to choose: with its rough substring estimate it walked a niche's whole sort index for
    a deep page (docs/DESIGN-NOTES.md, "Profiles at scale").
    """
    matches = index_matches(session, search)
    if matches is None:
        return False
    if matches > INDEX_DRIVES_MAX and (need is None or _is_sqlite(session)):
        # SQLite's count stopped at the cap: too common to fetch every match.
        return False
    if need is None or matches == 0:
        return True
    walked = need * stored_count(session, niche_id=None, status=None) / matches
    if scope is not None:
        walked = min(walked, scope)
    return walked > WALK_ENTRIES_PER_MATCH * matches


def index_matches(session: Session, search: str) -> int | None:
    """About how many rows hold `search`; None: no index serves it.

    SQLite: counted in the search table (its own index, no profile rows), capped at
    INDEX_DRIVES_MAX + 1. PostgreSQL: the planner's estimate for the trigram index (statistics
    only, nothing read; not capped, the choice of `search_drives` weighs it). Once per
    session and search.
    """
    if len(search) < MIN_INDEXED_LENGTH or not _USERNAME_CHARACTERS.match(search):
        return None
    cache: dict[str, int] = session.info.setdefault(_NARROWS_KEY, {})
    if search not in cache:
        if session.get_bind().dialect.name == "sqlite":
            cache[search] = session.execute(
                text(
                    "SELECT count(*) FROM (SELECT rowid FROM profiles_search "
                    "WHERE profiles_search MATCH :phrase LIMIT :cap)"
                ),
                {"phrase": _phrase(search), "cap": INDEX_DRIVES_MAX + 1},
            ).scalar_one()
        else:
            plan = session.execute(
                text(
                    "EXPLAIN (FORMAT JSON) SELECT 1 FROM profiles "
                    "WHERE username_key LIKE :pattern ESCAPE '\\'"
                ),
                {"pattern": like_pattern(username_key(search))},
            ).scalar_one()
            plan = json.loads(plan) if isinstance(plan, str) else plan
            cache[search] = int(plan[0]["Plan"]["Plan Rows"])
    return cache[search]


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _fts_rowids(search: str):  # type: ignore[no-untyped-def]
    return (
        text("SELECT rowid FROM profiles_search WHERE profiles_search MATCH :phrase")
        .bindparams(phrase=_phrase(search))
        .columns(column("rowid"))
    )


def _phrase(search: str) -> str:
    """An FTS5 phrase holding `search` literally (a trigram phrase is a substring match)."""
    return '"' + search.replace('"', '""') + '"'
