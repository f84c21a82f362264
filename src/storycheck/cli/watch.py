"""Follow a batch until it is done: a live rich progress bar, or periodic plain lines.

The bar (on a terminal) shows checked/total, percent, rate, ETA, stories found, failures and
why the batch waits (the server's `waiting_reason`); without a terminal the same figures go out
as one line every 2 s (growing to 30 s on long batches) and at every status change, so logs and
CI output stay readable. The ETA is the server's (`eta_seconds`, from the pool model); only a
server that does not send `eta_range_seconds` gets one measured from the recent rate.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn

from storycheck.cli.client import ApiClient, ApiError, CliError
from storycheck.cli.output import console, duration

POLL_SECONDS = 0.5
# Plain lines come every LINE_SECONDS at first, then further apart (a tenth of the time spent,
# at most LINE_SECONDS_MAX): a long batch does not flood a log.
LINE_SECONDS = 2.0
LINE_SECONDS_MAX = 30.0
# The rate is measured over the last RATE_WINDOW seconds of progress.
RATE_WINDOW = 20.0


@dataclass
class Figures:
    """What the display shows about a batch at one moment."""

    status: str
    position: int | None
    total: int
    completed: int
    stories: int
    failed: int  # checks that could not be made (unknown)
    rate: float | None  # checks per second
    eta: float | None  # seconds
    waiting: str | None = None  # why it is not moving (the server's words)
    not_found: int = 0  # accounts two pairs confirmed do not exist (an answer, not a failure)

    @property
    def missing(self) -> str:
        """`38 not found`, or nothing while there are none."""
        return f"{self.not_found} not found" if self.not_found else ""

    @property
    def label(self) -> str:
        """`queued #2`, `checking`, `paused`, `done`."""
        if self.status == "queued":
            return f"queued #{self.position}" if self.position else "queued"
        return {"in_progress": "checking"}.get(self.status, self.status)

    def line(self) -> str:
        """The plain-text form of the figures."""
        percent = self.completed / self.total * 100 if self.total else 100.0
        rate = "-" if self.rate is None else f"{self.rate:.1f}/s"
        return (
            f"{datetime.now():%H:%M:%S} {self.label}: {self.completed}/{self.total} "
            f"({percent:.0f}%) · {rate} · ETA {duration(self.eta)} · "
            f"{self.stories} stories · "
            + (f"{self.missing} · " if self.missing else "")
            + f"{self.failed} failed"
            + (f" · waiting: {self.waiting}" if self.waiting else "")
        )


@dataclass
class RateMeter:
    """Checks per second over a sliding window of (time, completed) samples."""

    window: float = RATE_WINDOW
    samples: deque[tuple[float, int]] = field(default_factory=deque)
    first: tuple[float, int] | None = None  # the first sample while running

    def average(self, now: float, completed: int) -> float | None:
        """Checks per second since the first running sample (the figure a finished batch shows)."""
        if self.first is None or now - self.first[0] < 0.5 or completed <= self.first[1]:
            return None
        return (completed - self.first[1]) / (now - self.first[0])

    def add(self, now: float, completed: int) -> float | None:
        """Record a sample; return the rate (None until two samples span some time)."""
        if self.samples and completed < self.samples[-1][1]:
            self.samples.clear()  # the batch was re-run from scratch
            self.first = None
        if self.first is None:
            self.first = (now, completed)
        self.samples.append((now, completed))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.window:
            self.samples.popleft()
        first_time, first_done = self.samples[0]
        if now - first_time < 0.5:
            return None
        return (completed - first_done) / (now - first_time)


def figures(batch: dict[str, Any], meter: RateMeter) -> Figures:
    """The display figures of a batch payload."""
    total = int(batch.get("total_profiles") or 0)
    completed = int(batch.get("completed_profiles") or 0)
    failed = int(batch.get("checks_failed") or batch.get("failed_checks") or 0)
    not_found = int(batch.get("not_found_profiles") or 0)
    now = time.monotonic()
    if batch.get("status") == "in_progress":
        rate = meter.add(now, completed)
        if "eta_range_seconds" in batch:  # the server's model
            eta = batch.get("eta_seconds")
        else:
            eta = (total - completed) / rate if rate else None
    else:
        rate = meter.average(now, completed) if batch.get("status") == "done" else None
        eta = None
    return Figures(
        status=str(batch.get("status")),
        position=batch.get("queue_position"),
        total=total,
        completed=completed,
        stories=int(batch.get("stories_found") or 0),
        failed=max(0, failed - not_found),
        rate=rate,
        eta=eta,
        waiting=batch.get("waiting_reason"),
        not_found=not_found,
    )


def wait_done(
    client: ApiClient,
    batch_id: str,
    *,
    display: str,
    to_stderr: bool,
) -> dict[str, Any]:
    """Poll the batch until it is done and return its last payload.

    `display` is "bar" (rich, for a terminal), "lines" (plain periodic lines) or "none";
    it goes to stderr when stdout carries data (`--json`, `--csv`). A batch paused or deleted
    by someone else ends the wait with a `CliError`.
    """
    meter = RateMeter()
    if display == "bar":
        return _with_bar(client, batch_id, meter, to_stderr)
    stream = sys.stderr if to_stderr else sys.stdout
    started = time.monotonic()
    last_line = 0.0
    last_label = ""
    while True:
        batch = _fetch(client, batch_id)
        shown = figures(batch, meter)
        now = time.monotonic()
        changed = shown.label != last_label
        if display == "lines" and (changed or now - last_line >= line_interval(now - started)):
            stream.write(shown.line() + "\n")
            stream.flush()
            last_line, last_label = now, shown.label
        if _finished(batch, shown):
            return batch
        time.sleep(POLL_SECONDS)


def line_interval(elapsed: float) -> float:
    """Seconds between plain progress lines after `elapsed` seconds of watching."""
    return min(LINE_SECONDS_MAX, max(LINE_SECONDS, elapsed / 10))


def _with_bar(
    client: ApiClient, batch_id: str, meter: RateMeter, to_stderr: bool
) -> dict[str, Any]:
    bar_console = console(stderr=to_stderr)
    progress = Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]:>9}"),
        TextColumn("ETA {task.fields[eta]:>8}"),
        TextColumn("[green]{task.fields[stories]} stories"),
        TextColumn("{task.fields[missing]}"),
        TextColumn("[red]{task.fields[failed]} failed"),
        TextColumn("[yellow]{task.fields[waiting]}"),
        console=bar_console,
    )
    with progress:
        task = progress.add_task(
            "starting", total=None, rate="-", eta="-", stories=0, missing="", failed=0, waiting=""
        )
        while True:
            batch = _fetch(client, batch_id)
            shown = figures(batch, meter)
            progress.update(
                task,
                description=shown.label,
                total=shown.total or None,
                completed=shown.completed,
                rate="-" if shown.rate is None else f"{shown.rate:.1f}/s",
                eta=duration(shown.eta),
                stories=shown.stories,
                missing=shown.missing,
                failed=shown.failed,
                waiting=shown.waiting or "",
            )
            if _finished(batch, shown):
                return batch
            time.sleep(POLL_SECONDS)


def _fetch(client: ApiClient, batch_id: str) -> dict[str, Any]:
    try:
        batch = client.get(f"/api/batches/{batch_id}", items_limit=0)
    except ApiError as exc:
        if exc.status == 404:
            raise CliError(f"Batch {batch_id} was deleted while it ran") from exc
        raise
    return dict(batch)


def _finished(batch: dict[str, Any], shown: Figures) -> bool:
    if shown.status == "paused":
        raise CliError(
            f"Batch {batch['id']} was paused at {shown.completed}/{shown.total} "
            "(from the web UI or another client)"
        )
    return shown.status == "done"
