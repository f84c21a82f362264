"""Run the check engine without the web server: `python -m storycheck.engine.run_standalone`.

Opens the database, migrates it, builds the worker pool and the batch state manager exactly
as the app factory does, reconciles at start (returning every lease of a previous process)
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
from storycheck.batches.state import BatchStateManager
from storycheck.config import Config
from storycheck.db import Database
from storycheck.engine.pool import WorkerPool
from storycheck.keys import open_secret_box
from storycheck.migrate import upgrade


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

    config = Config.from_env()
    db = Database(config.database_url)
    upgrade(db.engine)
    secrets = open_secret_box(config, db)
    pool = WorkerPool(db=db, config=config, secrets=secrets)
    state = BatchStateManager(db, pool)
    pool.attach(state)
    pool.start()
    state.reconcile(release_all_leases=True)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print("engine ready", flush=True)
    while not stop.wait(args.interval):
        state.reconcile()
        if args.until_idle and _open_batches(db) == 0:
            break
    pool.stop(timeout=5.0)
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
