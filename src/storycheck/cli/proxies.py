"""`storycheck proxies`: list the proxy + session pairs and test them.

`proxies test ID…` (or `--all`) asks the server to send one lookup through each pair
(`POST /api/proxies/test`) and prints each step in words. A pair is named by its id, a
unique start of it, or `host:port`. Exits 1 when a tested pair failed or could not be tested.
"""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from storycheck.cli.client import ApiClient, CliError, Target, connect, target_options
from storycheck.cli.output import console, print_json

# Pairs per request of `--all`: reports print as each group finishes, and no single request
# runs long (the server tests a few pairs at once, each waiting at most for its pair's slot).
GROUP = 8
TEST_REQUEST_SECONDS = 300.0
STATUS_WORDS = {"ok": "ok", "failed": "FAIL", "unknown": "?", "skipped": "-"}


@click.group()
def proxies() -> None:
    """The proxy + session pairs: list them, test them."""


@proxies.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@target_options
def list_pairs(as_json: bool, server: str | None, token: str | None) -> None:
    """Every pair with its health and whether it has been tested."""
    with connect(Target(server, token)) as client:
        pairs = client.get("/api/proxies")
    if as_json:
        print_json(pairs)
        return
    if not pairs:
        click.echo("No pairs: add one (README, 'Adding a pair').")
        return
    table = Table(title_justify="left")
    for name in ("id", "proxy", "health", "enabled", "test"):
        table.add_column(name, no_wrap=name != "test")
    for pair in pairs:
        table.add_row(
            pair["id"],
            pair["url"],
            pair.get("health") or pair["status"],
            "yes" if pair["is_active"] else "no",
            tested(pair),
        )
    console().print(table)


def tested(pair: dict[str, Any]) -> str:
    """A pair's test state in words: `untested`, or the last result with its time."""
    last = pair.get("last_test")
    if not last:
        return "untested"
    return f"{last['summary']} ({last['tested_at']})"


@proxies.command("test")
@click.argument("pairs", nargs=-1, metavar="[ID ...]")
@click.option("--all", "test_all", is_flag=True, help="Test every switched-on pair.")
@click.option("--username", metavar="NAME", help="Look up this account instead of the default.")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@target_options
def pair_test_command(
    pairs: tuple[str, ...],
    test_all: bool,
    username: str | None,
    as_json: bool,
    server: str | None,
    token: str | None,
) -> None:
    """Send one lookup through each pair and say what works: proxy, Instagram, session, limits.

    A pair is its id, a unique start of its id, or host:port (see `storycheck proxies list`).
    """
    if test_all == bool(pairs):
        raise click.UsageError("name the pairs to test (ID ...) or pass --all, not both")
    reports: list[dict[str, Any]] = []
    with connect(Target(server, token)) as client:
        listed = client.get("/api/proxies")
        if test_all:
            ids = [p["id"] for p in listed if p["is_active"]]
            if not ids:
                raise CliError("No switched-on pair to test (see `storycheck proxies list`)")
        else:
            ids = list(dict.fromkeys(_find(listed, name) for name in pairs))
        for start in range(0, len(ids), GROUP):
            group = _test(client, ids[start : start + GROUP], username)
            reports.extend(group)
            if not as_json:
                for report in group:
                    _print_report(report)
    if as_json:
        print_json(reports)
    failed = [r for r in reports if not r["ok"]]
    if failed:
        raise CliError(f"{len(failed)} of {len(reports)} pair(s) failed or were not tested")


def _test(client: ApiClient, ids: list[str], username: str | None) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"ids": ids}
    if username:
        body["username"] = username
    answer = client.post("/api/proxies/test", body, timeout=TEST_REQUEST_SECONDS)
    return list(answer)


def _find(listed: list[dict[str, Any]], name: str) -> str:
    """The id of the pair `name` means: its id, a unique start of it (4+), or host:port."""
    wanted = name.strip()
    exact = [p["id"] for p in listed if p["id"] == wanted]
    if exact:
        return str(exact[0])
    by_address = [p["id"] for p in listed if f"{p['ip']}:{p['port']}" == wanted]
    by_prefix = [p["id"] for p in listed if len(wanted) >= 4 and p["id"].startswith(wanted)]
    found = by_address or by_prefix
    if len(found) == 1:
        return str(found[0])
    if len(found) > 1:
        raise CliError(f"{name!r} matches {len(found)} pairs: give more of the id")
    raise CliError(f"No pair matches {name!r} (see `storycheck proxies list`)")


def _print_report(report: dict[str, Any]) -> None:
    mark = "ok  " if report["ok"] else ("-   " if report["result"] == "not_sent" else "FAIL")
    click.echo(f"{mark} {report['proxy']}  {report['summary']}  [{report['proxy_id']}]")
    for step in report["steps"]:
        status = STATUS_WORDS.get(step["status"], step["status"])
        click.echo(f"       {step['title']:<20} {status:<4} {step['detail']}")
