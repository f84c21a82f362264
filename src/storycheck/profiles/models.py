"""Profile: one Instagram account we check for stories."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storycheck.db import Base, new_id, partial, utcnow

# `inactive` is what the original client sends for "deactivate"; the others come from the
# original server.
PROFILE_STATUSES = ("active", "inactive", "deleted", "suspended")


def username_key(username: str) -> str:
    """Normalise a username for duplicate detection: lower case, `.` read as `_`."""
    return username.lower().replace(".", "_")


# The list pages of a niche walk one of these (niche_id, sort column, username_key, status)
# indexes in order: `username_key` is unique, so it is the tie-breaker of every sort, and the
# trailing `status` lets the status filter be checked in the index. Migration 0010 adds the
# same shape for the computed detection rate (an expression index, `ix_profiles_niche_rate`).
NICHE_SORT_INDEXES: dict[str, tuple[str, ...]] = {
    "ix_profiles_niche_username": ("username_key", "status"),
    "ix_profiles_niche_status_key": ("status", "username_key"),
    "ix_profiles_niche_last_checked": ("last_checked", "username_key", "status"),
    "ix_profiles_niche_last_detected": ("last_detected", "username_key", "status"),
    "ix_profiles_niche_total_checks": ("total_checks", "username_key", "status"),
    "ix_profiles_niche_total_detections": ("total_detections", "username_key", "status"),
    "ix_profiles_niche_active_story": ("active_story", "username_key", "status"),
    "ix_profiles_niche_created_at": ("created_at", "username_key", "status"),
    "ix_profiles_niche_updated_at": ("updated_at", "username_key", "status"),
}


# Checked, found, and the latest check could not see whether a story was up (its time is
# after the last check that could). Written as `profiles.answers.unseen` compiles.
UNSEEN_SQLITE = (
    "last_checked IS NOT NULL AND not_found = 0 "
    "AND (story_seen_at IS NULL OR story_seen_at < last_checked)"
)
UNSEEN_POSTGRESQL = UNSEEN_SQLITE.replace("not_found = 0", "not_found = false")

# Partial-index condition of the story indexes: only accounts with a story window.
_WITH_STORY = partial("story_posted_at IS NOT NULL")


class Profile(Base):
    """An Instagram account; its user id is resolved once and cached."""

    __tablename__ = "profiles"
    __table_args__ = (
        CheckConstraint(
            "status IN ('active', 'inactive', 'deleted', 'suspended')", name="status_valid"
        ),
        # One index per sortable column behind the niche filter (see NICHE_SORT_INDEXES).
        *(Index(name, "niche_id", *columns) for name, columns in NICHE_SORT_INDEXES.items()),
        # A niche's live stories, newest post or soonest expiry first (stories.service). The
        # story indexes hold only accounts with a story window (migration 0014): an import,
        # whose new rows have none, does not write to them, and every live-story query carries
        # the `story_posted_at IS NOT NULL` term that lets it use them.
        Index(
            "ix_profiles_niche_story_posted",
            "niche_id",
            "story_posted_at",
            "id",
            "story_expires_at",
            "status",
            **_WITH_STORY,
        ),
        # Accounts whose latest check could not see their story (private, and no usable
        # session follows them), by last check: the answers of "Stories now" that are unknown
        # (stories.service.live_coverage, profiles.answers; migration 0018).
        Index(
            "ix_profiles_niche_unseen_checked",
            "niche_id",
            "last_checked",
            "status",
            **partial(UNSEEN_SQLITE, UNSEEN_POSTGRESQL),
        ),
        Index(
            "ix_profiles_niche_story_expires",
            "niche_id",
            "story_expires_at",
            "id",
            "story_posted_at",
            "status",
            **_WITH_STORY,
        ),
        # All niches: live stories by posting time or expiry (a range on `story_expires_at`
        # implies it is not NULL), and the stale `active_story` flags that the maintenance
        # thread clears every minute.
        Index("ix_profiles_story_posted_at", "story_posted_at", **_WITH_STORY),
        Index(
            "ix_profiles_story_expires_at",
            "story_expires_at",
            **partial("story_expires_at IS NOT NULL"),
        ),
        Index(
            "ix_profiles_active_story",
            "active_story",
            # Written as `profiles.refresh_stories` compiles `active_story.is_(True)`: SQLite
            # uses a partial index only for a query term of the same text.
            **partial("active_story IS 1", "active_story IS true"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(30), unique=True)
    username_key: Mapped[str] = mapped_column(String(30), unique=True)
    url: Mapped[str | None] = mapped_column(String(255))
    niche_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("niches.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), default="active")
    active_story: Mapped[bool] = mapped_column(Boolean, default=False)
    last_story_detected: Mapped[datetime | None]
    total_checks: Mapped[int] = mapped_column(Integer, default=0)
    total_detections: Mapped[int] = mapped_column(Integer, default=0)
    last_checked: Mapped[datetime | None] = mapped_column(index=True)
    last_detected: Mapped[datetime | None]
    # Cached Instagram identity: looked up once; privacy looked up again when it grows old.
    ig_user_id: Mapped[str | None] = mapped_column(String(64))
    is_private: Mapped[bool | None] = mapped_column(Boolean)
    # When ig_user_id/is_private were last looked up: an absent reel proves "no story" only
    # while the "public" it relies on is fresh (EngineOptions.privacy_max_age).
    identity_checked_at: Mapped[datetime | None] = mapped_column()
    # Set when Instagram answered "no such user"; such profiles fail fast in later batches.
    not_found: Mapped[bool] = mapped_column(Boolean, default=False)
    # When a second pair confirmed "no such user"; re-checked after `not_found_recheck_days`.
    not_found_at: Mapped[datetime | None]
    # A session that follows this private account (its story request goes to that pair).
    followed_by_session_id: Mapped[str | None] = mapped_column(String(36))
    # When a lookup through that session last confirmed the follow: an absent reel through it
    # proves "no story" only while this is fresh (a lookup through another session refreshes
    # `identity_checked_at`, not this). Set and cleared with `followed_by_session_id`.
    followed_checked_at: Mapped[datetime | None]
    # The last check that could see whether a story was up (a story, or a completed "no
    # story"); a later `last_checked` means the latest check could not (profiles.answers).
    story_seen_at: Mapped[datetime | None]
    # The latest story window, copied here by `stories.windows.record_sightings` so the
    # "who has a story now" queries read one indexed table: live while now < story_expires_at.
    story_posted_at: Mapped[datetime | None]  # newest item taken
    story_first_posted_at: Mapped[datetime | None]  # oldest live item taken
    story_expires_at: Mapped[datetime | None]
    story_item_count: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def detection_rate(self) -> float:
        """Share of checks that found a story, in percent."""
        if not self.total_checks:
            return 0.0
        return round(self.total_detections / self.total_checks * 100, 2)


class ProfileCount(Base):
    """How many profiles a niche holds in one status, kept by database triggers.

    Migration 0007 installs the triggers: every insert, delete, niche move and status change of
    `profiles` adjusts these rows in the same transaction, whichever code path writes, so a
    list's `total` and the niche sidebar never count a million rows. `niche_key` is the niche
    id, or "" for profiles without a niche.
    """

    __tablename__ = "profile_counts"

    niche_key: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    profiles: Mapped[int] = mapped_column(Integer, default=0)
