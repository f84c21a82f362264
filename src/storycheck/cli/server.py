"""`storycheck serve`, `db upgrade` and `keys rotate`: the commands that run or prepare the server."""

from __future__ import annotations

import threading

import click

from storycheck.cli.client import shown_url
from storycheck.cli.lock import EngineLock
from storycheck.config import Config


@click.command()
@click.option("--host", default=None, help="Address to bind (default STORYCHECK_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default STORYCHECK_PORT or 5000).")
def serve(host: str | None, port: int | None) -> None:
    """Run the API, the web client and the in-process engine until SIGINT/SIGTERM."""
    from storycheck.option_variables import option_families

    config = Config.from_env()
    option_families(config)  # a bad STORYCHECK_ENGINE_/ALERTS_/PAIR_ value stops it here
    run_server(config, host=host or config.host, port=port or config.port)


def local_url(host: str, port: int) -> str:
    """The URL a client on this machine uses to reach a server bound to `host`."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run_server(
    config: Config, *, host: str, port: int, ready: threading.Event | None = None
) -> None:
    """Serve with the production WSGI server until a signal arrives (see web/server.py).

    While it serves, the server holds the engine lock of its SQLite file with its address, so
    CLI commands on that file talk to it instead of starting a second engine.
    """
    from storycheck.keys import KeyMismatch
    from storycheck.web.server import BindRefused
    from storycheck.web.server import run_server as serve_forever

    # Port 0 (any free port) has no address to announce before binding: no lock then.
    lock = (
        EngineLock.acquire(config.database_url, kind="server", url=local_url(host, port))
        if port
        else None
    )
    try:
        serve_forever(config, host=host, port=port, ready=ready)
    except (BindRefused, KeyMismatch) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if lock is not None:
            lock.release()


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to STORYCHECK_DATABASE_URL (creating the database if needed)."""
    from storycheck.db import Database
    from storycheck.migrate import upgrade

    config = Config.from_env()
    database = Database(config.database_url)
    upgrade(database.engine)
    database.dispose()
    click.echo(f"Database {shown_url(config.database_url)} is up to date.")


@click.group()
def keys() -> None:
    """The secret key that encrypts session cookies and proxy passwords."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret with a new key (one transaction)."""
    from storycheck.db import Database
    from storycheck.keys import KeyMismatch, key_source, rotate
    from storycheck.migrate import upgrade

    config = Config.from_env()
    db = Database(config.database_url)
    try:
        upgrade(db.engine)
        count, new_key = rotate(config, db)
    except KeyMismatch as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    if new_key is None:
        click.echo(f"Re-encrypted {count} secrets; {key_source(config).describe()} holds the new key.")
    else:
        click.echo(f"Re-encrypted {count} secrets. Set the new key everywhere before restarting:")
        click.echo(f"export STORYCHECK_SECRET_KEY={new_key}")
