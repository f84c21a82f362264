"""Profile lists at any size: filters, sorts, page/offset and keyset (cursor) pages, totals.

The cost of a page depends on the page, not on the table:

* every sort has a (niche_id, sort column, username_key, status) index (migration 0007), and
  `username_key` (unique) breaks ties in the sort's own direction, so a niche's page is a walk
  of one index; a page first reads only the keys of its rows, then loads those rows;
* NULLs sort last: a nullable column's page reads the non-null part, then the NULL part, each
  served by the same index (neither database serves "ASC NULLS LAST" and "DESC NULLS LAST"
  from one index);
* a substring search of three or more characters goes through the search index (SQLite FTS5
  trigram, PostgreSQL pg_trgm) when that narrows it; the plain LIKE stays as the recheck;
* `total` comes from the trigger-kept counts for niche/status filters; other filters count
  exactly while that is cheap, otherwise they estimate and say so (`total_is_estimate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    String,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.orm import Session

from storycheck import cursors
from storycheck.db import utcnow
from storycheck.errors import ValidationError
from storycheck.niches.models import Niche
from storycheck.profiles.answers import STORY_ANSWERS, story_answer_condition
from storycheck.profiles.counts import stored_count
from storycheck.profiles.models import PROFILE_STATUSES, Profile
from storycheck.profiles.search import (
    INDEX_DRIVES_MAX,
    index_matches,
    like_condition,
    search_condition,
    search_drives,
)

PAGE_MAX = 10_000_000
PAGE_SIZE_MAX = 1000
IDS_MAX = 100_000
# Filters beyond niche/status are counted exactly over at most this many candidate rows ...
EXACT_COUNT_MAX = 20_000
# ... otherwise estimated from the share of matches among this many rows of the niche/status.
ESTIMATE_SAMPLE = 5_000
# A search the index finds (or the planner expects) more often than this is estimated, not
# counted: counting would read every match, scattered over the table.
SEARCH_EXACT_COUNT_MAX = 2_000

# `sort_by` values of the original API (plus nothing else).
SORT_COLUMNS: Final = (
    "username",
    "niche__name",
    "status",
    "last_checked",
    "last_detected",
    "detection_rate",
    "total_detections",
    "total_checks",
    "active_story",
    "created_at",
    "updated_at",
)
_NULLABLE_SORTS: Final = ("niche__name", "last_checked", "last_detected")
_TIME_SORTS: Final = ("last_checked", "last_detected", "created_at", "updated_at")
# Textually equal to the expression of migration 0007's `ix_profiles_niche_rate` index.
DETECTION_RATE_SQL: Final = (
    "(CASE WHEN total_checks > 0 THEN total_detections * 100.0 / total_checks ELSE 0.0 END)"
)


@dataclass(frozen=True)
class ProfileFilters:
    """Which profiles a list, an id listing or a count covers."""

    niche_id: str | None = None
    status: str | None = None
    search: str | None = None
    active_story: bool | None = None
    not_found: bool | None = None
    # One of answers.STORY_ANSWERS: the account's story answer now (`?story=`).
    story: str | None = None

    @property
    def only_stored_counts(self) -> bool:
        """True when the trigger-kept counts answer the total (niche/status filters only)."""
        return (
            not self.search
            and self.active_story is None
            and self.not_found is None
            and self.story is None
        )


@dataclass(frozen=True)
class Sort:
    """A validated order: a column of SORT_COLUMNS (None = username) and a direction."""

    column: str | None = None
    direction: str = "asc"

    @property
    def descending(self) -> bool:
        """True for `desc`."""
        return self.direction == "desc"


@dataclass(frozen=True)
class Position:
    """Where a keyset page starts: after the row with this sort value and username key."""

    value: Any
    key: str
    in_nulls: bool = False


def check_filters(
    *,
    niche_id: str | None,
    status: str | None,
    search: str | None,
    active_story: bool | None,
    not_found: bool | None = None,
    story: str | None = None,
) -> ProfileFilters:
    """Validate list filters (empty strings mean "no filter")."""
    if status and status not in PROFILE_STATUSES:
        raise ValidationError(
            f"Invalid status filter. Must be one of: {', '.join(PROFILE_STATUSES)}",
            details={"field": "status", "valid_range": list(PROFILE_STATUSES)},
        )
    if search and len(search) > 100:
        raise ValidationError(
            "search is longer than 100 characters",
            details={"field": "search", "valid_range": "0-100 characters"},
        )
    if story and story not in STORY_ANSWERS:
        raise ValidationError(
            f"Invalid story filter. Must be one of: {', '.join(STORY_ANSWERS)}",
            details={"field": "story", "valid_range": list(STORY_ANSWERS)},
        )
    return ProfileFilters(
        niche_id=niche_id or None,
        status=status or None,
        search=search or None,
        active_story=active_story,
        not_found=not_found,
        story=story or None,
    )


def check_sort(sort_by: str | None, sort_direction: str | None) -> tuple[str | None, str]:
    """Validate `sort_by` (one of SORT_COLUMNS) and `sort_direction` (asc/desc)."""
    direction = (sort_direction or "asc").lower()
    if direction not in ("asc", "desc"):
        raise ValidationError(
            "Sort direction must be 'asc' or 'desc'",
            details={"field": "sort_direction", "valid_range": ["asc", "desc"]},
        )
    column = sort_by or None
    if column is not None and column not in SORT_COLUMNS:
        raise ValidationError(
            f"Invalid sort column: {column[:50]}",
            details={"field": "sort_by", "valid_range": list(SORT_COLUMNS)},
        )
    return column, direction


# ---------------------------------------------------------------------------------- sorting


def sort_expression(sort: Sort, filters: ProfileFilters) -> ColumnElement[Any] | None:
    """The value a sort orders by before the `username_key` tie-breaker (None: key alone)."""
    column = sort.column
    if column in (None, "username"):
        return None
    if column == "niche__name":
        # Inside one niche every row has the same name: the tie-breaker alone orders them.
        return None if filters.niche_id else Niche.__table__.c.name
    if column == "detection_rate":
        return literal_column(DETECTION_RATE_SQL, Float)
    expression: ColumnElement[Any] = getattr(Profile, column)
    return expression


def full_order(sort: Sort, filters: ProfileFilters) -> list[Any]:
    """ORDER BY terms of a sort as one statement (NULLs last, ties by username key)."""
    key = Profile.username_key.desc() if sort.descending else Profile.username_key.asc()
    expression = sort_expression(sort, filters)
    if expression is None:
        return [key]
    ordered = expression.desc() if sort.descending else expression.asc()
    if sort.column in _NULLABLE_SORTS:
        ordered = ordered.nulls_last()
    return [ordered, key]


def conditions(
    session: Session, filters: ProfileFilters, *, need: int | None = None
) -> list[ColumnElement[bool]]:
    """WHERE terms of `filters` (the search goes through its index where that helps).

    `need`: how many rows of the list the query reads (offset + page), for the search's
    choice between its index and a walk of the sort index (`search.search_drives`).
    When the search index drives, the niche/status terms are written so that no index serves
    them (`_stored_terms`): the planner then fetches the matches (SQLite: by rowid from the
    FTS table; PostgreSQL: a bitmap scan of the trigram index) and sorts them, rather than
    walking the niche's sort index and testing each entry (both planners chose that walk).
    """
    scope = _scope(session, filters, need)
    driven = search_driven(session, filters, need=need)
    unindexed = session.get_bind().dialect.name if driven else None
    return _stored_terms(filters, unindexed=unindexed) + _extra_terms(
        session, filters, need=need, scope=scope
    )


def search_driven(session: Session, filters: ProfileFilters, *, need: int | None) -> bool:
    """True when the search index drives a query of `filters` reading `need` rows."""
    if not filters.search:
        return False
    scope = _scope(session, filters, need)
    return search_drives(session, filters.search, need=need, scope=scope)


def _scope(session: Session, filters: ProfileFilters, need: int | None) -> int | None:
    if not filters.search or need is None:
        return None
    return stored_count(session, niche_id=filters.niche_id, status=filters.status)


def _stored_terms(
    filters: ProfileFilters, *, unindexed: str | None = None
) -> list[ColumnElement[bool]]:
    """The niche/status terms: what the trigger-kept counts count.

    `unindexed` (a dialect name): written so that no index serves them — SQLite `+column`,
    PostgreSQL `column || ''` — because the search index drives the query (`conditions`).
    """
    terms: list[ColumnElement[bool]] = []
    for name, value in (("niche_id", filters.niche_id), ("status", filters.status)):
        if value:
            column: ColumnElement[Any] = Profile.__table__.c[name]
            if unindexed == "sqlite":
                column = literal_column(f"+profiles.{name}", String)
            elif unindexed:
                column = literal_column(f"(profiles.{name} || '')", String)
            terms.append(column == value)
    return terms


def _extra_terms(
    session: Session,
    filters: ProfileFilters,
    *,
    need: int | None = None,
    scope: int | None = None,
    indexed: bool = True,
) -> list[ColumnElement[bool]]:
    terms: list[ColumnElement[bool]] = []
    if filters.search:
        terms.append(
            search_condition(session, filters.search, need=need, scope=scope)
            if indexed
            else like_condition(filters.search)
        )
    if filters.active_story is not None:
        # Live now, from the story window (the stored flag lags until the maintenance tick).
        live = Profile.story_expires_at > utcnow()
        terms.append(live if filters.active_story else or_(~live, _no_window()))
    if filters.not_found is not None:
        terms.append(Profile.not_found.is_(filters.not_found))
    if filters.story is not None:
        terms.append(story_answer_condition(filters.story, utcnow()))
    return terms


def _no_window() -> ColumnElement[bool]:
    return Profile.story_expires_at.is_(None)


def _with_join(query: Select[Any], sort: Sort, filters: ProfileFilters) -> Select[Any]:
    if sort.column == "niche__name" and not filters.niche_id:
        return query.outerjoin(Niche, Niche.id == Profile.niche_id)
    return query


# ---------------------------------------------------------------------------------- pages


@dataclass(frozen=True)
class PageRow:
    """The sort value and username key of one listed row (what a cursor names)."""

    value: Any
    key: str
    is_null: bool


def page_rows(
    session: Session,
    filters: ProfileFilters,
    sort: Sort,
    *,
    limit: int,
    offset: int = 0,
    after: Position | None = None,
) -> list[PageRow]:
    """At most `limit` rows in list order: from `offset`, or right after `after`."""
    expression = sort_expression(sort, filters)
    need = limit + (0 if after else offset)
    where = conditions(session, filters, need=need)
    if expression is None or sort.column not in _NULLABLE_SORTS:
        return _part(session, filters, sort, where, expression, None, limit, offset, after)
    if after is None and offset and search_driven(session, filters, need=need):
        # The matches are fetched and sorted anyway: one statement, NULLs last, no parts.
        return _sorted_once(session, filters, sort, where, expression, limit, offset)
    # Nullable sort: the non-null values in order, then the NULLs (ordered by key).
    rows: list[PageRow] = []
    if after is None or not after.in_nulls:
        rows = _part(session, filters, sort, where, expression, False, limit, offset, after)
        if len(rows) == limit:
            return rows
        if after is None and not rows and offset:
            # Past the non-null part: how far past it this page starts.
            offset -= _count_part(session, filters, sort, where, expression)
        else:
            offset = 0
        after = None
    nulls = _part(session, filters, sort, where, expression, True, limit - len(rows), offset, after)
    return rows + nulls


def _part(
    session: Session,
    filters: ProfileFilters,
    sort: Sort,
    where: list[ColumnElement[bool]],
    expression: ColumnElement[Any] | None,
    nulls: bool | None,
    limit: int,
    offset: int,
    after: Position | None,
) -> list[PageRow]:
    """One ordered part of a list: all rows (`nulls` None), the non-null (False) or NULL (True)."""
    key = Profile.username_key
    value = expression if expression is not None and not nulls else None
    query = _with_join(
        select(value.label("value") if value is not None else literal_column("NULL"), key),
        sort,
        filters,
    ).where(*where)
    if expression is not None and nulls is not None:
        query = query.where(expression.is_(None) if nulls else expression.is_not(None))
    if after is not None:
        if value is not None:
            query = query.where(
                _ahead(tuple_(value, key), tuple_(_bind(value, after.value), after.key), sort)
            )
        else:
            query = query.where(_ahead(key, literal(after.key), sort))
    order = [value, key] if value is not None else [key]
    query = query.order_by(*(term.desc() if sort.descending else term.asc() for term in order))
    query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [
        PageRow(value=row[0], key=row[1], is_null=bool(nulls)) for row in session.execute(query)
    ]


def _sorted_once(
    session: Session,
    filters: ProfileFilters,
    sort: Sort,
    where: list[ColumnElement[bool]],
    expression: ColumnElement[Any],
    limit: int,
    offset: int,
) -> list[PageRow]:
    """An OFFSET page of a nullable sort in one ordered statement (NULLs last)."""
    query = _with_join(
        select(expression.label("value"), Profile.username_key), sort, filters
    ).where(*where)
    query = query.order_by(*full_order(sort, filters)).limit(limit).offset(offset)
    return [
        PageRow(value=value, key=key, is_null=value is None)
        for value, key in session.execute(query)
    ]


def _ahead(row: Any, position: Any, sort: Sort) -> ColumnElement[bool]:
    """Rows after `position` in the sort's direction (a row-value comparison)."""
    result: ColumnElement[bool] = row < position if sort.descending else row > position
    return result


def _bind(expression: ColumnElement[Any], value: Any) -> Any:
    return literal(value, expression.type)


def _count_part(
    session: Session,
    filters: ProfileFilters,
    sort: Sort,
    where: list[ColumnElement[bool]],
    expression: ColumnElement[Any],
) -> int:
    query = _with_join(select(func.count()).select_from(Profile), sort, filters).where(
        *where, expression.is_not(None)
    )
    return int(session.scalar(query) or 0)


def load_rows(session: Session, keys: list[str]) -> list[tuple[Profile, str | None]]:
    """The profiles (with their niche names) of these username keys, in the keys' order."""
    if not keys:
        return []
    query = (
        select(Profile, Niche.name)
        .outerjoin(Niche, Niche.id == Profile.niche_id)
        .where(Profile.username_key.in_(keys))
    )
    found = {profile.username_key: (profile, name) for profile, name in session.execute(query)}
    return [found[key] for key in keys if key in found]


# ---------------------------------------------------------------------------------- cursors


def encode_cursor(sort: Sort, row: PageRow) -> str:
    """An opaque token naming the last row of a page and the order it belongs to."""
    value = row.value.isoformat() if isinstance(row.value, datetime) else row.value
    return cursors.pack(
        {"s": sort.column, "d": sort.direction, "v": value, "k": row.key, "n": row.is_null}
    )


def decode_cursor(cursor: str, sort: Sort) -> Position:
    """The position a cursor names; a damaged cursor or one of another order is a 400."""
    invalid = ValidationError(
        "cursor is not valid for this list (take next_cursor from the previous page with the "
        "same sort_by and sort_direction)",
        details={"field": "cursor"},
    )
    try:
        data = cursors.unpack(cursor)
        same = data["s"] == sort.column and data["d"] == sort.direction
        key, value, in_nulls = data["k"], data["v"], data["n"]
        if isinstance(value, str) and sort.column in _TIME_SORTS:
            value = datetime.fromisoformat(value)
    except (ValueError, KeyError, TypeError) as exc:
        raise invalid from exc
    if not same or not isinstance(key, str) or not isinstance(in_nulls, bool):
        raise invalid
    return Position(value=value, key=key, in_nulls=in_nulls)


# ---------------------------------------------------------------------------------- totals


def count_total(
    session: Session, filters: ProfileFilters, *, at_least: int = 0
) -> tuple[int, bool]:
    """`(total, is_estimate)` of the profiles matching `filters`.

    Niche/status filters read the trigger-kept counts (exact). Other filters count exactly when
    at most EXACT_COUNT_MAX rows can match, else estimate from a sample; an estimate is never
    below `at_least` (what the caller already knows exists).
    """
    base = stored_count(session, niche_id=filters.niche_id, status=filters.status)
    if filters.only_stored_counts:
        return base, False
    matches = index_matches(session, filters.search) if filters.search else None
    if matches is not None and matches > SEARCH_EXACT_COUNT_MAX and base > EXACT_COUNT_MAX:
        # A common word: counting would read each of its rows (scattered over the table).
        return max(_estimate(session, filters, base), at_least), True
    # A count reads every row it counts: the search index drives it only when that reads
    # fewer entries than a walk over the niche/status (`need=base`).
    where = conditions(session, filters, need=base)
    capped: Select[Any] = (
        select(literal_column("1")).select_from(Profile).where(*where).limit(EXACT_COUNT_MAX + 1)
    )
    narrowed = matches is not None and matches <= INDEX_DRIVES_MAX
    if base <= EXACT_COUNT_MAX or narrowed:
        matches = int(session.scalar(select(func.count()).select_from(capped.subquery())) or 0)
        if matches <= EXACT_COUNT_MAX:
            return matches, False
    return max(_estimate(session, filters, base), at_least), True


def _estimate(session: Session, filters: ProfileFilters, base: int) -> int:
    """`base` × the share of matching rows among ESTIMATE_SAMPLE rows of the niche/status."""
    hit = case((and_(*_extra_terms(session, filters, indexed=False)), 1), else_=0)
    sample = (
        select(hit.label("hit"))
        .select_from(Profile)
        .where(*_stored_terms(filters))
        .limit(ESTIMATE_SAMPLE)
        .subquery()
    )
    seen, hits = session.execute(select(func.count(), func.sum(sample.c.hit))).one()
    if not seen:
        return 0
    return round(base * int(hits or 0) / int(seen))


def explain(session: Session, statement: Select[Any]) -> str:
    """The database's plan for `statement` as text (for plan tests and the benchmark)."""
    bind = session.get_bind()
    compiled = statement.compile(bind, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if bind.dialect.name == "sqlite" else "EXPLAIN "
    rows = session.execute(text(prefix + str(compiled))).all()
    return "\n".join(" ".join(str(part) for part in row) for row in rows)
