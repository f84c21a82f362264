"""Run the check engine without the web server: `python -m storycheck.engine.run_standalone`.

Opens the database, migrates it, builds the worker pool and the batch state manager with the
app factory's `build_runtime`, reconciles at start (returning every lease of a previous process)
and then every second, until no batch is queued or running (`--until-idle`) or forever.
Configuration comes from the environment (`STORYCHECK_DATABASE_URL`,
`STORYCHECK_INSTAGRAM_URL`, `STORYCHECK_SECRET_KEY`, `STORYCHECK_ENGINE_*`). The crash
tests kill -9 this process at random moments.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from sqlalchemy import func, select

from storycheck.batches.models import Batch, BatchStatus
from storycheck.config import Config
from storycheck.db import Database
from storycheck.periodic import Periodic
from storycheck.runtime import build_runtime


def _open_batches(db: Database) -> int:
    with db.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Batch)
                .where(Batch.status.in_((BatchStatus.QUEUED.value, BatchStatus.IN_PROGRESS.value)))
            )
            or 0
        )


def main(argv: list[str] | None = None) -> int:
    """Run until idle (or a signal) and stop gracefully."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--until-idle", action="store_true", help="exit when no batch is open")
    parser.add_argument("--interval", type=float, default=1.0, help="reconcile every N seconds")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    runtime = build_runtime(Config.from_env())
    runtime.start()
    runtime.state.reconcile(release_all_leases=True)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    def reconcile() -> None:
        runtime.state.reconcile()
        if args.until_idle and _open_batches(runtime.db) == 0:
            stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ticker = Periodic("reconcile").every(args.interval, reconcile, what="reconcile").start()
    print("engine ready", flush=True)
    stop.wait()
    ticker.stop()
    runtime.stop(timeout=5.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
