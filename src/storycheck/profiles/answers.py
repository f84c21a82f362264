"""What storycheck can say about one account's story right now: the story answer.

One definition, used by the profile object (`story_answer`) and by the list filter
(`?story=`), so a row and the filter that finds it never disagree:

* `live` — its latest story window has not expired;
* `not_found` — Instagram confirmed there is no such account;
* `unknown` — nobody knows: never checked, last checked longer ago than a story lives, or
  private and followed by no checking session (Instagram shows such a story to nobody we ask);
* `none` — checked within a story's lifetime, and the check could see: no live story.

"No story" is only ever said of `none`; everything the checks could not see is `unknown`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, and_, false, or_, true

from storycheck.profiles.models import Profile
from storycheck.stories.windows import STORY_LIFETIME_SECONDS

STORY_ANSWERS: Final = ("live", "none", "unknown", "not_found")
# Why an `unknown` answer is unknown (the profile object's `story_unknown_reason`).
UNKNOWN_REASONS: Final = ("not_checked", "stale", "private")


def _cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=STORY_LIFETIME_SECONDS)


def story_answer(profile: Profile, now: datetime) -> tuple[str, str | None]:
    """The account's story answer at `now` and, for `unknown`, the reason."""
    if profile.story_expires_at is not None and now < profile.story_expires_at:
        return "live", None
    if profile.not_found:
        return "not_found", None
    if profile.is_private and profile.followed_by_session_id is None:
        return "unknown", "private"
    if profile.last_checked is None:
        return "unknown", "not_checked"
    if profile.last_checked < _cutoff(now):
        return "unknown", "stale"
    return "none", None


def story_answer_condition(answer: str, now: datetime) -> ColumnElement[bool]:
    """The SQL condition of the profiles whose `story_answer` at `now` is `answer`."""
    live = and_(Profile.story_expires_at.is_not(None), Profile.story_expires_at > now)
    if answer == "live":
        return live
    found = or_(Profile.not_found.is_(None), Profile.not_found == false())
    if answer == "not_found":
        return and_(~live, Profile.not_found == true())
    # Every term below is TRUE or FALSE, never NULL, so `~` is a plain complement.
    hidden = and_(
        Profile.is_private.is_not(None),
        Profile.is_private == true(),
        Profile.followed_by_session_id.is_(None),
    )
    fresh = and_(Profile.last_checked.is_not(None), Profile.last_checked >= _cutoff(now))
    if answer == "none":
        return and_(~live, found, ~hidden, fresh)
    if answer == "unknown":
        return and_(~live, found, or_(hidden, ~fresh))
    raise ValueError(f"unknown story answer {answer!r}")
