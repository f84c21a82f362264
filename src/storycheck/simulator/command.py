"""`storycheck simulate`: run the Instagram simulator (and optionally proxies) until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from typing import Any

import click

from storycheck.simulator.config import (
    FaultConfig,
    Limit,
    LimitsConfig,
    PopulationConfig,
    SimulatorConfig,
)
from storycheck.simulator.proxies import ProxyFleet
from storycheck.simulator.server import SimulatorServer

logger = logging.getLogger(__name__)


_DEFAULT = "default"


def _limit(ctx: click.Context, param: click.Parameter, value: str | None) -> Limit | None | str:
    """Parse a limit option (`200/3600`, `10/2s`, `200/1h`, `off`); unset gives `_DEFAULT`."""
    if value is None:
        return _DEFAULT
    try:
        return Limit.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _share(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """Check that a share lies within [0, 1]."""
    if not 0 <= value <= 1:
        raise click.BadParameter("must be between 0 and 1")
    return value


LIMIT_HELP = "N/SECONDS (units s, m, h, d allowed) or 'off'"


@click.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8100, show_default=True, type=int, help="Port (0 = any free).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the simulated world.")
@click.option(
    "--sessions",
    "session_count",
    default=5,
    show_default=True,
    type=int,
    help="Number of deterministic valid session ids to create.",
)
@click.option(
    "--session", "session_ids", multiple=True, help="An extra valid session id (repeatable)."
)
@click.option("--accept-any-session", is_flag=True, help="Accept any non-empty sessionid cookie.")
@click.option(
    "--proxies",
    "proxy_count",
    default=0,
    show_default=True,
    type=int,
    help="Start N local proxies, proxy i connecting from 127.0.0.(10+i).",
)
@click.option(
    "--proxy-base-port",
    default=0,
    show_default=True,
    type=int,
    help="First proxy port (0 = any free ports).",
)
@click.option(
    "--proxy-kind", type=click.Choice(["http", "socks5"]), default="http", show_default=True
)
@click.option(
    "--proxy-user", default=None, help="Require these proxy credentials (with --proxy-password)."
)
@click.option("--proxy-password", default=None)
@click.option(
    "--proxy-silent-close",
    is_flag=True,
    help="Proxies drop each connection after one answer without saying so.",
)
@click.option("--no-limits", is_flag=True, help="Disable every rate limit.")
@click.option(
    "--session-profile-limit", callback=_limit, help=f"Lookups per session: {LIMIT_HELP} [200/1h]."
)
@click.option(
    "--session-story-limit",
    callback=_limit,
    help=f"Story requests per session: {LIMIT_HELP} [200/1h].",
)
@click.option(
    "--session-total-limit",
    callback=_limit,
    help=f"All requests of a session together: {LIMIT_HELP} [off].",
)
@click.option(
    "--address-profile-limit",
    callback=_limit,
    help=f"Lookups per client address: {LIMIT_HELP} [400/1h].",
)
@click.option(
    "--address-story-limit",
    callback=_limit,
    help=f"Story requests per client address: {LIMIT_HELP} [1000/1h].",
)
@click.option(
    "--rate-limit-status",
    type=click.Choice(["401", "429", "mix"]),
    default="401",
    show_default=True,
)
@click.option("--retry-after", is_flag=True, help="Send Retry-After with limit answers.")
@click.option(
    "--login-required-status",
    type=click.Choice(["401", "403", "302"]),
    default="403",
    show_default=True,
)
@click.option(
    "--missing-app-id-status", type=click.Choice(["400", "403"]), default="400", show_default=True
)
@click.option(
    "--reel-cap", default=20, show_default=True, type=int, help="Max reel_ids per v1 request."
)
@click.option(
    "--graphql-reel-cap",
    default=50,
    show_default=True,
    type=int,
    help="Max reel_ids per GraphQL request.",
)
@click.option(
    "--missing-share",
    default=0.05,
    show_default=True,
    callback=_share,
    help="Share of usernames that do not exist.",
)
@click.option(
    "--private-share",
    default=0.10,
    show_default=True,
    callback=_share,
    help="Share of private accounts.",
)
@click.option(
    "--never-post-share",
    default=0.20,
    show_default=True,
    callback=_share,
    help="Share of accounts that never post.",
)
@click.option(
    "--story-probability",
    default=0.02,
    show_default=True,
    type=float,
    help="Mean chance per slot that a poster posts.",
)
@click.option(
    "--slot-seconds",
    default=3600.0,
    show_default=True,
    type=float,
    help="Length of a posting slot.",
)
@click.option(
    "--story-ttl",
    default=86400.0,
    show_default=True,
    type=float,
    help="Seconds a story item stays live.",
)
@click.option(
    "--private-stories/--no-private-stories",
    default=True,
    show_default=True,
    help="Whether private accounts post stories (shown only to sessions that follow them).",
)
@click.option(
    "--business-deleted-share",
    default=0.0,
    show_default=True,
    callback=_share,
    help="Share of public accounts whose web_profile_info answers the business-asset 400.",
)
@click.option(
    "--not-found-style",
    type=click.Choice(["empty", "json", "user_null"]),
    default="empty",
    show_default=True,
    help="How a missing user answers: 404 empty, 404 JSON, or 200 data.user null.",
)
@click.option(
    "--min-chrome-major",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Answer 401 'Please wait' to older Chrome user agents (0 = off).",
)
@click.option(
    "--cookie-rotation-every",
    default=25,
    show_default=True,
    type=click.IntRange(min=0),
    help="Rotate csrftoken, rur and the www-claim every N requests of a session (0 = never).",
)
@click.option(
    "--doc-id",
    "doc_ids",
    multiple=True,
    help="A GraphQL doc_id the dense POST /graphql/query form accepts (repeatable).",
)
@click.option(
    "--fault-5xx",
    default=0.0,
    show_default=True,
    callback=_share,
    help="Share of 500/502/503 answers.",
)
@click.option(
    "--fault-hang",
    default=0.0,
    show_default=True,
    callback=_share,
    help="Share of requests that hang.",
)
@click.option(
    "--hang-seconds", default=30.0, show_default=True, type=float, help="How long a hang lasts."
)
@click.option(
    "--fault-malformed",
    default=0.0,
    show_default=True,
    callback=_share,
    help="Share of cut-short JSON bodies.",
)
@click.option(
    "--fault-drop",
    default=0.0,
    show_default=True,
    callback=_share,
    help="Share of connections reset.",
)
@click.option(
    "--fault-rate-limit",
    default=0.0,
    show_default=True,
    callback=_share,
    help="Share of spurious rate-limit answers.",
)
@click.option(
    "--latency", default=0.0, show_default=True, type=float, help="Fixed added latency in seconds."
)
@click.option(
    "--jitter",
    default=0.0,
    show_default=True,
    type=float,
    help="Extra uniform latency 0..JITTER seconds.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the startup summary as one JSON line.")
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
def simulate(**options: Any) -> None:
    """Run the Instagram simulator (and N local proxies) until Ctrl-C or SIGTERM."""
    logging.basicConfig(
        level=options["log_level"].upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if (options["proxy_user"] is None) != (options["proxy_password"] is None):
        raise click.UsageError("--proxy-user and --proxy-password go together")
    try:
        config = build_config(options)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    fleet = None
    if options["proxy_count"]:
        fleet = ProxyFleet(
            options["proxy_count"],
            kind=options["proxy_kind"],
            host=options["host"],
            base_port=options["proxy_base_port"],
            username=options["proxy_user"],
            password=options["proxy_password"],
            silent_close=config.proxy_silent_close,
        )
    asyncio.run(_serve(SimulatorServer(config), fleet, as_json=options["as_json"]))


def build_config(options: dict[str, Any]) -> SimulatorConfig:
    """Turn the command's options into a `SimulatorConfig`."""
    defaults = LimitsConfig()

    def pick(name: str, default: Limit | None) -> Limit | None:
        value = options.get(name, _DEFAULT)
        return default if value == _DEFAULT else value

    limits = LimitsConfig(
        enabled=not options["no_limits"],
        session_profile=pick("session_profile_limit", defaults.session_profile),
        session_stories=pick("session_story_limit", defaults.session_stories),
        address_profile=pick("address_profile_limit", defaults.address_profile),
        address_stories=pick("address_story_limit", defaults.address_stories),
        session_total=pick("session_total_limit", defaults.session_total),
    )
    population = PopulationConfig(
        missing_share=options["missing_share"],
        private_share=options["private_share"],
        never_post_share=options["never_post_share"],
        story_probability=options["story_probability"],
        slot_seconds=options["slot_seconds"],
        story_ttl_seconds=options["story_ttl"],
        business_deleted_share=options.get("business_deleted_share", 0.0),
        private_stories=options.get("private_stories", True),
    )
    faults = FaultConfig(
        error_5xx_share=options["fault_5xx"],
        hang_share=options["fault_hang"],
        hang_seconds=options["hang_seconds"],
        malformed_share=options["fault_malformed"],
        drop_share=options["fault_drop"],
        rate_limit_share=options["fault_rate_limit"],
        latency_seconds=options["latency"],
        jitter_seconds=options["jitter"],
    )
    return SimulatorConfig(
        host=options["host"],
        port=options["port"],
        seed=options["seed"],
        sessions=options["session_count"],
        session_ids=tuple(options["session_ids"]),
        accept_any_session=options["accept_any_session"],
        limits=limits,
        population=population,
        faults=faults,
        rate_limit_status=options["rate_limit_status"],
        retry_after=options["retry_after"],
        login_required_status=int(options["login_required_status"]),
        missing_app_id_status=int(options["missing_app_id_status"]),
        reel_ids_cap=options["reel_cap"],
        graphql_reel_ids_cap=options["graphql_reel_cap"],
        not_found_style=options.get("not_found_style", "empty"),
        min_chrome_major=options.get("min_chrome_major", 0),
        cookie_rotation_every=options.get("cookie_rotation_every", 25),
        doc_ids=tuple(options.get("doc_ids", ())),
        proxy_silent_close=bool(options.get("proxy_silent_close", False)),
    )


async def _serve(server: SimulatorServer, fleet: ProxyFleet | None, *, as_json: bool) -> None:
    """Start everything on this loop, print where it listens, and wait for a stop signal."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await server.start_async()
    try:
        if fleet is not None:
            await fleet.start_async()
        try:
            _announce(server, fleet, as_json=as_json)
            await stop.wait()
            logger.info("stopping")
        finally:
            if fleet is not None:
                await fleet.stop_async()
    finally:
        await server.stop_async()


def _announce(server: SimulatorServer, fleet: ProxyFleet | None, *, as_json: bool) -> None:
    """Print the base URL, proxy URLs and session ids."""
    proxies = fleet.urls if fleet is not None else []
    sessions = server.session_ids
    if as_json:
        summary = {"base_url": server.base_url, "proxies": proxies, "sessions": sessions}
        click.echo(json.dumps(summary), nl=True)
        return
    click.echo(f"Instagram simulator: {server.base_url}")
    click.echo(f"  truth:   {server.base_url}/__sim__/truth?username=USER")
    click.echo(f"  referee: {server.base_url}/__sim__/stats")
    if fleet is not None:
        click.echo("Proxies:")
        for endpoint in fleet.endpoints:
            click.echo(f"  {endpoint.url}  (upstream from {endpoint.source_address})")
    click.echo("Sessions:")
    for session_id in sessions:
        click.echo(f"  {session_id}")
    if server.state.sessions.accept_any:
        click.echo("  (any non-empty sessionid is accepted)")
    click.echo("Press Ctrl-C to stop.")
