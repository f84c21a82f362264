"""`storycheck serve` and `storycheck db upgrade`: the commands that run or prepare the server."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import click

from storycheck.cli.client import shown_url
from storycheck.cli.lock import EngineLock
from storycheck.config import Config, is_loopback


@click.command()
@click.option("--host", default=None, help="Address to bind (default STORYCHECK_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default STORYCHECK_PORT or 5000).")
def serve(host: str | None, port: int | None) -> None:
    """Run the API, the web client and the in-process engine until SIGINT/SIGTERM."""
    config = Config.from_env()
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
    """Serve until a signal arrives; then stop claiming work and exit within seconds."""
    from werkzeug.serving import make_server

    from storycheck.app import create_app, shutdown

    if not is_loopback(host) and not config.api_token:
        raise click.ClickException(
            f"Refusing to bind {host}: set STORYCHECK_API_TOKEN to serve beyond this machine"
        )
    app = create_app(config)
    server = make_server(host, port, app, threaded=True)
    log = logging.getLogger("storycheck")
    # Tell CLI commands on the same SQLite file to use this server rather than a second engine.
    lock = EngineLock.acquire(
        config.database_url, kind="server", url=local_url(host, server.server_port)
    )
    stopping = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        if stopping.is_set():
            return
        stopping.set()
        log.info("Signal %s: shutting down", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    log.info("storycheck listening on http://%s:%s", host, server.server_port)
    if ready is not None:
        ready.set()
    try:
        server.serve_forever()
    finally:
        shutdown(app)
        if lock is not None:
            lock.release()
        log.info("storycheck stopped")


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
