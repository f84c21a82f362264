"""What storycheck can say about one account's story right now: the story answer.

One definition, used by the profile object (`story_answer`), the list filter (`?story=`) and
the live list's coverage (`stories.service.live_coverage`), so a row, the filter that finds it
and the counts never disagree:

* `live` — its latest story window has not expired;
* `not_found` — Instagram confirmed there is no such account;
* `unknown` — nobody knows now: never checked (`not_checked`), last checked longer ago than a
  story lives (`stale`), or its latest check could not see (`private`: a private account that
  no usable checking session follows — Instagram shows such a story to nobody we ask;
  `unseen`: any other check that saw no story, such as "no such user" on an account whose
  not-found flag was cleared by hand since);
* `none` — checked within a story's lifetime by a check that could see: no live story.

"No story" is only ever said of `none`. Whether the latest check could see is stored, not
inferred: `story_seen_at` is the time of the last check that could (the engine's recorder sets
it with `last_checked` for a story or a completed "no story", not for a private answer), so
a follower session that stopped working cannot turn an unseen check into "no story".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, and_, false, or_, true

from storycheck.engine.answers import STORY_LIFETIME_SECONDS
from storycheck.profiles.models import Profile

STORY_ANSWERS: Final = ("live", "none", "unknown", "not_found")
# Why an `unknown` answer is unknown (the profile object's `story_unknown_reason`).
UNKNOWN_REASONS: Final = ("not_checked", "stale", "private", "unseen")


def story_cutoff(now: datetime) -> datetime:
    """The oldest check that still speaks for `now` (a story lives 24 hours)."""
    return now - timedelta(seconds=STORY_LIFETIME_SECONDS)


def story_answer(profile: Profile, now: datetime) -> tuple[str, str | None]:
    """The account's story answer at `now` and, for `unknown`, the reason."""
    if profile.story_expires_at is not None and now < profile.story_expires_at:
        return "live", None
    if profile.not_found:
        return "not_found", None
    checked, seen = profile.last_checked, profile.story_seen_at
    if checked is None:
        return "unknown", "not_checked"
    if checked < story_cutoff(now):
        return "unknown", "stale"
    if seen is None or seen < checked:
        return "unknown", "private" if profile.is_private else "unseen"
    return "none", None


def unseen() -> ColumnElement[bool]:
    """Checked and found, but the latest check could not see (the partial index
    `ix_profiles_niche_unseen_checked` has exactly this condition)."""
    return and_(
        Profile.last_checked.is_not(None),
        Profile.not_found == false(),
        or_(Profile.story_seen_at.is_(None), Profile.story_seen_at < Profile.last_checked),
    )


def story_answer_condition(answer: str, now: datetime) -> ColumnElement[bool]:
    """The SQL condition of the profiles whose `story_answer` at `now` is `answer`."""
    # Every term is TRUE or FALSE, never NULL, so `~` is a plain complement.
    live = and_(Profile.story_expires_at.is_not(None), Profile.story_expires_at > now)
    if answer == "live":
        return live
    if answer == "not_found":
        return and_(~live, Profile.not_found == true())
    fresh = and_(Profile.last_checked.is_not(None), Profile.last_checked >= story_cutoff(now))
    found = Profile.not_found == false()
    if answer == "none":
        return and_(~live, found, fresh, ~unseen())
    if answer == "unknown":
        return and_(~live, found, or_(~fresh, unseen()))
    raise ValueError(f"unknown story answer {answer!r}")
