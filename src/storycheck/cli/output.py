"""How the CLI prints: rich tables for people, JSON and CSV for scripts, human times."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

# Columns of `stories` (and of `check`'s story list) in CSV and tables, in this order.
STORY_COLUMNS = (
    "username",
    "niche_name",
    "posted_at",
    "expires_at",
    "item_count",
    "checked_at",
    "story_url",
)
# Piped output is not wrapped at 80 columns: a table row stays one line for grep and friends.
PIPE_WIDTH = 160


def console(*, stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr); wide and colourless when not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(file=stream)
    return Console(file=stream, width=PIPE_WIDTH, color_system=None, soft_wrap=False)


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 string from the API as an aware datetime (None stays None)."""
    if not isinstance(value, str) or not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def duration(seconds: float | None) -> str:
    """A short duration: `45s`, `12m 05s`, `3h 20m`, `2d 4h` (`-` when unknown)."""
    if seconds is None:
        return "-"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def ago(value: Any, now: datetime) -> str:
    """How long before `now` an API time was (`3h 05m ago`)."""
    moment = parse_time(value)
    return "-" if moment is None else f"{duration((now - moment).total_seconds())} ago"


def expires_in(value: Any, now: datetime) -> str:
    """How long until an API time (`in 2h 10m`, or `expired`)."""
    moment = parse_time(value)
    if moment is None:
        return "-"
    left = (moment - now).total_seconds()
    return "expired" if left <= 0 else f"in {duration(left)}"


def print_json(data: Any) -> None:
    """Pretty JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def print_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> None:
    """CSV with a header line on stdout; missing fields are empty."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])


def stories_table(stories: Sequence[dict[str, Any]], *, title: str) -> Table:
    """A table of accounts with a live story: who, niche, posted, expires, items, link."""
    now = datetime.now(UTC)
    table = Table(title=title, title_justify="left")
    table.add_column("account", no_wrap=True)
    table.add_column("niche", no_wrap=True)
    table.add_column("posted", justify="right", no_wrap=True)
    table.add_column("expires", justify="right", no_wrap=True)
    table.add_column("items", justify="right")
    table.add_column("story", no_wrap=True)
    for story in stories:
        table.add_row(
            str(story.get("username", "")),
            str(story.get("niche_name") or ""),
            ago(story.get("posted_at"), now),
            expires_in(story.get("expires_at"), now),
            "" if story.get("item_count") is None else str(story["item_count"]),
            str(story.get("story_url") or ""),
        )
    return table


def story_url(username: str) -> str:
    """The public link that opens an account's story."""
    return f"https://www.instagram.com/stories/{username}/"
