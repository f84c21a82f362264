"""`storycheck stories`, `storycheck batches` and `storycheck import`: reading and feeding data."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

import click
from rich.live import Live
from rich.table import Table

from storycheck.cli.client import ApiClient, ApiError, CliError, Target, connect, target_options
from storycheck.cli.lookup import find_niche, read_file, require_niche
from storycheck.cli.output import (
    STORY_COLUMNS,
    console,
    duration,
    print_csv,
    print_json,
    stories_table,
)

STORIES_PAGE = 500
WATCH_SECONDS = 1.0
# Without a terminal `--watch` prints a fresh table this often instead of redrawing one.
WATCH_PIPE_SECONDS = 5.0
_RELATIVE_SINCE = re.compile(r"^\d{1,6}[smhd]$")  # the API's spans: 90s, 30m, 2h, 1d


def _since(value: str | None) -> str | None:
    """Check `--since` here, so a typo is an error before anything is asked of the server."""
    if value is None:
        return None
    value = value.strip()
    if _RELATIVE_SINCE.match(value):
        return value
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"--since must be a duration like 30m, 2h or 1d, or an ISO-8601 time; not {value!r}"
        ) from None
    return value


# ---------------------------------------------------------------------------------- stories


@click.command()
@click.option("--niche", metavar="NAME", help="Only this niche (name, any case).")
@click.option("--since", metavar="WHEN", help="Posted within 30m / 2h / 1d, or since an ISO time.")
@click.option("--search", metavar="TEXT", help="Only usernames containing TEXT.")
@click.option(
    "--sort",
    type=click.Choice(["posted", "expires"]),
    default="posted",
    show_default=True,
    help="Newest post first, or the story expiring soonest first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@target_options
def stories(
    niche: str | None,
    since: str | None,
    search: str | None,
    sort: str,
    as_json: bool,
    as_csv: bool,
    server: str | None,
    token: str | None,
) -> None:
    """Who has a live story now, across all niches: posted when, expiring when, its link."""
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    since = _since(since)
    with connect(Target(server, token)) as client:
        niche_id = require_niche(client, niche)["id"] if niche else None
        rows = live_stories(client, niche_id=niche_id, since=since, search=search, sort=sort)
        known = None if as_json or as_csv else coverage(client, niche_id)
    if as_json:
        print_json(rows)
    elif as_csv:
        print_csv(rows, STORY_COLUMNS)
    elif not rows:
        click.echo(empty_answer(known, filtered=bool(since or search), niche=niche))
    else:
        title = f"{len(rows)} accounts with a live story now"
        console().print(stories_table(rows, title=title))
        if known is not None:
            click.echo(coverage_line(known))


def coverage(client: ApiClient, niche_id: str | None) -> dict[str, Any] | None:
    """How many accounts the live list speaks for (None from a server without the route)."""
    try:
        return dict(client.get("/api/stories/live/coverage", niche_id=niche_id))
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def _accounts(count: int) -> str:
    """'1 account', '2,400 accounts'."""
    return f"{count:,} account{'' if count == 1 else 's'}"


def coverage_line(known: dict[str, Any]) -> str:
    """One line such as: 2,400 of 3,000 accounts checked in the last 24 h; 600 not checked."""
    line = (
        f"{known['checked']:,} of {_accounts(known['profiles'])} checked in the last "
        f"{known['window_hours']} h"
    )
    unknown = _unknown(known)
    return f"{line}; {unknown}." if unknown else f"{line}."


def _unknown(known: dict[str, Any]) -> str:
    """Who an empty list cannot speak for: not checked lately, or private and not followed."""
    parts = []
    if known["not_checked"]:
        parts.append(f"{known['not_checked']:,} not checked in that time")
    hidden = int(known.get("private_unknown") or 0)
    if hidden:
        parts.append(f"{hidden:,} private that no checking session follows")
    return f"{' and '.join(parts)} (unknown)" if parts else ""


def empty_answer(known: dict[str, Any] | None, *, filtered: bool, niche: str | None = None) -> str:
    """An empty list, said truthfully: "no story" only for the accounts that answered."""
    if filtered:
        head = "No live story matches these filters."
        return head if known is None else f"{head} {coverage_line(known)}"
    if known is None:
        return "No live story found."
    if not known["profiles"]:
        return "No accounts yet: import some with `storycheck import NICHE FILE`."
    answered = int(known.get("answered", known["checked"]))
    if not answered:
        return (
            f"Nothing checked in the last {known['window_hours']} h could show a story: no one's"
            f" story is known yet ({_accounts(known['profiles'])}). Check them: "
            f"`storycheck check {niche or 'NICHE'}`."
        )
    answer = (
        f"No live story among the {_accounts(answered)} checked in the last "
        f"{known['window_hours']} h."
    )
    unknown = _unknown(known)
    return f"{answer} {unknown[0].upper()}{unknown[1:]}." if unknown else answer


def live_stories(
    client: ApiClient,
    *,
    niche_id: str | None = None,
    since: str | None = None,
    search: str | None = None,
    sort: str = "posted",
) -> list[dict[str, Any]]:
    """Every live story matching the filters, following the API's cursor to the end."""
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        try:
            body = client.get(
                "/api/stories/live",
                niche_id=niche_id,
                since=since,
                search=search,
                sort=sort,
                order="asc" if sort == "expires" else "desc",
                limit=STORIES_PAGE,
                cursor=cursor,
            )
        except ApiError as exc:
            if exc.status == 404:
                raise CliError(f"{client.where} has no live-stories API (an older server)") from exc
            raise
        rows.extend(body["stories"])
        cursor = body.get("next_cursor")
        if not cursor:
            return rows


# ---------------------------------------------------------------------------------- batches


@click.command()
@click.option("--watch", is_flag=True, help="Keep the table up to date until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@target_options
def batches(watch: bool, as_json: bool, server: str | None, token: str | None) -> None:
    """The batch queue: status, queue position, progress, stories found and ETA."""
    if watch and as_json:
        raise click.UsageError("--watch shows a table; leave out --json")
    with connect(Target(server, token)) as client:
        if as_json:
            print_json(client.get("/api/batches"))
        elif watch:
            _watch_batches(client)
        else:
            rows = client.get("/api/batches")
            if rows:
                console().print(batches_table(rows))
            else:
                click.echo("No batches.")


def eta_text(row: dict[str, Any]) -> str:
    """`25m 00s (23m 20s–35m 00s)`: the model's ETA and its range."""
    eta = duration(row.get("eta_seconds"))
    span = row.get("eta_range_seconds")
    if isinstance(span, list) and len(span) == 2 and span[0] != span[1]:
        return f"{eta} ({duration(span[0])}–{duration(span[1])})"
    return eta


def batches_table(rows: list[dict[str, Any]]) -> Table:
    """The queue as a table, in the API's order (running, queued, then newest)."""
    table = Table(
        title=f"Batches at {datetime.now():%H:%M:%S}",
        title_justify="left",
        caption="private (not followed) and failed accounts are unknown, not 'no story'",
        caption_justify="left",
    )
    for name, justify in (
        ("id", "left"),
        ("niche", "left"),
        ("status", "left"),
        ("pos", "right"),
        ("progress", "right"),
        ("stories", "right"),
        ("private", "right"),
        ("not found", "right"),
        ("failed", "right"),
        ("rate/min", "right"),
        ("ETA", "right"),
        ("why", "left"),
    ):
        table.add_column(
            name,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=name != "why",
            overflow="fold",
        )
    for row in rows:
        total = row["total_profiles"] or 0
        done = row["completed_profiles"] or 0
        percent = f"{done / total * 100:.0f}%" if total else "-"
        # `checks_failed` includes the accounts confirmed not to exist: an answer, shown apart.
        failed = int(row.get("checks_failed", row.get("failed_checks")) or 0)
        missing = int(row.get("not_found_profiles") or 0)
        table.add_row(
            row["id"],
            row["niche"]["name"],
            row["status"],
            "-" if row["queue_position"] is None else str(row["queue_position"]),
            f"{done}/{total} {percent}",
            str(row.get("stories_found", row.get("successful_checks", 0))),
            str(int(row.get("private_profiles") or 0)),
            str(missing),
            str(max(0, failed - missing)),
            str(row.get("rate_per_minute", 0)) if row["status"] == "in_progress" else "-",
            eta_text(row),
            row.get("waiting_reason") or row.get("eta_bound_by") or "",
        )
    return table


def _watch_batches(client: ApiClient) -> None:
    out = console()
    try:
        if out.is_terminal:
            with Live(batches_table(client.get("/api/batches")), console=out) as live:
                while True:
                    time.sleep(WATCH_SECONDS)
                    live.update(batches_table(client.get("/api/batches")))
        while True:
            out.print(batches_table(client.get("/api/batches")))
            out.file.flush()  # a pipe is block-buffered: each table must show when printed
            time.sleep(WATCH_PIPE_SECONDS)
    except KeyboardInterrupt:
        return  # Ctrl-C is how a watch ends


# ---------------------------------------------------------------------------------- import


@click.command("import")
@click.argument("niche")
@click.argument("file", metavar="FILE")
@target_options
def import_profiles(niche: str, file: str, server: str | None, token: str | None) -> None:
    """Import usernames or profile URLs from FILE into NICHE (any case; created if missing)."""
    raw = read_file(file)
    if not raw.strip():
        raise CliError(f"{file} contains no usernames (it is empty or only has blank lines)")
    with connect(Target(server, token), create_database=True) as client:
        existing = find_niche(client, niche)
        target = existing or dict(client.post("/api/niches", {"name": niche.strip()}))
        report = client.post(
            f"/api/profiles/niches/{target['id']}/import",
            content=raw,
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
    created = "" if existing else f" (new niche {target['name']!r})"
    click.echo(
        f"{report['created_count']} created, {report['duplicate_count']} duplicates, "
        f"{report['invalid_format_count']} invalid, {report['total']} lines{created}"
    )
    for error in report["errors"][:50]:
        click.echo(f"  line {error.get('line_number', '?')}: {error['line']}: {error['error']}")
    if report["error_count"] > 50:
        click.echo(f"  … and {report['error_count'] - 50} more")
