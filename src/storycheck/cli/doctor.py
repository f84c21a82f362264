"""`storycheck doctor`: the effective configuration and whether each part works.

Prints every `STORYCHECK_*` setting (secrets masked) with where its value came from, then
checks the database (reachable, migrated), the secret key (found, decrypts the stored secrets),
the broker (when set), a server on the same SQLite file, and the pairs (health, last error).
Exits 1 when a check fails, so scripts can use it.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from typing import Any

import click

from storycheck.config import Config

SECRET_FIELDS = {"api_token", "secret_key"}
# Config field → its environment variable (the names are part of the interface, DESIGN §5).
ENV_NAMES = {
    "database_url": "STORYCHECK_DATABASE_URL",
    "instagram_url": "STORYCHECK_INSTAGRAM_URL",
    "host": "STORYCHECK_HOST",
    "port": "STORYCHECK_PORT",
    "api_token": "STORYCHECK_API_TOKEN",
    "secret_key": "STORYCHECK_SECRET_KEY",
    "key_file": "STORYCHECK_KEY_FILE",
    "cors_origins": "STORYCHECK_CORS_ORIGINS",
    "allowed_hosts": "STORYCHECK_ALLOWED_HOSTS",
    "broker_url": "STORYCHECK_BROKER_URL",
    "engine_enabled": "STORYCHECK_ENGINE",
    "reconcile_interval": "STORYCHECK_RECONCILE_INTERVAL",
    "max_content_length": "STORYCHECK_MAX_BODY_BYTES",
    "static_folder": "STORYCHECK_STATIC_DIR",
}


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
        click.echo(f"  {label:<30} {value}")

    def check(self, label: str, ok: bool, detail: str) -> None:
        """One check: `ok` or `FAIL`, with a detail."""
        self.failed += 0 if ok else 1
        click.echo(f"  {label:<30} {'ok  ' if ok else 'FAIL'} {detail}")


def _configuration(config: Config, report: Report) -> None:
    click.echo("Configuration (environment, .env, defaults):")
    for field in dataclasses.fields(config):
        env = ENV_NAMES.get(field.name)
        if env is None:
            continue
        source = "env" if os.environ.get(env) else "default"
        if (
            field.name == "database_url"
            and not os.environ.get(env)
            and os.environ.get("DATABASE_URL")
        ):
            source = "env DATABASE_URL"
        report.line(env, f"{_shown(field.name, getattr(config, field.name))}  [{source}]")
    engine_vars = sorted(k for k in os.environ if k.startswith("STORYCHECK_ENGINE_"))
    for name in engine_vars:
        report.line(name, f"{os.environ[name]}  [env]")


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
        "schema",
        revision == head,
        f"revision {revision}"
        + ("" if revision == head else f" (newest {head}: run `storycheck db upgrade`)"),
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
    report.line(
        "server on this database",
        f"{found.kind} pid {found.pid} at {found.url}" if found else "none found",
    )


def _pairs(db: Any, report: Report) -> None:
    from sqlalchemy import select

    from storycheck.proxies.models import Proxy

    click.echo("Pairs:")
    with db.read() as session:
        rows = session.execute(
            select(
                Proxy.scheme, Proxy.ip, Proxy.port, Proxy.health, Proxy.is_active, Proxy.last_error
            )
        ).all()
    if not rows:
        report.check("pairs", False, "none: add a proxy + session pair (README, 'Adding a pair')")
        return
    health = Counter("disabled" if not r.is_active else r.health for r in rows)
    usable = health.get("ready", 0) + health.get("cooling", 0)
    summary = ", ".join(f"{count} {state}" for state, count in sorted(health.items()))
    report.check("pairs", usable > 0, f"{len(rows)} ({summary})")
    for row in rows:
        if row.health not in ("ready",) or not row.is_active:
            error = f" — {row.last_error[:80]}" if row.last_error else ""
            report.line(f"{row.scheme}://{row.ip}:{row.port}", f"{row.health}{error}")


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
