"""`storycheck alerts …`: the alert commands of the CLI."""

from __future__ import annotations

import click

from storycheck.config import Config


@click.group()
def alerts() -> None:
    """Alert channels and deliveries."""


@alerts.command("test")
@click.argument("channel")
def test_channel(channel: str) -> None:
    """Send a test message over CHANNEL (its id or name) and say whether it arrived."""
    from storycheck.alerts.channels import get_channel, load_spec
    from storycheck.alerts.delivery import send_test
    from storycheck.alerts.senders import SendError
    from storycheck.db import Database, utcnow
    from storycheck.errors import NotFound
    from storycheck.keys import open_secret_box
    from storycheck.migrate import upgrade
    from storycheck.settings.service import get_settings

    config = Config.from_env()
    database = Database(config.database_url)
    try:
        upgrade(database.engine)
        secrets = open_secret_box(config, database)
        with database.read() as session:
            try:
                spec = load_spec(get_channel(session, channel), secrets)
            except NotFound as exc:
                raise click.ClickException(exc.message) from exc
            recipient = get_settings(session).notification_email
        try:
            event = send_test(spec, recipient, utcnow())
        except SendError as exc:
            raise click.ClickException(
                f"Test message not delivered over {spec.name}: {exc}"
            ) from exc
        click.echo(f"Test message {event['id']} delivered over {spec.kind} channel {spec.name}.")
    finally:
        database.dispose()
