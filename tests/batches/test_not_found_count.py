"""Migration 0016: existing batches get their confirmed-missing count from their items, and an
item that one pair alone called missing becomes unknown (`transient`), as the engine records it
now (both databases)."""

from __future__ import annotations

from sqlalchemy import select, update

from storycheck.batches.models import Batch, BatchProfile
from storycheck.batches.state import BatchStateManager, counters_from_items
from storycheck.db import Database
from storycheck.engine.outcomes import NOT_FOUND_CONFIRMED, NOT_FOUND_UNCONFIRMED
from tests.factories import make_niche, make_profiles
from tests.helpers import migrate, revision_before


def test_the_migration_counts_confirmed_missing_accounts_and_unconfirms_the_rest(database_url):
    db = Database(database_url)
    try:
        niche = make_niche(db)
        batch = BatchStateManager(db).create_batch(
            niche_id=niche, profile_ids=make_profiles(db, niche, 4)
        )
        with db.write() as session:
            items = session.scalars(
                select(BatchProfile.id).where(BatchProfile.batch_id == batch.id)
            ).all()
            failures = [
                ("not_found", NOT_FOUND_CONFIRMED),
                ("not_found", NOT_FOUND_CONFIRMED),
                ("not_found", NOT_FOUND_UNCONFIRMED),  # stored so before this revision
                ("transient", "HTTP 500"),
            ]
            for item_id, (kind, error) in zip(items, failures, strict=True):
                session.execute(
                    update(BatchProfile)
                    .where(BatchProfile.id == item_id)
                    .values(status="failed", failure_kind=kind, error=error)
                )
        migrate(db, database_url, revision_before(database_url, "_batch_not_found_count.py"), down=True)
        migrate(db, database_url, "head")
        with db.read() as session:
            row = session.get(Batch, batch.id)
            assert row is not None and row.not_found_profiles == 2
            kinds = sorted(session.scalars(select(BatchProfile.failure_kind)).all())
            assert kinds == ["not_found", "not_found", "transient", "transient"]
            # What invariant I3 compares the counter with (the items) says the same.
            assert counters_from_items(session, batch.id)["not_found_profiles"] == 2
    finally:
        db.dispose()
