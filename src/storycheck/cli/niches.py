"""`storycheck niches`: each niche's answer at a glance — live stories now, and how much of the
niche that count can speak for (checked lately, unknown), against its daily target."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from rich.table import Table

from storycheck.cli.client import ApiClient, Target, connect, target_options
from storycheck.cli.commands import coverage
from storycheck.cli.output import console, print_json


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@target_options
def niches(as_json: bool, server: str | None, token: str | None) -> None:
    """Every niche: accounts, live stories now, checked in 24 h, unknown, today vs target."""
    with connect(Target(server, token)) as client:
        rows = niche_answers(client)
    if as_json:
        print_json(rows)
    elif not rows:
        click.echo("No niches yet: `storycheck import NICHE FILE` creates one.")
    else:
        console().print(niches_table(rows))


def niche_answers(client: ApiClient) -> list[dict[str, Any]]:
    """One row per niche (in the sidebar's order), then one for all niches together.

    `live_now` is None where no check within a story's lifetime could see a story (nothing
    checked lately, or only private accounts no session follows): that zero is unknown.
    `checked_recently` and `unknown` are None from a server without the coverage route.
    """
    live = client.get("/api/stories/live/counts")
    live_by_niche = {entry["niche_id"]: entry for entry in live["niches"]}
    today = {entry["id"]: entry for entry in client.get("/api/dashboard")["niches"]}
    rows = []
    for niche in client.get("/api/niches"):
        counts = live_by_niche.get(niche["id"], {})
        rows.append(
            _row(
                niche["name"],
                accounts=int(niche.get("profile_count") or 0),
                live=counts,
                known=coverage(client, niche["id"]),
                stories_today=today.get(niche["id"], {}).get("stories_today"),
                target=niche.get("daily_story_target"),
            )
        )
    if rows:
        known = coverage(client, None)
        accounts = known["profiles"] if known else sum(row["accounts"] for row in rows)
        rows.append(
            _row(None, accounts=accounts, live=live, known=known, stories_today=None, target=None)
        )
    return rows


def _row(
    name: str | None,
    *,
    accounts: int,
    live: dict[str, Any],
    known: dict[str, Any] | None,
    stories_today: int | None,
    target: int | None,
) -> dict[str, Any]:
    """A table row; `name` None is the all-niches total."""
    seen = bool(live.get("seen_recently", live.get("checked_recently")))
    count = live.get("total" if name is None else "count", 0)
    unknown = None
    if known is not None:
        unknown = int(known["not_checked"]) + int(known.get("private_unknown") or 0)
    return {
        "niche": name,
        "accounts": accounts,
        "live_now": int(count) if seen or count else None,
        "checked_recently": None if known is None else int(known["checked"]),
        "unknown": unknown,
        "stories_today": stories_today,
        "daily_story_target": target,
    }


def _number(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def niches_table(rows: list[dict[str, Any]]) -> Table:
    """The niches as a table; the last row is every niche together."""
    table = Table(
        title=f"Niches at {datetime.now():%H:%M:%S}",
        title_justify="left",
        caption=(
            "live now '—': no check in the last 24 h could see a story there (unknown, not 0);"
            " unknown: not checked in 24 h, or private that no checking session follows"
        ),
        caption_justify="left",
    )
    table.add_column("niche", overflow="fold")
    for name in ("accounts", "live now", "checked in 24 h", "unknown", "today / target"):
        table.add_column(name, justify="right", no_wrap=True)
    for row in rows:
        total = row["niche"] is None
        if total:
            table.add_section()
        target = row["daily_story_target"]
        table.add_row(
            "all niches" if total else row["niche"],
            _number(row["accounts"]),
            "—" if row["live_now"] is None else f"{row['live_now']:,}",
            _number(row["checked_recently"]),
            _number(row["unknown"]),
            "" if total or target is None else f"{row['stories_today'] or 0} / {target}",
            style="bold" if total else None,
        )
    return table


__all__ = ["niche_answers", "niches", "niches_table"]
