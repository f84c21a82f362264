"""The `storycheck` command: serve, db upgrade, import, batches, simulate, demo, worker."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import click

from storycheck.config import Config


def _setup_logging(verbose: bool = False) -> None:
    from storycheck.logs import configure_logging

    configure_logging(verbose)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
def main(verbose: bool) -> None:
    """storycheck: find which Instagram accounts have an active story right now."""
    _setup_logging(verbose)


@main.command()
@click.option("--host", default=None, help="Address to bind (default STORYCHECK_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default STORYCHECK_PORT or 5000).")
def serve(host: str | None, port: int | None) -> None:
    """Run the API, the web client and the in-process engine until SIGINT/SIGTERM."""
    config = Config.from_env()
    run_server(config, host=host or config.host, port=port or config.port)


def run_server(
    config: Config, *, host: str, port: int, ready: threading.Event | None = None
) -> None:
    """Serve with the production WSGI server until a signal arrives (see web/server.py)."""
    from storycheck.keys import KeyMismatch
    from storycheck.web.server import BindRefused
    from storycheck.web.server import run_server as serve_forever

    try:
        serve_forever(config, host=host, port=port, ready=ready)
    except (BindRefused, KeyMismatch) as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
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


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to STORYCHECK_DATABASE_URL."""
    from storycheck.db import Database
    from storycheck.migrate import upgrade

    config = Config.from_env()
    database = Database(config.database_url)
    upgrade(database.engine)
    database.dispose()
    click.echo("Database is up to date.")


@main.command("import")
@click.argument("niche")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_profiles(niche: str, file: Path) -> None:
    """Import usernames or profile URLs from FILE into NICHE (created if missing)."""
    from storycheck.cli_support import import_file

    report = import_file(Config.from_env(), niche, file.read_bytes())
    click.echo(
        f"{report['created_count']} created, {report['duplicate_count']} duplicates, "
        f"{report['invalid_format_count']} invalid, {report['total']} lines"
    )
    for error in report["errors"][:50]:
        click.echo(f"  line {error.get('line_number', '?')}: {error['line']}: {error['error']}")
    if len(report["errors"]) > 50:
        click.echo(f"  … and {len(report['errors']) - 50} more")


@main.command("batches")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_batches(as_json: bool) -> None:
    """List batches with status, queue position and progress."""
    import json

    from storycheck.batches.service import list_batches as query
    from storycheck.db import Database
    from storycheck.migrate import upgrade

    config = Config.from_env()
    database = Database(config.database_url)
    upgrade(database.engine)
    with database.read() as session:
        rows = query(session)
    database.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No batches.")
        return
    click.echo(f"{'id':36}  {'niche':20} {'status':11} {'pos':>4} {'progress':>13} {'stories':>7}")
    for row in rows:
        position = "-" if row["queue_position"] is None else str(row["queue_position"])
        progress = f"{row['completed_profiles']}/{row['total_profiles']}"
        click.echo(
            f"{row['id']:36}  {row['niche']['name'][:20]:20} {row['status']:11} {position:>4} "
            f"{progress:>13} {row['successful_checks']:>7}"
        )


def _register_commands() -> None:
    from storycheck.demo import demo
    from storycheck.distributed.worker import worker
    from storycheck.simulator.command import simulate

    main.add_command(simulate)
    main.add_command(demo)
    main.add_command(worker)


_register_commands()


if __name__ == "__main__":
    sys.exit(main())
