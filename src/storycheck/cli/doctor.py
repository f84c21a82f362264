"""`storycheck doctor`: the effective configuration and whether each part works.

Prints every `STORYCHECK_*` setting (secrets masked) with where its value came from — the main
ones of `config.py` and the engine, alert and pair-ownership options — then
checks the database (reachable, migrated), the secret key (found, decrypts the stored secrets),
the broker (when set), a server on the same SQLite file, and the pairs (health, last error,
whether each has been tested and its last result).
Exits 1 when a check fails, so scripts can use it.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import click

from storycheck.config import Config, env_names, variable_names

SECRET_FIELDS = {"api_token", "secret_key"}


def _shown(name: str, value: Any) -> str:
    if value in (None, "", ()):
        return "-"
    if name in SECRET_FIELDS:
        return "set (hidden)"
    if name in ("database_url", "broker_url"):
        from sqlalchemy.engine import make_url

        try:
            return make_url(str(value)).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - shown as given, minus any userinfo
            from storycheck.logs import redact

            return redact(str(value))
    if isinstance(value, tuple):
        return ", ".join(value)
    return str(value)


class Report:
    """Collects check results and prints them as aligned lines."""

    def __init__(self) -> None:
        self.failed = 0

    def line(self, label: str, value: str) -> None:
        """One informational line."""
        click.echo(f"  {label:<38} {value}")

    def check(self, label: str, ok: bool, detail: str) -> None:
        """One check: `ok` or `FAIL`, with a detail."""
        self.failed += 0 if ok else 1
        click.echo(f"  {label:<38} {'ok  ' if ok else 'FAIL'} {detail}")


def _configuration(config: Config, report: Report) -> None:
    click.echo("Configuration (environment, .env, defaults):")
    for name, variables in env_names().items():
        report.line(variables[0], f"{_shown(name, getattr(config, name))}  [{_source(variables)}]")
    from storycheck.option_variables import option_families

    for model, options in option_families(config):
        for name, variables in variable_names(model).items():
            report.line(variables[0], f"{_shown(name, getattr(options, name))}  [{_source(variables)}]")


def _source(variables: tuple[str, ...]) -> str:
    """Where a value came from: the first variable set, else the default."""
    chosen = next((env for env in variables if os.environ.get(env)), None)
    if chosen is None:
        return "default"
    return "env" if chosen == variables[0] else f"env {chosen}"


def _database(config: Config, report: Report) -> Any:
    from sqlalchemy import text

    from storycheck.cli.lock import sqlite_path
    from storycheck.db import Database

    click.echo("Database:")
    path = sqlite_path(config.database_url)
    if path is not None and not path.exists():
        report.check("database", False, f"no file at {path} (set STORYCHECK_DATABASE_URL)")
        return None
    db = Database(config.database_url)
    try:
        with db.engine.connect() as conn:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        report.check("database", False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
        db.dispose()
        return None
    from alembic.script import ScriptDirectory

    from storycheck.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(config.database_url)).get_current_head()
    report.check(
        "schema", revision == head, f"revision {revision}" + ("" if revision == head else
                                                               f" (newest {head}: run `storycheck db upgrade`)")
    )
    return db


def _key(config: Config, db: Any, report: Report) -> None:
    from storycheck.keys import KeyMismatch, key_source, open_secret_box, stored_secret_sample

    click.echo("Secret key:")
    source = key_source(config)
    if source.path is not None and not source.path.exists() and not stored_secret_sample(db):
        report.line("key", f"{source.describe()} is created at the first start")
        return
    try:
        open_secret_box(config, db, create=False)
    except KeyMismatch as exc:
        report.check("key", False, str(exc))
        return
    report.check("key", True, f"{source.describe()} decrypts the stored secrets")


def _broker(config: Config, report: Report) -> None:
    click.echo("Broker:")
    if not config.broker_url:
        report.line("mode", "in-process engine (no STORYCHECK_BROKER_URL)")
        return
    try:
        import redis

        redis.Redis.from_url(config.broker_url, socket_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        report.check("broker", False, f"{type(exc).__name__}: {str(exc)[:120]}")
        return
    report.check("broker", True, f"{_shown('broker_url', config.broker_url)} answers")


def _server(config: Config, report: Report) -> None:
    from storycheck.cli.lock import holder

    found = holder(config.database_url, settle=0.0)
    report.line("server on this database", f"{found.kind} pid {found.pid} at {found.url}" if found else "none found")


PAIRS_SHOWN = 50  # pair lines printed; the counts cover every pair


def _pairs(db: Any, report: Report) -> None:
    from sqlalchemy import select

    from storycheck.proxies.models import Proxy

    click.echo("Pairs:")
    with db.read() as session:
        rows = session.execute(
            select(Proxy.scheme, Proxy.ip, Proxy.port, Proxy.health, Proxy.is_active,
                   Proxy.last_error, Proxy.last_tested_at, Proxy.last_test_ok,
                   Proxy.last_test_summary).order_by(Proxy.created_at, Proxy.id)
        ).all()
    if not rows:
        report.check("pairs", False, "none: add a proxy + session pair (README, 'Adding a pair')")
        return
    health = Counter("disabled" if not r.is_active else r.health for r in rows)
    usable = health.get("ready", 0) + health.get("cooling", 0)
    summary = ", ".join(f"{count} {state}" for state, count in sorted(health.items()))
    report.check("pairs", usable > 0, f"{len(rows)} ({summary})")
    tests = Counter(_test_state(r) for r in rows)
    report.line("pair tests", ", ".join(f"{tests[s]} {s}" for s in ("ok", "failed", "untested"))
                + ("  (`storycheck proxies test --all`)" if tests["untested"] else ""))
    for row in rows[:PAIRS_SHOWN]:
        state = "disabled" if not row.is_active else row.health
        error = f" — {row.last_error[:80]}" if row.last_error and state != "ready" else ""
        report.line(f"{row.scheme}://{row.ip}:{row.port}", f"{state}{error}; {_tested(row)}")
    if len(rows) > PAIRS_SHOWN:
        report.line("", f"… and {len(rows) - PAIRS_SHOWN} more (`storycheck proxies list`)")


def _test_state(row: Any) -> str:
    if row.last_tested_at is None:
        return "untested"
    return "ok" if row.last_test_ok else "failed"


def _tested(row: Any) -> str:
    """Whether the pair has been tested, and its last result."""
    if row.last_tested_at is None:
        return "untested"
    return f"tested {row.last_tested_at:%Y-%m-%d %H:%M} UTC: {row.last_test_summary}"


@click.command()
def doctor() -> None:
    """Print the effective configuration and check database, key, broker and pairs."""
    config = Config.from_env()
    report = Report()
    _configuration(config, report)
    db = _database(config, report)
    if db is not None:
        try:
            _key(config, db, report)
            _pairs(db, report)
        finally:
            db.dispose()
    _broker(config, report)
    _server(config, report)
    if report.failed:
        raise click.ClickException(f"{report.failed} check(s) failed (see above)")
