"""Story answers: live stories (pages, counts, the JSON export) and a profile's windows."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from storycheck.fields import Answer


class LiveStory(Answer):
    """An account whose story is live, with when it was posted and when it expires."""

    profile_id: str
    username: str
    niche_id: str | None
    niche_name: str | None
    posted_at: datetime | None
    first_posted_at: datetime | None
    expires_at: datetime | None
    expires_in_seconds: int
    item_count: int
    checked_at: datetime | None
    story_url: str


class LiveStoryPage(Answer):
    """A keyset page of live stories; `next_cursor` is null on the last page."""

    stories: list[LiveStory]
    next_cursor: str | None
    total: int
    total_is_estimate: bool = Field(description="true when `total` is estimated (over 10,000)")


class NicheLiveCount(Answer):
    """Live stories in one niche (`niche_id` null: accounts without a niche)."""

    niche_id: str | None
    name: str | None
    count: int
    checked_recently: bool = Field(
        description="Some account of the niche was checked within a story's lifetime (24 h)"
        " before `at`; false: a count of 0 says nothing about its stories (unknown)"
    )
    seen_recently: bool = Field(
        description="Some check of the niche within a story's lifetime before `at` could see"
        " whether the account had a story (a story, or a proven 'no story'); false: a count"
        " of 0 is unknown, even if accounts were checked (e.g. private ones no session follows)"
    )


class LiveCounts(Answer):
    """Live stories in all and per niche."""

    total: int
    checked_recently: bool = Field(description="Some niche was checked recently (see niches)")
    seen_recently: bool = Field(description="Some niche was seen recently (see niches)")
    niches: list[NicheLiveCount]


class LiveCoverage(Answer):
    """How much "who has a story now" knows: an empty list proves "no story" only for the
    accounts checked within a story's lifetime; the rest are unknown."""

    at: datetime
    window_hours: int = Field(description="A story lasts this long; an older check says nothing")
    profiles: int = Field(description="Accounts in scope (not deleted)")
    checked: int = Field(description="Accounts checked within `window_hours` before `at`")
    answered: int = Field(description="Of those, the ones whose check could see a story")
    private_unknown: int = Field(
        description="Of those, the ones whose latest check could not see (private, and no "
        "working checking session follows them): unknown"
    )
    not_checked: int = Field(description="Accounts never checked or checked too long ago: unknown")
    last_checked_at: datetime | None = Field(description="The newest check in scope")


class LiveStoriesDocument(Answer):
    """Every live story in one document (`live.json`)."""

    at: datetime | None
    coverage: LiveCoverage
    stories: list[LiveStory]
    count: int


class StoryWindow(Answer):
    """One story window of a profile: first and last item, expiry, when it was seen."""

    id: str
    first_taken_at: datetime | None
    last_taken_at: datetime | None
    expires_at: datetime | None
    item_count: int
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    batch_id: str | None
    live: bool


class StoryWindows(Answer):
    """A profile's story windows, newest first."""

    windows: list[StoryWindow]
