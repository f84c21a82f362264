"""Shared fixtures: real databases (SQLite file and the local PostgreSQL), the app, its client.

Also the test tiers. Markers are applied here by where a test lives and what it uses, so a new
test is classified without a thought (`make test-fast` runs what has none of them):

* `browser`: everything under tests/browser (headless Chromium against a live server);
* `postgres`: a test using a PostgreSQL fixture (`pg_database`, `pg_url`) or the PostgreSQL
  variant of `database_url`;
* `celery`: a test using Redis (`redis_url`), i.e. Celery workers;
* `slow`: everything under tests/robustness (live servers, fuzzing, stress), a test that starts
  live processes or engines (the fixtures in `LIVE_FIXTURES`), or one marked
  `@pytest.mark.slow` by hand (a long property run, a 100,000-row export).

For pytest-xdist (`make test` runs `-n N --dist loadgroup`), the browser tests share one live
stack and one Chromium, and the Redis tests share Redis's queues: each kind runs on one worker.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storycheck.app import create_app, shutdown
from storycheck.batches.guard import GUARD_ENV
from storycheck.config import Config
from storycheck.db import Database
from storycheck.migrate import upgrade
from storycheck.models import Base

# Every engine the tests create, in this process and in the servers and workers they start,
# refuses batch status/position writes outside BatchStateManager (storycheck/batches/guard.py).
os.environ[GUARD_ENV] = "1"
# pytest-xdist sets COLUMNS/LINES (80x24) in its workers; child processes (the CLI on a
# pseudo-terminal) must measure their own terminal, as they do without xdist.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)

PG_ADMIN_URL = os.environ.get(
    "STORYCHECK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEST_SECRET_KEY = "test-secret-key-not-for-production"


TESTS = Path(__file__).resolve().parent
# Fixtures that start processes, servers or an engine: their tests are in the slow tier.
LIVE_FIXTURES = frozenset(
    {
        "simulator",  # tests/engine: the simulator process and its proxy fleet
        "rig",  # tests/engine: a running engine
        "start_server",  # tests/robustness, tests/cli: `storycheck serve` in a child process
        "run_cli",  # tests/cli: the `storycheck` executable
        "start_worker",  # tests/distributed: `storycheck worker` processes
    }
)
POSTGRES_FIXTURES = frozenset({"pg_database", "pg_url"})
REDIS_FIXTURES = frozenset({"redis_url"})


def _tier_marks(item: pytest.Item) -> list[str]:
    """The tier markers `item` gets from its place and its fixtures."""
    fixtures = set(getattr(item, "fixturenames", ()))
    marks = []
    if TESTS / "browser" in item.path.parents:
        marks.append("browser")
    if TESTS / "robustness" in item.path.parents:
        marks.append("slow")  # live servers, fuzzing, stress
    if fixtures & POSTGRES_FIXTURES:
        marks.append("postgres")
    if fixtures & REDIS_FIXTURES:
        marks.append("celery")
    if fixtures & LIVE_FIXTURES:
        marks.append("slow")
    return marks


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, and keep tests that share a live resource on one worker."""
    for item in items:
        for name in _tier_marks(item):
            item.add_marker(name)
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif item.get_closest_marker("celery"):
            item.add_marker(pytest.mark.xdist_group("redis"))


@pytest.fixture(scope="session", autouse=True)
def _own_config_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Key files of PostgreSQL databases go to a config folder of this session (each xdist
    worker has its own), never to the user's ~/.config; child processes inherit it."""
    before = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config-home"))
    yield
    if before is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = before


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: skip the PostgreSQL variants
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (migrating once keeps the suite fast)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    database = Database(f"sqlite:///{path}")
    upgrade(database.engine)
    database.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A migrated PostgreSQL database for this test session, dropped at the end."""
    reason = _pg_available()
    if reason:
        pytest.skip(reason)
    name = f"storycheck_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    upgrade(database.engine)
    database.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    engine.dispose()


@pytest.fixture(
    params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database URL: once a SQLite file, once the local PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "storycheck.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated SQLite database URL (for tests that only make sense on one backend)."""
    target = tmp_path / "storycheck.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def config(database_url: str) -> Config:
    """Configuration for an API test: no background engine, a fixed secret key."""
    return Config(database_url=database_url, engine_enabled=False, secret_key=TEST_SECRET_KEY)


@pytest.fixture
def app(config: Config):  # type: ignore[no-untyped-def]
    """The Flask app on a fresh database, without background threads."""
    application = create_app(config, start_background=False)
    application.config["TESTING"] = True
    yield application
    shutdown(application)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    """A test client of `app`."""
    return app.test_client()


@pytest.fixture
def db(app) -> Database:  # type: ignore[no-untyped-def]
    """The app's Database."""
    return app.extensions["storycheck"].db  # type: ignore[no-any-return]


@pytest.fixture
def services(app):  # type: ignore[no-untyped-def]
    """The app's service container (state manager, secrets, …)."""
    return app.extensions["storycheck"]
