"""Profile lists at scale, on small data: keyset pages equal OFFSET pages equal one plain query,
trigger-kept totals stay right through every kind of write, and the hot queries keep their
indexes (a plan test fails when an index is dropped)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select, text

from storycheck.db import Database, new_id, utcnow
from storycheck.profiles import importer, listing, search
from storycheck.profiles import service as profile_service
from storycheck.profiles.listing import SORT_COLUMNS, ProfileFilters, Sort
from storycheck.profiles.models import PROFILE_STATUSES, Profile, ProfileCount
from tests.factories import make_niche
from tests.helpers import recorded_statements

WORDS = ("coach", "fit", "yoga", "chef", "art", "travel", "7", "x.y", "a_b")


def _seed(db: Database, niches: list[str], count: int, seed: int = 7) -> None:
    """`count` profiles with ties, NULLs and words worth searching, spread over `niches`."""
    rng = random.Random(seed)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for number in range(count):
        name = f"{rng.choice(WORDS)}{rng.choice(['', '.', '_'])}{rng.choice(WORDS)}{number}"
        checks = rng.choice([0, 0, 1, 2, 5])
        rows.append(
            {
                "id": new_id(),
                "username": name,
                "username_key": name.lower().replace(".", "_"),
                "url": None,
                "niche_id": rng.choice(niches + [None]),
                "status": rng.choice(PROFILE_STATUSES),
                "active_story": rng.random() < 0.3,
                "total_checks": checks,
                "total_detections": rng.randint(0, checks),
                "not_found": rng.random() < 0.1,
                "last_checked": rng.choice([None, now - timedelta(hours=rng.randint(0, 3))]),
                "last_detected": rng.choice([None, None, now - timedelta(days=1)]),
                "story_expires_at": rng.choice([None, now + timedelta(hours=1)]),
                "created_at": now - timedelta(minutes=rng.randint(0, 5)),
                "updated_at": now - timedelta(minutes=rng.randint(0, 5)),
            }
        )
    with db.write() as session:
        session.execute(insert(Profile), rows)


def _reference(db: Database, filters: ProfileFilters, sort: Sort) -> list[str]:
    """The old way: one statement, plain LIKE, ORDER BY … NULLS LAST, no index tricks."""
    conditions: list[Any] = []
    if filters.niche_id:
        conditions.append(Profile.niche_id == filters.niche_id)
    if filters.status:
        conditions.append(Profile.status == filters.status)
    if filters.search:
        conditions.append(Profile.username.ilike(search.like_pattern(filters.search), escape="\\"))
    if filters.not_found is not None:
        conditions.append(Profile.not_found.is_(filters.not_found))
    query = select(Profile.username_key).where(*conditions)
    query = query.order_by(*listing.full_order(sort, filters))
    if sort.column == "niche__name" and not filters.niche_id:
        from storycheck.niches.models import Niche

        query = query.outerjoin(Niche, Niche.id == Profile.niche_id)
    with db.read() as session:
        return list(session.scalars(query))


def _offset_pages(db: Database, filters: ProfileFilters, sort: Sort, size: int) -> list[str]:
    keys: list[str] = []
    page = 1
    while True:
        with db.read() as session:
            rows = listing.page_rows(session, filters, sort, limit=size, offset=(page - 1) * size)
        keys += [row.key for row in rows]
        if len(rows) < size:
            return keys
        page += 1


def _keyset_pages(db: Database, filters: ProfileFilters, sort: Sort, size: int) -> list[str]:
    keys: list[str] = []
    cursor = None
    while True:
        with db.read() as session:
            payload = profile_service.list_profiles(
                session,
                filters=filters,
                page_size=size,
                sort_by=sort.column,
                sort_direction=sort.direction,
                cursor=cursor,
            )
        keys += [p["username"].lower().replace(".", "_") for p in payload["profiles"]]
        cursor = payload["next_cursor"]
        if cursor is None:
            return keys


@pytest.fixture
def seeded(db: Database) -> tuple[Database, list[str]]:
    niches = [make_niche(db, name="Big"), make_niche(db, name="Small")]
    _seed(db, niches, 160)
    return db, niches


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    sort_by=st.sampled_from((None, *SORT_COLUMNS)),
    direction=st.sampled_from(("asc", "desc")),
    status=st.sampled_from((None, *PROFILE_STATUSES)),
    search_text=st.sampled_from((None, "7", "co", "coach", "x.y", "a_b", "ga_", "FIT", "zzz")),
    not_found=st.sampled_from((None, True, False)),
    size=st.integers(min_value=1, max_value=40),
    drives_max=st.sampled_from((0, 5, 20_000)),
    walk_entries=st.sampled_from((0, 10_000)),
)
def test_keyset_pages_equal_offset_pages_equal_the_plain_query(
    seeded,
    data,
    sort_by,
    direction,
    status,
    search_text,
    not_found,
    size,
    drives_max,
    walk_entries,
):
    db, niches = seeded
    niche_id = data.draw(st.sampled_from((None, *niches)))
    filters = ProfileFilters(
        niche_id=niche_id, status=status, search=search_text, not_found=not_found
    )
    sort = Sort(column=sort_by, direction=direction)
    original = search.INDEX_DRIVES_MAX, search.WALK_ENTRIES_PER_MATCH
    # Both the index-driven and the walking search plan (chosen per page by its depth).
    search.INDEX_DRIVES_MAX, search.WALK_ENTRIES_PER_MATCH = drives_max, walk_entries
    try:
        expected = _reference(db, filters, sort)
        assert _offset_pages(db, filters, sort, size) == expected
        assert _keyset_pages(db, filters, sort, size) == expected
    finally:
        search.INDEX_DRIVES_MAX, search.WALK_ENTRIES_PER_MATCH = original


@pytest.mark.parametrize("search_exact_max", [0, 2_000])
@pytest.mark.parametrize("exact_max", [0, 3, 20_000])
def test_total_is_exact_or_a_flagged_estimate(seeded, monkeypatch, exact_max, search_exact_max):
    db, niches = seeded
    monkeypatch.setattr(listing, "EXACT_COUNT_MAX", exact_max)
    monkeypatch.setattr(listing, "SEARCH_EXACT_COUNT_MAX", search_exact_max)
    for filters in (
        ProfileFilters(niche_id=niches[0]),
        ProfileFilters(niche_id=niches[0], status="active"),
        ProfileFilters(niche_id=niches[0], search="coach"),
        ProfileFilters(search="7", not_found=False),
        ProfileFilters(niche_id=niches[1], active_story=True),
    ):
        with db.read() as session:
            payload = profile_service.list_profiles(session, filters=filters, page_size=5)
            real = session.scalar(
                select(func.count())
                .select_from(Profile)
                .where(*listing.conditions(session, filters))
            )
        if payload["total_is_estimate"]:
            assert filters.search or filters.active_story is not None
            assert payload["total"] >= len(payload["profiles"])
        else:
            assert payload["total"] == real, filters


def test_cursor_through_the_api(client, seeded):
    _, niches = seeded
    url = f"/api/profiles?niche_id={niches[0]}&sort_by=last_checked&sort_direction=desc"
    first = client.get(url + "&page_size=7").get_json()
    assert first["total_is_estimate"] is False and first["next_cursor"]
    second = client.get(url + f"&page_size=7&cursor={first['next_cursor']}").get_json()
    by_offset = client.get(url + "&page_size=7&page=2").get_json()
    assert [p["id"] for p in second["profiles"]] == [p["id"] for p in by_offset["profiles"]]
    other = client.get(f"/api/profiles?sort_by=username&cursor={first['next_cursor']}")
    assert other.status_code == 400
    assert client.get("/api/profiles?cursor=not-a-cursor").status_code == 400


# ---------------------------------------------------------------------------------- totals


def _counts_match(db: Database) -> None:
    """The trigger-kept counts equal a fresh GROUP BY over every profile."""
    with db.read() as session:
        real = {
            (niche or "", status): n
            for niche, status, n in session.execute(
                select(Profile.niche_id, Profile.status, func.count()).group_by(
                    Profile.niche_id, Profile.status
                )
            )
        }
        kept = {
            (row.niche_key, row.status): row.profiles
            for row in session.scalars(select(ProfileCount))
            if row.profiles
        }
    assert kept == real


def test_totals_follow_imports_deletes_moves_and_status_changes(client, db):
    first = client.post("/api/niches", json={"name": "First"}).get_json()["id"]
    second = client.post("/api/niches", json={"name": "Second"}).get_json()["id"]

    def total(niche_id: str, status: str = "") -> int:
        answer = client.get(f"/api/profiles?niche_id={niche_id}&status={status}").get_json()
        assert answer["total_is_estimate"] is False
        return answer["total"]  # type: ignore[no-any-return]

    names = "\n".join(f"user{i}" for i in range(30))
    assert client.post(f"/api/profiles/niches/{first}/import", data=names).status_code == 201
    assert client.post(f"/api/profiles/niches/{first}/import", data=names).status_code == 207
    assert total(first) == 30 and total(second) == 0
    _counts_match(db)

    ids = client.get(f"/api/profiles/ids?niche_id={first}").get_json()["ids"]
    client.post("/api/profiles/bulk", json={"profile_ids": ids[:10], "niche_id": second})
    client.post("/api/profiles/bulk", json={"profile_ids": ids[10:14], "status": "inactive"})
    client.put(f"/api/profiles/{ids[14]}", json={"status": "suspended", "niche_id": second})
    assert client.delete(f"/api/profiles/{ids[15]}").status_code == 204
    client.post(f"/api/profiles/{ids[15]}/reactivate")
    client.delete(f"/api/profiles/{ids[16]}")
    created = client.post("/api/profiles", json={"username": "solo", "niche_id": second})
    assert created.status_code == 201
    assert total(first) == 19 and total(first, "inactive") == 4 and total(first, "deleted") == 1
    assert total(second) == 12 and total(second, "suspended") == 1
    niches = {n["id"]: n["profile_count"] for n in client.get("/api/niches").get_json()}
    assert niches == {first: 18, second: 12}
    _counts_match(db)

    with db.write() as session:  # a hard delete by any path is counted too
        session.execute(text("DELETE FROM profiles WHERE username IN ('user20', 'user21')"))
    assert client.delete(f"/api/niches/{second}").status_code in (200, 204)
    assert total(first) == 17 + 12
    _counts_match(db)


# ---------------------------------------------------------------------------------- plans


def _plan(db: Database, statement: str, parameters: Any) -> str:
    with db.engine.connect() as conn:
        if db.is_sqlite:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            return "\n".join(str(row[-1]) for row in rows)
        # Small tables: make the planner show whether an index *can* serve the order.
        conn.exec_driver_sql("SET enable_seqscan = off")
        conn.exec_driver_sql("SET enable_sort = off")
        conn.exec_driver_sql("SET enable_bitmapscan = off")
        rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        conn.rollback()
        return "\n".join(str(row[0]) for row in rows)


def _page_plan(db: Database, filters: ProfileFilters, sort: Sort) -> str:
    with recorded_statements(db) as seen, db.read() as session:
        listing.page_rows(session, filters, sort, limit=50, offset=100)
    page = [s for s in seen if "username_key" in s[0] and "LIMIT" in s[0].upper()]
    return _plan(db, *page[0])


EXPECTED_INDEX = {
    None: "ix_profiles_niche_username",
    "username": "ix_profiles_niche_username",
    "niche__name": "ix_profiles_niche_username",
    "status": "ix_profiles_niche_status_key",
    "last_checked": "ix_profiles_niche_last_checked",
    "last_detected": "ix_profiles_niche_last_detected",
    "detection_rate": "ix_profiles_niche_rate",
    "total_detections": "ix_profiles_niche_total_detections",
    "total_checks": "ix_profiles_niche_total_checks",
    "active_story": "ix_profiles_niche_active_story",
    "created_at": "ix_profiles_niche_created_at",
    "updated_at": "ix_profiles_niche_updated_at",
}


@pytest.mark.parametrize("status", [None, "active"])
@pytest.mark.parametrize("sort_by", sorted(EXPECTED_INDEX, key=str))
def test_every_niche_sort_walks_its_index(seeded, sort_by, status):
    db, niches = seeded
    for direction in ("asc", "desc"):
        plan = _page_plan(
            db, ProfileFilters(niche_id=niches[0], status=status), Sort(sort_by, direction)
        )
        served = [EXPECTED_INDEX[sort_by]]
        if status and sort_by in (None, "username", "niche__name"):
            served.append("ix_profiles_niche_status_key")  # (niche, status, key) serves it too
        assert any(index in plan for index in served), plan
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def _search_page_statement(db: Database, niche_id: str, sort: Sort) -> tuple[str, Any]:
    """The statement (and its parameters) of a `search=coach` page of active profiles."""
    with recorded_statements(db) as seen, db.read() as session:
        listing.page_rows(
            session, ProfileFilters(niche_id=niche_id, status="active", search="coach"), sort,
            limit=50,
        )
    page = [s for s in seen if "username_key" in s[0] and "LIMIT" in s[0].upper()]
    return page[0][0], page[0][1]


def _search_page_plan(db: Database, niche_id: str, sort: Sort) -> str:
    return _plan(db, *_search_page_statement(db, niche_id, sort))


def _production_plan(db: Database, statement: str, parameters: Any) -> str:
    """PostgreSQL's plan as in production (no `enable_*` switched off)."""
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize("sort_by", [None, "last_checked", "total_checks"])
def test_search_uses_the_trigram_index(seeded, monkeypatch, sort_by):
    db, niches = seeded
    if db.is_sqlite:
        # The search table drives: matches fetched by rowid, then sorted (the niche/status
        # terms must not let the planner walk the sort index testing each entry instead).
        monkeypatch.setattr(search, "WALK_ENTRIES_PER_MATCH", 0)
        plan = _search_page_plan(db, niches[0], Sort(sort_by))
        assert "VIRTUAL TABLE INDEX" in plan, plan
        assert "USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
        assert "ix_profiles_niche" not in plan, plan
        # A common word's shallow page walks the sort index and checks the key there.
        monkeypatch.setattr(search, "WALK_ENTRIES_PER_MATCH", 10**9)
        plan = _search_page_plan(db, niches[0], Sort(sort_by))
        assert "profiles_search" not in plan and "TEMP B-TREE" not in plan, plan
        assert "COVERING INDEX ix_profiles_niche" in plan, plan
    else:
        with db.engine.connect() as conn:  # enough rows for the planner to weigh
            conn.exec_driver_sql(
                "INSERT INTO profiles (id, username, username_key, status, active_story,"
                " total_checks, total_detections, not_found, created_at, updated_at)"
                " SELECT gen_random_uuid()::text, 'u' || n, 'u' || n, 'active', false, 0, 0,"
                " false, now(), now() FROM generate_series(1, 20000) AS n"
            )
            conn.commit()
            # What the importer does after its COPY (migration 0011): merge the pending list.
            conn.exec_driver_sql("SELECT gin_clean_pending_list('ix_profiles_username_trgm')")
            conn.exec_driver_sql("ANALYZE profiles")
            plan = "\n".join(
                row[0]
                for row in conn.exec_driver_sql(
                    "EXPLAIN SELECT count(*) FROM profiles WHERE username_key LIKE '%%qzx%%'"
                )
            )
            conn.rollback()
        assert "ix_profiles_username_trgm" in plan, plan
        # The trigram index drives a deep page (matches read by a bitmap scan, then sorted):
        # the niche/status terms must not let the planner walk a niche's sort index instead.
        monkeypatch.setattr(search, "WALK_ENTRIES_PER_MATCH", 0)
        plan = _production_plan(db, *_search_page_statement(db, niches[0], Sort(sort_by)))
        assert "Bitmap Index Scan on ix_profiles_username_trgm" in plan, plan
        assert "ix_profiles_niche" not in plan, plan
        # A shallow page walks the niche's sort index (the planner may; the index must serve).
        monkeypatch.setattr(search, "WALK_ENTRIES_PER_MATCH", 10**9)
        plan = _search_page_plan(db, niches[0], Sort(sort_by))
        assert "ix_profiles_niche" in plan and "Sort" not in plan, plan
        # ... and the planner as in production cannot fetch every match of the table instead:
        # a walked page's key test is written so that the trigram index cannot serve it.
        statement, parameters = _search_page_statement(db, niches[0], Sort(sort_by))
        assert "(profiles.username_key || '') LIKE" in statement, statement
        plan = _production_plan(db, statement, parameters)
        assert "ix_profiles_username_trgm" not in plan, plan


def test_niche_counts_never_read_the_profiles_table(client, seeded):
    db, _ = seeded
    with recorded_statements(db) as seen:
        assert client.get("/api/niches").status_code == 200
        assert client.get(f"/api/profiles?niche_id={seeded[1][0]}&status=active").status_code == 200
    statements = [s.lower() for s, _ in seen]
    assert any("from profile_counts" in s for s in statements)
    assert not any("count(" in s and "from profiles" in s for s in statements), statements


def test_batch_list_rates_find_the_last_minute_by_time(db):
    """`GET /api/batches` counts the last minute's items from the processed_at index; SQLite
    must not walk every item in (batch_id, status) order to group them."""
    if not db.is_sqlite:
        pytest.skip("PostgreSQL groups the index range with a hash (no ordered walk to avoid)")
    from storycheck.batches import service as batch_service

    with recorded_statements(db) as seen, db.read() as session:
        batch_service._recent_rates(session, [])
    statement = [s for s in seen if "processed_at" in s[0]][0]
    plan = _plan(db, *statement)
    assert "ix_batch_profiles_processed_at" in plan, plan
    assert "ix_batch_profiles_batch_status" not in plan, plan


def test_import_keeps_the_search_table_and_counts_set_based(client, db, monkeypatch):
    """The SQLite import replaces its row triggers by two set-based statements for its own
    rows: the search table and the counts must end up exactly as the triggers would leave
    them, and the triggers must be back for every later write (also after a failed import)."""
    niche = client.post("/api/niches", json={"name": "Imported"}).get_json()["id"]
    client.post("/api/profiles", json={"username": "before_coach", "niche_id": niche})
    names = "\n".join(f"coach.{i}" for i in range(40)) + "\nnot a valid name!"
    assert client.post(f"/api/profiles/niches/{niche}/import", data=names).status_code == 207
    client.post("/api/profiles", json={"username": "after_coach", "niche_id": niche})
    _counts_match(db)
    with db.read() as session:
        filters = ProfileFilters(niche_id=niche, search="coach")
        found = [r.key for r in listing.page_rows(session, filters, Sort(), limit=100)]
        assert found == _reference(db, filters, Sort()) and len(found) == 42
        if db.is_sqlite:
            indexed = session.execute(
                text("SELECT count(*) FROM profiles_search WHERE profiles_search MATCH 'coach'")
            ).scalar_one()
            assert indexed == 42
            triggers = set(
                session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
            )
            assert {"profiles_search_insert", "profile_counts_insert"} <= triggers
    if db.is_sqlite:
        from storycheck.profiles import importer

        def fail(*_args: Any) -> None:
            raise RuntimeError("disk full")

        monkeypatch.setattr(importer, "_insert_json", fail)  # after the triggers are dropped
        failed = client.post(f"/api/profiles/niches/{niche}/import", data=b"coach_lost")
        assert failed.status_code == 500
    client.post("/api/profiles", json={"username": "last_coach", "niche_id": niche})
    _counts_match(db)
    with db.read() as session:
        assert len(listing.page_rows(session, filters, Sort(), limit=100)) == 43


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort", ["posted", "expires"])
def test_live_story_pages_walk_their_niche_index(seeded, sort, order):
    """Each live-story page walks its (niche, posted|expires) index in order; sorted by expiry
    the range itself starts the walk (the niche's accounts without a story, NULL there, are
    not read one by one)."""
    from storycheck.stories import service as stories

    db, niches = seeded
    query = stories.check_query(
        at=None, niche_id=niches[0], search=None, since=None, sort=sort, order=order
    )
    with recorded_statements(db) as seen, db.read() as session:
        stories.list_live(session, query, limit=10)
    page = [s for s in seen if "story_posted_at" in s[0] and "LIMIT" in s[0].upper()]
    plan = _plan(db, *page[0])
    assert f"ix_profiles_niche_story_{sort}" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
    if db.is_sqlite and sort == "expires":
        assert "story_expires_at>?" in plan, plan


def _plan_of(db: Database, run: Any, marker: str) -> str:
    """The plan of the first statement `run` executes that contains `marker`."""
    with recorded_statements(db) as seen:
        run()
    statement = [s for s in seen if marker in s[0]]
    assert statement, [s[0][:80] for s in seen]
    return _plan(db, *statement[0])


@pytest.mark.parametrize("sort", ["posted", "expires"])
def test_live_stories_of_every_niche_read_the_partial_story_indexes(seeded, sort):
    """Across niches the live list reads a story index, which holds only accounts with a story
    window (migration 0014): an import's new rows go into none of the story indexes."""
    from storycheck.stories import service as stories

    db, _niches = seeded
    query = stories.check_query(
        at=None, niche_id=None, search=None, since=None, sort=sort, order="desc"
    )

    def run() -> None:
        with db.read() as session:
            stories.list_live(session, query, limit=10)

    plan = _plan_of(db, run, "story_posted_at IS NOT NULL")
    assert "ix_profiles_story_" in plan or "ix_profiles_niche_story_" in plan, plan


def test_refresh_and_the_expiry_feed_read_their_partial_indexes(seeded):
    """The maintenance thread's stale-flag clearing walks the partial `active_story` index and
    the event feed's expiries the partial expiry index (each condition written as the query
    writes its term; SQLite uses a partial index only for a term of the same text)."""
    from storycheck.stories.events import StoryFeed

    db, _niches = seeded

    def refresh() -> None:
        with db.session() as session:
            profile_service.refresh_stories(session)
            session.rollback()

    assert "ix_profiles_active_story" in _plan_of(db, refresh, "active_story IS")

    feed = StoryFeed(db, tick=0.0)
    now = utcnow()
    plan = _plan_of(db, lambda: feed._read(now - timedelta(minutes=1), now), "story_expires_at <=")
    assert "ix_profiles_story_expires_at" in plan, plan


def test_an_import_writes_its_profiles_in_key_order(client, db):
    """A shuffled file's profiles get ascending ids in username-key order (so every index of
    `profiles` takes them page after page), while the report keeps the file's order."""
    niche = make_niche(db, name="Imported")
    names = [f"user{number:03d}" for number in range(300)]
    random.Random(3).shuffle(names)
    names[10] = "Mixed.Case_" + names[10]
    response = client.post(f"/api/profiles/niches/{niche}/import", data="\n".join(names).encode())
    assert response.status_code == 201
    reported = [profile["username"] for profile in response.get_json()["created"]]
    assert [name.lower() for name in reported] == [name.lower() for name in names]
    with db.read() as session:
        stored = session.execute(
            select(Profile.id, Profile.username_key).where(Profile.niche_id == niche)
        ).all()
    by_id = [key for _id, key in sorted(stored)]
    assert by_id == sorted(by_id) and len(by_id) == 300


def test_an_import_stores_its_timestamps_and_finds_duplicates_as_the_orm_does(
    client, db, monkeypatch
):
    """The bulk insert binds each distinct timestamp once, stored as the ORM stores it; the
    duplicate probe (one statement for every key) finds stored keys in any spelling."""
    monkeypatch.setattr(importer, "FULL_SCAN_RATIO", 0)  # probe, never read every key
    niche = make_niche(db, name="Stamps")
    response = client.post(f"/api/profiles/niches/{niche}/import", data=b"first.one\nsecond")
    assert response.status_code == 201
    with db.read() as session:
        stamp = session.scalar(select(Profile.created_at).where(Profile.username == "first.one"))
    with db.write() as session:
        session.execute(
            insert(Profile),
            [{"id": new_id(), "username": "orm", "username_key": "orm", "created_at": stamp}],
        )
    with db.engine.connect() as conn:
        stored = dict(
            conn.exec_driver_sql(
                "SELECT username, created_at FROM profiles "
                "WHERE username IN ('first.one', 'second', 'orm')"
            ).all()
        )
    assert stored["first.one"] == stored["second"] == stored["orm"]
    again = client.post(f"/api/profiles/niches/{niche}/import", data=b"FIRST_ONE\nthird\norm")
    body = again.get_json()
    assert body["created_count"] == 1 and body["duplicate_count"] == 2
    assert [error["error"] for error in body["errors"]] == [
        "Profile already exists (as first.one)",
        "Profile already exists (as orm)",
    ]


STORY_INDEXES = (
    "ix_profiles_niche_story_posted",
    "ix_profiles_niche_story_expires",
    "ix_profiles_story_posted_at",
    "ix_profiles_story_expires_at",
    "ix_profiles_active_story",
)


def test_story_indexes_are_partial(db):
    """The five story indexes skip accounts without a story (an import's new rows)."""
    with db.engine.connect() as conn:
        if db.is_sqlite:
            partial = {
                row[1] for row in conn.exec_driver_sql("PRAGMA index_list(profiles)") if row[4]
            }
        else:
            partial = set(
                conn.exec_driver_sql(
                    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE i.indrelid = 'profiles'::regclass AND i.indpred IS NOT NULL"
                ).scalars()
            )
    assert set(STORY_INDEXES) <= partial, partial


def test_a_live_story_estimate_samples_without_bias(db, monkeypatch):
    """Beyond the exact count, the live total is the live share of a sample times the niche's
    count. The sample is taken in username order: in an index order of a story or rate column
    the accounts without a story came first and the estimate fell to the exact cap."""
    from storycheck.stories import service as stories

    monkeypatch.setattr(stories, "LIVE_EXACT_MAX", 10)
    monkeypatch.setattr(stories, "ESTIMATE_SAMPLE", 150)
    niche = make_niche(db, name="Estimated")
    now = utcnow()
    rng = random.Random(5)
    rows = []
    for number in range(400):
        live = number % 2 == 0
        name = f"{rng.choice(WORDS).replace('.', '')}{number:04d}"
        rows.append(
            {
                "id": new_id(),
                "username": name,
                "username_key": name.lower().replace(".", "_"),
                "niche_id": niche,
                "status": "active",
                "active_story": live,
                "total_checks": 4,
                "total_detections": 4 if live else 0,
                "not_found": False,
                "story_posted_at": now - timedelta(hours=1) if live else None,
                "story_expires_at": now + timedelta(hours=23) if live else None,
                "created_at": now,
                "updated_at": now,
            }
        )
    with db.write() as session:
        session.execute(insert(Profile), rows)
    query = stories.check_query(
        at=None, niche_id=niche, search=None, since=None, sort="posted", order="desc"
    )
    with db.read() as session:
        total, estimated = stories.count_live(session, query)
    assert estimated is True
    assert 150 <= total <= 250, total  # 200 live
