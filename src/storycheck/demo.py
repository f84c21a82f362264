"""`storycheck demo`: simulator + proxy fleet + seeded SQLite database + server, in one command."""

from __future__ import annotations

import logging
import random
import shlex
import socket
from dataclasses import replace
from pathlib import Path

import click

from storycheck.config import Config
from storycheck.crypto import SecretBox
from storycheck.db import Database, new_id
from storycheck.keys import open_secret_box
from storycheck.migrate import upgrade
from storycheck.niches.models import Niche
from storycheck.profiles.models import username_key
from storycheck.proxies.service import create_proxy, parse_proxy
from storycheck.settings.service import get_settings
from storycheck.simulator import (
    Limit,
    LimitsConfig,
    PopulationConfig,
    ProxyFleet,
    SimulatorConfig,
    SimulatorServer,
    user_id_for,
)
from storycheck.testing import seed_profiles

log = logging.getLogger(__name__)

DEMO_NICHES = ("Fitness", "Travel", "Food", "Fashion", "Tech")
_WORDS = (
    "sunny",
    "urban",
    "wild",
    "daily",
    "pure",
    "happy",
    "blue",
    "golden",
    "lazy",
    "bold",
    "fresh",
    "tiny",
    "north",
    "coastal",
    "quiet",
    "rapid",
    "velvet",
    "cosmic",
    "lucky",
    "noble",
)
_NOUNS = (
    "runner",
    "chef",
    "nomad",
    "studio",
    "coach",
    "explorer",
    "kitchen",
    "closet",
    "lab",
    "trails",
    "bites",
    "threads",
    "gains",
    "pixels",
    "journeys",
    "plates",
    "looks",
    "gadgets",
)


def demo_usernames(count: int, rng: random.Random) -> list[str]:
    """Plausible, unique Instagram-style usernames."""
    names: dict[str, str] = {}
    while len(names) < count:
        joiner = rng.choice(("", ".", "_"))
        name = f"{rng.choice(_WORDS)}{joiner}{rng.choice(_NOUNS)}{rng.randint(1, 9999)}"[:30]
        names.setdefault(username_key(name), name)
    return sorted(names.values())


def seed_demo_database(
    database: Database,
    secrets: SecretBox,
    *,
    profiles: int,
    proxy_urls: list[str],
    session_ids: list[str],
    resolved_share: float,
    seed: int,
) -> None:
    """Fill a fresh database with niches, profiles and one proxy+session pair per proxy."""
    rng = random.Random(seed)
    names = demo_usernames(profiles, rng)
    with database.write() as session:
        niche_ids = []
        for order, name in enumerate(DEMO_NICHES, start=1):
            niche = Niche(id=new_id(), name=name, order=order, daily_story_target=25)
            session.add(niche)
            niche_ids.append(niche.id)
    for index, niche_id in enumerate(niche_ids):
        members = names[index :: len(niche_ids)]
        # Most accounts were looked up before (ids cached), as in a mature install.
        known = {n: user_id_for(n) for n in members if rng.random() < resolved_share}
        seed_profiles(database, niche_id, members, user_ids=known)
    with database.write() as session:
        for url, cookie in zip(proxy_urls, session_ids, strict=False):
            pair = parse_proxy({"url": url, "session": cookie})
            create_proxy(session, pair=pair, secrets=secrets)
        settings = get_settings(session)
        # Stay under the simulator's Instagram-like budgets (200 requests/hour per session).
        settings.proxy_hourly_limit = 180
        settings.lookup_hourly_limit = 180
        settings.min_request_interval = 1.0
        settings.max_threads = 16


def _require_free(host: str, port: int, what: str, make_variable: str, option: str) -> None:
    """Refuse, before anything starts or is printed, a port another program holds."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise click.ClickException(
                f"Port {port} ({what}) is already in use. Pick another: "
                f"`make demo {make_variable}=<port>` or `storycheck demo {option} <port>`"
                + (" (0 = any free port)" if option == "--sim-port" else "")
            ) from None


@click.command()
@click.option(
    "--port", default=None, type=int, help="Server port (default STORYCHECK_PORT or 5000)."
)
@click.option("--sim-port", default=8100, show_default=True, help="Simulator port (0 = any free).")
@click.option(
    "--proxies", "proxy_count", default=10, show_default=True, help="Local proxies/pairs."
)
@click.option("--profiles", default=3000, show_default=True, help="Profiles to seed.")
@click.option(
    "--database",
    "db_path",
    default="storycheck-demo.db",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file, recreated on every run.",
)
@click.option("--seed", default=7, show_default=True, help="Seed of the simulated world.")
def demo(
    port: int | None, sim_port: int, proxy_count: int, profiles: int, db_path: Path, seed: int
) -> None:
    """Run simulator, proxy fleet, a freshly seeded database and the server until Ctrl-C."""
    from storycheck.cli import run_server

    base = Config.from_env()
    server_port = port or base.port
    _require_free(base.host, server_port, "server", "PORT", "--port")
    if sim_port:
        _require_free("127.0.0.1", sim_port, "simulator", "SIM_PORT", "--sim-port")
    sim_config = SimulatorConfig(
        port=sim_port,
        seed=seed,
        sessions=proxy_count,
        limits=LimitsConfig(
            session_profile=Limit(200, 3600.0),
            session_stories=Limit(200, 3600.0),
            address_profile=Limit(400, 3600.0),
            address_stories=Limit(1000, 3600.0),
        ),
        # About a third of the accounts have a story at any time, as in a lively niche.
        population=PopulationConfig(story_probability=0.01, slot_seconds=1800.0),
    )
    simulator = SimulatorServer(sim_config).start()
    fleet = ProxyFleet(proxy_count).start()
    try:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        config = replace(
            base,
            database_url=f"sqlite:///{db_path.resolve()}",
            instagram_url=simulator.base_url,
            cors_origins=base.cors_origins,
        )
        database = Database(config.database_url)
        upgrade(database.engine)

        secrets = open_secret_box(config, database)
        seed_demo_database(
            database,
            secrets,
            profiles=profiles,
            proxy_urls=list(fleet.urls),
            session_ids=list(simulator.session_ids),
            resolved_share=0.9,
            seed=seed,
        )
        database.dispose()
        click.echo(f"Instagram simulator: {simulator.base_url} ({proxy_count} local proxies)")
        click.echo(f"Seeded {profiles} profiles in {len(DEMO_NICHES)} niches into {db_path}")
        click.echo(f"Open http://{config.host}:{server_port}/  (Ctrl-C stops everything)")
        # The CLI in another terminal reads STORYCHECK_DATABASE_URL; without it, it would look
        # at ./storycheck.db. With this line it finds the demo's database and, through the
        # engine lock, this server.
        click.echo("For the CLI in another terminal:")
        click.echo(f"  export STORYCHECK_DATABASE_URL={shlex.quote(config.database_url)}")
        click.echo(f"  storycheck stories    # or: storycheck check {DEMO_NICHES[0]}")
        run_server(config, host=config.host, port=server_port)
    finally:
        fleet.stop()
        simulator.stop()
