"""Hypothesis fuzzing of the import endpoint and of every batch route's body.

Each example sends one request to a module-scoped app and checks that

* the answer is never a 5xx, and every 4xx carries `error` and `message`;
* the batch invariants I1–I5 hold afterwards (`check_invariants` in one snapshot);
* a refused request (any 4xx, or a 308 path normalisation) changed nothing: batches, their positions and counters, item
  states, log rows, profiles and niches are exactly as before.

Bodies are arbitrary JSON values (`st.recursive`), dicts shaped like the real bodies (with
real batch/profile/niche ids mixed in, wrong types, unicode, huge lists), and raw bytes sent as
`application/json`. Imports get arbitrary bytes (binary, invalid UTF-8, NULs, huge lines, CR/LF
mixes) and arbitrary text lines, as multipart `file` parts and as raw `text/plain` bodies.

The batch-body fuzz also runs on PostgreSQL (`-m postgres`), where NULs and locking differ.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from storycheck.app import create_app, shutdown
from storycheck.batches.invariants import check_invariants
from storycheck.batches.models import Batch, BatchLog, BatchProfile
from storycheck.batches.state import BatchStateManager, counters_from_items
from storycheck.config import Config
from storycheck.db import Database
from storycheck.niches.models import Niche
from storycheck.profiles.models import Profile
from tests.conftest import TEST_SECRET_KEY, _truncate_pg
from tests.factories import make_niche, make_profiles, set_settings
from tests.helpers import check_error_shape

# Inputs that tripped bugs these fuzzers found (now fixed; each has a regression test at the end
# of this file). Lone UTF-16 surrogates ("\ud800") are valid JSON escapes no database stores:
FUZZ_LONE_SURROGATES = True  # test_lone_surrogate_in_json_is_a_400
# Offsets beyond SQLite's 64-bit INTEGER:
FUZZ_HUGE_OFFSETS = True  # test_huge_offsets_are_a_400_on_sqlite

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    database=None,  # no example database: every run explores afresh, nothing to clean up
)

BATCH_ROUTES: list[tuple[str, str]] = [
    ("POST", "/api/batches"),
    ("POST", "/api/batches/start"),
    ("POST", "/api/batches/stop"),
    ("POST", "/api/batches/resume"),
    ("POST", "/api/batches/reorder"),
    ("DELETE", "/api/batches"),
    ("POST", "/api/batches/{id}/retry-failed"),
]
REFUSED_STATUSES = {400, 404, 405, 409, 413, 415}
# Werkzeug normalises paths like `/api/batches/0//retry-failed` with a redirect: not an error,
# and nothing may change (treated like a refusal).
REDIRECT_STATUSES = {308}
OK_STATUSES = {200, 201, 204, 207}


# ---------------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    """An app without background threads, its database, and the ids tests refer to."""

    app: Flask
    client: FlaskClient
    db: Database
    state: BatchStateManager
    niche_id: str
    other_niche_id: str
    import_niche_id: str
    profile_ids: list[str]
    other_profile_ids: list[str]

    def batch_ids(self) -> list[str]:
        with self.db.read() as session:
            return list(session.scalars(select(Batch.id).order_by(Batch.created_at, Batch.id)))

    def replenish(self) -> None:
        """Keep a few batches in every state around, so valid ids hit every transition."""
        rows = self._batches()
        if len(rows) > 40:
            # Keep the table small so each example stays fast.
            self.state.delete([bid for bid, _ in rows[: len(rows) - 20]])
            rows = self._batches()
        statuses = [status for _, status in rows]
        if statuses.count("done") < 1:
            self._make_done_batch()
        while statuses.count("queued") + statuses.count("in_progress") < 3:
            self._create(self.profile_ids[:3])
            statuses.append("queued")
        if statuses.count("paused") < 1:
            batch = self._create(self.profile_ids[3:6])
            self.state.stop([batch])

    def _batches(self) -> list[tuple[str, str]]:
        with self.db.read() as session:
            rows = session.execute(
                select(Batch.id, Batch.status).order_by(Batch.created_at, Batch.id)
            ).all()
        return [(batch_id, status) for batch_id, status in rows]

    def _create(self, profile_ids: list[str]) -> str:
        return self.state.create_batch(niche_id=self.niche_id, profile_ids=profile_ids).id

    def _make_done_batch(self) -> None:
        """Run a batch to `done` with one failed item, playing the engine's part."""
        # Pause everything that runs or waits, so the new batch runs at once.
        with self.db.read() as session:
            active = list(
                session.scalars(select(Batch.id).where(Batch.status.in_(("queued", "in_progress"))))
            )
        if active:
            self.state.stop(active)
        batch_id = self._create(self.profile_ids[:4])
        with self.db.write() as session:
            session.execute(select(Batch.id).where(Batch.id == batch_id).with_for_update())
            items = list(
                session.scalars(select(BatchProfile).where(BatchProfile.batch_id == batch_id))
            )
            for index, item in enumerate(items):
                item.status = "failed" if index == 0 else "completed"
                item.has_story = index == 1
                item.error = "not_found" if index == 0 else None
            session.flush()
            session.execute(
                update(Batch)
                .where(Batch.id == batch_id)
                .values(**counters_from_items(session, batch_id))
            )
        assert self.state.complete_if_finished(batch_id)
        if active:
            self.state.resume(active)


def _build_stack(database_url: str) -> Iterator[Stack]:
    config = Config(database_url=database_url, engine_enabled=False, secret_key=TEST_SECRET_KEY)
    app = create_app(config, start_background=False)
    app.config["TESTING"] = True
    services = app.extensions["storycheck"]
    db: Database = services.db
    set_settings(db, max_concurrent_batches=2)
    niche_id = make_niche(db, name="fuzz-batches")
    other_niche_id = make_niche(db, name="fuzz-other")
    import_niche_id = make_niche(db, name="fuzz-import")
    stack = Stack(
        app=app,
        client=app.test_client(),
        db=db,
        state=services.state,
        niche_id=niche_id,
        other_niche_id=other_niche_id,
        import_niche_id=import_niche_id,
        profile_ids=make_profiles(db, niche_id, 12, prefix="fz"),
        other_profile_ids=make_profiles(db, other_niche_id, 3, prefix="fo"),
    )
    stack.replenish()
    yield stack
    shutdown(app)


@pytest.fixture(scope="module")
def sqlite_stack(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Stack]:
    target = tmp_path_factory.mktemp("fuzz") / "storycheck.db"
    shutil.copy(sqlite_template, target)
    yield from _build_stack(f"sqlite:///{target}")


@pytest.fixture(scope="module")
def pg_stack(pg_database: str) -> Iterator[Stack]:
    _truncate_pg(pg_database)
    yield from _build_stack(pg_database)
    _truncate_pg(pg_database)


# ---------------------------------------------------------------------------------- snapshots


def state_fingerprint(db: Database) -> dict[str, Any]:
    """Everything a refused request must leave alone, read in one snapshot."""
    with db.snapshot() as session:
        batches = sorted(
            tuple(str(v) for v in row)
            for row in session.execute(
                select(
                    Batch.id,
                    Batch.status,
                    Batch.queue_position,
                    Batch.total_profiles,
                    Batch.completed_profiles,
                    Batch.successful_checks,
                    Batch.failed_checks,
                    Batch.updated_at,
                    Batch.completed_at,
                    Batch.niche_id,
                )
            )
        )
        items = sorted(
            tuple(str(v) for v in row)
            for row in session.execute(
                select(
                    BatchProfile.batch_id,
                    BatchProfile.status,
                    BatchProfile.attempts,
                    func.count(),
                ).group_by(BatchProfile.batch_id, BatchProfile.status, BatchProfile.attempts)
            )
        )
        logs = session.scalar(select(func.count()).select_from(BatchLog))
        profiles = hashlib.sha256(
            repr(
                sorted(
                    tuple(str(v) for v in row)
                    for row in session.execute(
                        select(Profile.id, Profile.username, Profile.niche_id, Profile.status)
                    )
                )
            ).encode()
        ).hexdigest()
        niches = sorted(str(n) for n in session.scalars(select(Niche.id)))
    return {
        "batches": batches,
        "items": items,
        "logs": logs,
        "profiles": profiles,
        "niches": niches,
    }


def counts(db: Database) -> dict[str, int]:
    with db.read() as session:
        return {
            "batches": session.scalar(select(func.count()).select_from(Batch)) or 0,
            "items": session.scalar(select(func.count()).select_from(BatchProfile)) or 0,
            "profiles": session.scalar(select(func.count()).select_from(Profile)) or 0,
        }


def violations(db: Database) -> list[str]:
    with db.snapshot() as session:
        return check_invariants(session)


def check_answer(status: int, body: bytes, what: str) -> Any:
    """Never a 5xx; a 4xx has the error shape. Returns the parsed JSON (or None)."""
    assert status < 500, f"{what}: server error {status}"
    allowed = OK_STATUSES | REFUSED_STATUSES | REDIRECT_STATUSES
    assert status in allowed, f"{what}: unexpected status {status}"
    if status in REDIRECT_STATUSES:
        return None
    parsed = json.loads(body) if body.strip() else None
    if status >= 400:
        check_error_shape(status, parsed, what)
    return parsed


# ---------------------------------------------------------------------------------- strategies

# Placeholders the test swaps for real ids right before sending.
BATCH_REF = [f"@batch:{i}" for i in range(6)]
PROFILE_REF = [f"@profile:{i}" for i in range(6)]
REFS = [
    *BATCH_REF,
    *PROFILE_REF,
    "@niche",
    "@other-niche",
    "@other-profile",
    "@all-batches",
    "@all-profiles",
]


def resolve(value: Any, stack: Stack, batch_ids: list[str]) -> Any:
    """Replace placeholders (anywhere in a JSON value) with ids of the current database."""
    if isinstance(value, dict):
        return {key: resolve(item, stack, batch_ids) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(v, stack, batch_ids) for v in value]
    if not isinstance(value, str) or not value.startswith("@"):
        return value
    if value.startswith("@batch:"):
        return batch_ids[int(value.split(":")[1]) % len(batch_ids)] if batch_ids else value
    if value.startswith("@profile:"):
        return stack.profile_ids[int(value.split(":")[1]) % len(stack.profile_ids)]
    return {
        "@niche": stack.niche_id,
        "@other-niche": stack.other_niche_id,
        "@other-profile": stack.other_profile_ids[0],
        "@all-batches": list(batch_ids),
        "@all-profiles": list(stack.profile_ids),
    }.get(value, value)


texts = st.text(max_size=40) | st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "null",
        "true",
        "0",
        "-1",
        "é",
        "🙂" * 20,
        "a" * 70,
        "../../etc",
        "' OR 1=1 --",
        "%s%n",
        "\u202e",
        "\ufeff",
    ]
)
if FUZZ_LONE_SURROGATES:
    texts = texts | st.sampled_from(["\ud800", "a\udfffb"])
leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts
    | st.sampled_from(REFS)
)
json_values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=6)
        | st.dictionaries(
            texts | st.sampled_from(["batch_ids", "niche_id", "profile_ids", "all_profiles"]),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)
id_like = st.sampled_from(REFS) | texts | st.integers() | st.none() | st.booleans()
id_lists = (
    st.lists(id_like, max_size=8)
    | st.lists(st.sampled_from(BATCH_REF), min_size=1, max_size=6)
    | st.lists(st.sampled_from(PROFILE_REF + ["@other-profile"]), min_size=1, max_size=8)
    | st.sampled_from(["@all-batches", "@all-profiles"])
    | st.integers(min_value=9_990, max_value=10_010).map(lambda n: ["@batch:0"] * n)
    | st.integers(min_value=10_001, max_value=10_003).map(lambda n: [f"x{i}" for i in range(n)])
)
# Bodies the API accepts (ids of batches in every state), so transitions really happen.
valid_bodies = st.one_of(
    st.fixed_dictionaries(
        {"batch_ids": st.lists(st.sampled_from(BATCH_REF), min_size=1, max_size=4)}
    ),
    st.fixed_dictionaries(
        {
            "niche_id": st.just("@niche"),
            "profile_ids": st.lists(st.sampled_from(PROFILE_REF), min_size=1, max_size=6),
        }
    ),
    st.just({"niche_id": "@niche", "all_profiles": True}),
)
fuzzy_bodies = st.fixed_dictionaries(
    {},
    optional={
        "batch_ids": id_lists | json_values,
        "niche_id": st.sampled_from(["@niche", "@other-niche"]) | texts | json_values,
        "profile_ids": id_lists | json_values,
        "all_profiles": st.booleans() | json_values,
        "extra": json_values,
    },
)
shaped_bodies = st.one_of(valid_bodies, fuzzy_bodies)


def _mutated_json(data: st.DataObject) -> bytes:
    base = json.dumps(data.draw(json_values, label="base"), allow_nan=True).encode()
    mutation = data.draw(st.sampled_from(["none", "cut", "flip", "prefix", "dup"]))
    if mutation == "cut" and base:
        return base[: data.draw(st.integers(0, len(base) - 1))]
    if mutation == "flip" and base:
        at = data.draw(st.integers(0, len(base) - 1))
        return base[:at] + bytes([data.draw(st.integers(0, 255))]) + base[at + 1 :]
    if mutation == "prefix":
        return data.draw(st.sampled_from([b"\xef\xbb\xbf", b"\x00", b" \n\t", b"\xff\xfe"])) + base
    if mutation == "dup":
        return base + base
    return base


raw_json_bytes = st.binary(max_size=300) | st.sampled_from(
    [
        b"",
        b" ",
        b"null",
        b"[]",
        b"{}",
        b"0",
        b'"batch_ids"',
        b'{"batch_ids": null}',
        b'{"batch_ids": [1e999]}',
        b'{"batch_ids": NaN}',
        b'{"batch_ids": [-Infinity]}',
        b"9" * 5000,
        b"[" * 5000,
        b'{"a":' * 3000,
        b'{"batch_ids": "\\u0000"}',
        b"\xff\xfe{\x00}\x00",
        '{"niche_id": "é"}'.encode("utf-16"),
        b'{"batch_ids": ["' + b"A" * 100_000 + b'"]}',
    ]
)
if FUZZ_LONE_SURROGATES:
    raw_json_bytes = raw_json_bytes | st.sampled_from(
        [b'{"batch_ids": ["\\ud800"]}', b'{"niche_id": "\\udc00", "all_profiles": true}']
    )


# ---------------------------------------------------------------------------------- drivers


def send_batch_request(
    stack: Stack, route: tuple[str, str], payload: bytes, content_type: str, path_id: Any
) -> None:
    """Send one batch request and check the answer and the database around it."""
    stack.replenish()
    batch_ids = stack.batch_ids()
    method, path = route
    if "{id}" in path:
        resolved = resolve(path_id, stack, batch_ids)
        path = path.replace("{id}", url_part(resolved))
    before = state_fingerprint(stack.db)
    before_counts = counts(stack.db)
    response = stack.client.open(path, method=method, data=payload, content_type=content_type)
    what = f"{method} {path}"
    answer = check_answer(response.status_code, response.data, what)
    event(f"{method} {route[1]} -> {response.status_code}")
    problems = violations(stack.db)
    assert problems == [], f"{what} -> {response.status_code} broke invariants: {problems}"
    if response.status_code >= 300:
        assert state_fingerprint(stack.db) == before, (
            f"{what} was refused ({response.status_code}) but changed the database"
        )
        return
    after_counts = counts(stack.db)
    assert after_counts["profiles"] == before_counts["profiles"]
    if method == "POST" and path == "/api/batches":
        assert response.status_code == 201
        assert after_counts["batches"] == before_counts["batches"] + 1
        assert after_counts["items"] == before_counts["items"] + answer["total_profiles"]
        assert answer["status"] in ("queued", "in_progress")
    elif method == "DELETE":
        assert response.status_code == 204
        assert after_counts["batches"] < before_counts["batches"]
    else:
        assert response.status_code == 200
        assert isinstance(answer, list | dict)
        for batch in answer if isinstance(answer, list) else [answer]:
            assert {"id", "status", "queue_position"} <= set(batch)


def utf8(text: str) -> bytes:
    """UTF-8 bytes of any text (a lone surrogate becomes the invalid bytes it stands for)."""
    return text.encode("utf-8", "surrogatepass")


def url_part(value: Any) -> str:
    """A path segment for any value (lone surrogates are sent as their raw UTF-8 bytes)."""
    return quote(utf8(str(value)), safe="") or "%20"


def _payload(stack: Stack, body: Any) -> bytes:
    resolved = resolve(body, stack, stack.batch_ids())
    return json.dumps(resolved, allow_nan=True).encode()


routes = st.sampled_from(BATCH_ROUTES)
path_ids = st.sampled_from(BATCH_REF) | texts


# ---------------------------------------------------------------------------------- batch tests


@FUZZ
@given(route=routes, body=json_values, path_id=path_ids)
def test_batch_routes_survive_arbitrary_json(
    sqlite_stack: Stack, route: tuple[str, str], body: Any, path_id: Any
) -> None:
    payload = _payload(sqlite_stack, body)
    send_batch_request(sqlite_stack, route, payload, "application/json", path_id)


@settings(FUZZ, max_examples=200)
@given(route=routes, body=shaped_bodies, path_id=path_ids)
@example(
    route=("POST", "/api/batches"),
    body={"niche_id": "@niche", "profile_ids": ["@profile:0"]},
    path_id="x",
)
@example(
    route=("POST", "/api/batches"), body={"niche_id": "@niche", "all_profiles": True}, path_id="x"
)
@example(
    route=("POST", "/api/batches"),
    body={"niche_id": "@niche", "profile_ids": ["@other-profile"]},
    path_id="x",
)
@example(route=("POST", "/api/batches/reorder"), body={"batch_ids": "@all-batches"}, path_id="x")
@example(route=("POST", "/api/batches/start"), body={"batch_ids": "@all-batches"}, path_id="x")
@example(route=("POST", "/api/batches/{id}/retry-failed"), body={}, path_id="@batch:0")
def test_batch_routes_survive_shaped_bodies(
    sqlite_stack: Stack, route: tuple[str, str], body: Any, path_id: Any
) -> None:
    payload = _payload(sqlite_stack, body)
    send_batch_request(sqlite_stack, route, payload, "application/json", path_id)


@FUZZ
@given(route=routes, data=st.data(), path_id=path_ids)
def test_batch_routes_survive_raw_bytes(
    sqlite_stack: Stack, route: tuple[str, str], data: st.DataObject, path_id: Any
) -> None:
    kind = data.draw(st.sampled_from(["raw", "mutated"]))
    payload = data.draw(raw_json_bytes) if kind == "raw" else _mutated_json(data)
    content_type = data.draw(
        st.sampled_from(
            [
                "application/json",
                "application/json; charset=utf-8",
                "application/json; charset=latin-1",
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data",
                "",
            ]
        )
    )
    send_batch_request(sqlite_stack, route, payload, content_type, path_id)


@pytest.mark.postgres
@settings(FUZZ, max_examples=100)
@given(route=routes, body=shaped_bodies | json_values, path_id=path_ids)
def test_batch_routes_survive_shaped_bodies_on_postgresql(
    pg_stack: Stack, route: tuple[str, str], body: Any, path_id: Any
) -> None:
    payload = _payload(pg_stack, body)
    send_batch_request(pg_stack, route, payload, "application/json", path_id)


# ---------------------------------------------------------------------------------- query tests

numbers = st.integers(min_value=-(2**63), max_value=2**63 - 1)
if FUZZ_HUGE_OFFSETS:
    numbers = numbers | st.integers(min_value=2**63, max_value=10**40)
query_values = (
    numbers.map(str)
    | texts
    | st.sampled_from(
        [
            "",
            "1e3",
            "0x10",
            " 5 ",
            "-0",
            "nan",
            "2026-01-01T00:00:00Z",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01",
            "true",
            "\uff11",
            "queued",
            "in_progress",
            "done",
            "paused",
            "STATE_CHANGE,INFO",
        ]
    )
)
QUERY_ROUTES = {
    "/api/batches": ["status"],
    "/api/batches/{id}": ["items_limit", "items_offset", "item_status"],
    "/api/batches/{id}/logs": ["limit", "offset", "event_type", "start_time", "end_time"],
    "/api/batches/{id}/results.csv": [],
}


@FUZZ
@given(
    route=st.sampled_from(sorted(QUERY_ROUTES)),
    data=st.data(),
    path_id=path_ids,
)
def test_batch_reads_survive_arbitrary_query_strings(
    sqlite_stack: Stack, route: str, data: st.DataObject, path_id: Any
) -> None:
    names = QUERY_ROUTES[route] + ["junk"]
    params = data.draw(st.dictionaries(st.sampled_from(names), query_values, max_size=5))
    stack = sqlite_stack
    path = route.replace("{id}", url_part(resolve(path_id, stack, stack.batch_ids())))
    before = state_fingerprint(stack.db)
    query = "&".join(f"{name}={quote(utf8(value), safe='')}" for name, value in params.items())
    response = stack.client.get(f"{path}?{query}")
    event(f"GET {route} -> {response.status_code}")
    if response.mimetype == "text/csv" and response.status_code == 200:
        assert response.data.startswith(b"username,status")
    else:
        check_answer(response.status_code, response.data, f"GET {route}")
    assert state_fingerprint(stack.db) == before, "a read changed the database"


# ---------------------------------------------------------------------------------- import tests

line_breaks = st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\r\r\n"])
username_lines = st.from_regex(r"[a-z][a-z0-9._]{0,20}", fullmatch=True) | st.sampled_from(
    [
        "@someone",
        "instagram.com/abc_def",
        "https://www.instagram.com/x.y/?hl=en",
        "m.instagram.com/foo",
        "instagr.am/bar",
        "instagram.com/stories/baz/123",
        "instagram.com/p/abc",
        "instagram.com/explore",
        "a" * 31,
        "-bad-",
        "日本語",
        "   ",
        "#",
    ]
)
import_texts = st.lists(texts | username_lines, max_size=40).flatmap(
    lambda lines: st.lists(line_breaks, min_size=len(lines), max_size=len(lines)).map(
        lambda breaks: "".join(line + brk for line, brk in zip(lines, breaks, strict=True))
    )
)
import_bytes = (
    st.binary(max_size=2000)
    | import_texts.map(utf8)
    | import_texts.map(lambda text: b"\xef\xbb\xbf" + utf8(text))
    | import_texts.map(lambda text: utf8(text.replace("\n", "\x00\n")))
    | st.integers(min_value=1, max_value=300_000).map(lambda n: b"x" * n + b"\nvalid_name\n")
    | st.sampled_from(
        [
            b"",
            b"\n\r\n\r",
            b"\x00",
            b"\xff\xfe\x00a",
            b"\xc3\x28",
            b"\xed\xa0\x80abc",
            b"ok_name\r\nbad\xffname\n",
            "é\n".encode("latin-1"),
        ]
    )
)
niche_choices = st.sampled_from(["@import", "@import", "@import", "@missing"]) | texts


def send_import(stack: Stack, niche: str, raw: bytes, mode: str, filename: str) -> None:
    niche_id = {"@import": stack.import_niche_id, "@missing": "0" * 36}.get(niche, niche)
    path = f"/api/profiles/niches/{url_part(niche_id)}/import"
    before = state_fingerprint(stack.db)
    before_counts = counts(stack.db)
    if mode == "multipart":
        import io

        response = stack.client.post(
            path, data={"file": (io.BytesIO(raw), filename)}, content_type="multipart/form-data"
        )
    else:
        content_type = {
            "text": "text/plain; charset=utf-8",
            "octet": "application/octet-stream",
            "none": "",
        }[mode]
        response = stack.client.post(path, data=raw, content_type=content_type)
    what = f"import ({mode}, {len(raw)} bytes)"
    report = check_answer(response.status_code, response.data, what)
    event(f"import {mode} -> {response.status_code}")
    assert violations(stack.db) == []
    if response.status_code >= 300:
        assert state_fingerprint(stack.db) == before, f"{what} was refused but changed the database"
        return
    assert response.status_code in (201, 207), what
    assert (response.status_code == 201) == (report["error_count"] == 0)
    assert report["total"] == report["created_count"] + report["error_count"]
    assert report["error_count"] == report["duplicate_count"] + report["invalid_format_count"]
    assert len(report["created"]) == min(report["created_count"], 1000)
    assert len(report["errors"]) == min(report["error_count"], 1000)
    after = counts(stack.db)
    assert after["profiles"] == before_counts["profiles"] + report["created_count"]
    assert after["batches"] == before_counts["batches"]


@FUZZ
@given(
    niche=niche_choices,
    raw=import_bytes,
    mode=st.sampled_from(["multipart", "text", "octet", "none"]),
    filename=st.sampled_from(["list.txt", "", "a b.csv", "../../x", "名前.txt"]),
)
@example(niche="@import", raw=b"\xff\xfe\x00", mode="text", filename="x")
@example(niche="@import", raw=b"a\x00b\nc\r\nd\re\n", mode="multipart", filename="l.txt")
@example(niche="@import", raw=b"x" * 500_000, mode="text", filename="x")
def test_import_survives_arbitrary_bytes(
    sqlite_stack: Stack, niche: str, raw: bytes, mode: str, filename: str
) -> None:
    send_import(sqlite_stack, niche, raw, mode, filename)


@FUZZ
@given(
    lines=st.lists(texts | username_lines, min_size=1, max_size=60),
    breaks=line_breaks,
    bom=st.booleans(),
    mode=st.sampled_from(["multipart", "text"]),
)
def test_import_survives_arbitrary_text_lines(
    sqlite_stack: Stack, lines: list[str], breaks: str, bom: bool, mode: str
) -> None:
    raw = ("\ufeff" if bom else "") + breaks.join(lines)
    send_import(sqlite_stack, "@import", utf8(raw), mode, "list.txt")


def test_import_of_many_lines_with_mixed_breaks_is_exact(sqlite_stack: Stack) -> None:
    """A deterministic large case: 20,000 lines, every break style, duplicates and junk."""
    lines = []
    for i in range(20_000):
        lines.append(f"mix_{i:05d}" if i % 7 else f"MIX_{i - 7 if i >= 7 else i:05d}")
    lines[100] = "\x00"
    lines[101] = "x" * 10_000
    breaks = ["\n", "\r\n", "\r"]
    raw = "".join(line + breaks[i % 3] for i, line in enumerate(lines)).encode()
    before = counts(sqlite_stack.db)["profiles"]
    response = sqlite_stack.client.post(
        f"/api/profiles/niches/{sqlite_stack.import_niche_id}/import",
        data=raw,
        content_type="text/plain",
    )
    report = check_answer(response.status_code, response.data, "large import")
    assert response.status_code == 207
    assert report["total"] == 20_000
    assert report["invalid_format_count"] == 2
    assert report["created_count"] + report["duplicate_count"] + 2 == 20_000
    assert counts(sqlite_stack.db)["profiles"] == before + report["created_count"]


# ------------------------------------------------------------------- regressions of found bugs


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/batches/stop", b'{"batch_ids": ["\\ud800"]}'),
        ("DELETE", "/api/batches", b'{"batch_ids": ["\\udfff"]}'),
        ("POST", "/api/batches", b'{"niche_id": "\\ud800", "all_profiles": true}'),
        ("POST", "/api/niches", b'{"name": "a\\ud800"}'),
    ],
)
def test_lone_surrogate_in_json_is_a_400(
    sqlite_stack: Stack, method: str, path: str, body: bytes
) -> None:
    before = state_fingerprint(sqlite_stack.db)
    response = sqlite_stack.client.open(
        path, method=method, data=body, content_type="application/json"
    )
    assert response.status_code == 400
    check_error_shape(response.status_code, response.get_json(), path)
    assert state_fingerprint(sqlite_stack.db) == before


@pytest.mark.parametrize(
    "template", ["/api/batches/{id}?items_offset={n}", "/api/batches/{id}/logs?offset={n}"]
)
def test_huge_offsets_are_a_400_on_sqlite(sqlite_stack: Stack, template: str) -> None:
    batch_id = sqlite_stack.batch_ids()[0]
    response = sqlite_stack.client.get(template.format(id=batch_id, n=2**63))
    assert response.status_code == 400
    check_error_shape(response.status_code, response.get_json(), template)
