"""The daily-target auto-trigger creates batches only when a niche is due."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from storycheck.batches.models import Batch
from storycheck.db import new_id, utcnow
from storycheck.niches.autotrigger import AutoTrigger
from storycheck.profiles.models import Profile
from storycheck.stories.models import StoryResult
from tests.factories import make_niche, make_profiles, set_settings


def _trigger(services):
    return AutoTrigger(services.db, services.state)


def test_disabled_by_default_creates_nothing(services):
    niche = make_niche(services.db)
    make_profiles(services.db, niche, 5)
    assert _trigger(services).tick() == []


def test_niche_under_target_gets_a_batch_of_likely_accounts(services):
    db = services.db
    set_settings(db, auto_trigger_enabled=True, default_batch_size=3)
    niche = make_niche(db, daily_story_target=2)
    ids = make_profiles(db, niche, 6)
    recent = utcnow() - timedelta(minutes=5)
    with db.write() as session:
        # A frequent poster, a never-poster, and one checked a moment ago (skipped).
        session.execute(update(Profile).where(Profile.id == ids[0]).values(
            total_checks=10, total_detections=9, last_checked=utcnow() - timedelta(hours=2)))
        session.execute(update(Profile).where(Profile.id == ids[1]).values(
            total_checks=10, total_detections=0, last_checked=utcnow() - timedelta(hours=2)))
        session.execute(update(Profile).where(Profile.id == ids[2]).values(
            total_checks=10, total_detections=10, last_checked=recent))
    created = _trigger(services).tick()
    assert len(created) == 1
    detail = services.state.running_batch_ids()
    assert detail == created
    with db.read() as session:
        batch = session.get(Batch, created[0])
        assert batch.total_profiles == 3 and batch.niche_id == niche
    from storycheck.batches.models import BatchProfile

    with db.read() as session:
        chosen = set(session.scalars(
            select(BatchProfile.profile_id).where(BatchProfile.batch_id == created[0])))
    assert ids[0] in chosen and ids[2] not in chosen and ids[1] not in chosen
    # The niche is busy now, and a second tick within the interval creates nothing.
    assert _trigger(services).tick() == []


def test_niche_at_target_is_left_alone(services):
    db = services.db
    set_settings(db, auto_trigger_enabled=True)
    niche = make_niche(db, daily_story_target=1)
    ids = make_profiles(db, niche, 2)
    with db.write() as session:
        session.add(StoryResult(id=new_id(), profile_id=ids[0], detected_at=utcnow(),
                                expires_at=utcnow() + timedelta(hours=24)))
    assert _trigger(services).tick() == []
