"""Units of the CLI's display: durations, relative times, the rate meter, progress lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storycheck.cli.output import ago, duration, expires_in, parse_time
from storycheck.cli.watch import Figures, RateMeter, line_interval


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "-"), (0, "0s"), (59.4, "59s"), (61, "1m 01s"), (3600, "1h 00m"), (200_000, "2d 7h")],
)
def test_duration(seconds, shown):
    assert duration(seconds) == shown


def test_times_relative_to_now():
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert ago("2026-12-01T09:55:00+00:00", now) == "2h 05m ago"
    assert ago("2026-12-01T11:59:30Z", now) == "30s ago"
    assert expires_in((now + timedelta(minutes=90)).isoformat(), now) == "in 1h 30m"
    assert expires_in("2026-12-01T11:00:00+00:00", now) == "expired"
    assert ago(None, now) == "-" and expires_in("", now) == "-"
    # A time without an offset is UTC, as the API writes it.
    assert parse_time("2026-12-01T12:00:00") == now


def test_rate_meter_measures_the_recent_window_and_restarts_on_a_rerun():
    meter = RateMeter(window=10.0)
    assert meter.add(100.0, 0) is None  # one sample: no rate yet
    assert meter.add(102.0, 20) == pytest.approx(10.0)
    meter.add(110.0, 100)
    # Old samples leave the window: the rate follows the last 10 s, not the average.
    assert meter.add(120.0, 400) == pytest.approx((400 - 100) / (120 - 110))
    assert meter.average(120.0, 400) == pytest.approx(20.0)
    assert meter.add(121.0, 5) is None  # the batch was re-run from scratch


def test_progress_line_and_its_interval():
    figures = Figures(
        status="in_progress",
        position=0,
        total=300,
        completed=120,
        stories=40,
        failed=2,
        rate=12.0,
        eta=15.0,
    )
    assert figures.line().endswith("checking: 120/300 (40%) · 12.0/s · ETA 15s · 40 stories · 2 failed")
    queued = Figures("queued", 3, 10, 0, 0, 0, None, None)
    assert "queued #3: 0/10 (0%) · - · ETA - ·" in queued.line()
    assert line_interval(0) == 2.0
    assert line_interval(100) == 10.0
    assert line_interval(3600) == 30.0


def test_the_server_model_gives_the_eta_and_the_waiting_reason():
    from storycheck.cli.commands import eta_text
    from storycheck.cli.watch import figures

    batch = {
        "status": "in_progress", "total_profiles": 100, "completed_profiles": 10,
        "eta_seconds": 1500, "eta_range_seconds": [1400, 2100],
        "waiting_reason": "lookup budget exhausted until 14:20 UTC (in 18 min): 90 new accounts "
                          "need a username lookup",
    }
    shown = figures(batch, RateMeter())
    assert shown.eta == 1500  # the model's, not one measured in the first seconds
    assert shown.line().endswith(" · waiting: " + batch["waiting_reason"])
    assert eta_text(batch) == "25m 00s (23m 20s–35m 00s)"
    assert eta_text({"eta_seconds": None, "eta_range_seconds": None}) == "-"
    # An older server without the model: the ETA comes from the measured rate.
    assert figures({"status": "in_progress", "total_profiles": 10}, RateMeter()).eta is None


def test_the_batches_table_says_private_and_failed_apart_from_no_story():
    from rich.console import Console

    from storycheck.cli.commands import batches_table

    row = {
        "id": "b1",
        "niche": {"name": "Fitness"},
        "status": "done",
        "queue_position": None,
        "total_profiles": 600,
        "completed_profiles": 600,
        "stories_found": 137,
        "private_profiles": 64,
        "not_found_profiles": 39,
        "checks_failed": 41,
    }
    console = Console(width=200, record=True)
    console.print(batches_table([row]))
    text = console.export_text()
    header = next(line for line in text.splitlines() if "stories" in line)
    cells = next(line for line in text.splitlines() if "Fitness" in line)
    names = [c.strip() for c in header.strip()[1:-1].split("┃")]
    values = [c.strip() for c in cells.strip()[1:-1].split("│")]
    shown = dict(zip(names, values, strict=True))
    assert (shown["stories"], shown["private"], shown["not found"], shown["failed"]) == (
        "137",
        "64",
        "39",
        "2",
    )
    assert "unknown, not 'no story'" in text
