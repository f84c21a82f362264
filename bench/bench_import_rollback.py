"""CPU of one 100,000-line import into a new niche of an existing database, rolled back.

Each round imports `--lines` new usernames in random order through `importer.import_profiles`
in one session and rolls it back, so the database is the same for every round and for every
code version compared on it (BENCHMARKS.md, "Import, third pass"). Usage:

    PYTHONPATH=src:. .venv/bin/python bench/bench_import_rollback.py sqlite:////path/to/m1.db --rounds 2
"""

from __future__ import annotations

import argparse
import random
import time

from storycheck.db import Database, new_id
from storycheck.niches.models import Niche
from storycheck.profiles import importer


def one_round(db: Database, lines: int, niche_id: str = "") -> float:
    """Import `lines` new shuffled usernames, roll back, return this process's CPU seconds."""
    run_id = random.randrange(10**6)
    names = [f"import{run_id}.user_{i:07d}" for i in range(lines)]
    random.Random(run_id).shuffle(names)
    raw = "\n".join(names).encode()
    with db.read() as session:
        niche = Niche(id=niche_id or new_id(), name=f"bench-import-{run_id}", order=0)
        session.add(niche)
        session.flush()
        start = time.process_time()
        report = importer.import_profiles(session, niche_id=niche.id, raw=raw)
        session.flush()
        spent = time.process_time() - start
        assert report.created_count == lines, report.to_dict()["errors"][:3]
        session.rollback()
    return spent


def main() -> None:
    """Parse arguments and print one CPU time per round."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database_url")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--niche-id", default="", help="the new niche's id (default: a new one)")
    args = parser.parse_args()
    db = Database(args.database_url)
    for number in range(1, args.rounds + 1):
        spent = one_round(db, args.lines, args.niche_id)
        print(f"round {number}: {spent:.2f} s CPU", flush=True)


if __name__ == "__main__":
    main()
