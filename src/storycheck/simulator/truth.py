"""The simulated world: who exists, who is private, and which stories are live at any time.

Everything is a pure function of the seed, the population settings, the username and the
time, so two simulators with the same seed agree, a restart changes nothing, and tests can
ask the same question the server answers (`Truth.lookup`, `truth_for`).

User ids are an invertible numeric encoding of the username (bijective base 38 over
``a-z0-9._`` plus an offset), so an id maps back to its username without any registry;
ids that decode to no valid username are simply unknown.

Private accounts post like public ones; the server shows their reels only to sessions that
follow them, while the truth always tells whether a story is live. Run-time overrides
(`Truth.set_kind`) change one username's kind, e.g. into a business account whose
web_profile_info answers 400.

Story model: time is cut into slots of ``slot_seconds``. In slot ``k`` a posting user publishes
one post with their own probability; the post has 1..``max_items_per_post`` items taken one
second apart, starting at a seeded offset in the first half of the slot. An item is live
while ``taken_at <= T < expiring_at`` with ``expiring_at = taken_at + story_ttl_seconds``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from storycheck.simulator.config import PopulationConfig

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789._"
BASE = len(ALPHABET)
MAX_USERNAME_LENGTH = 30
ID_OFFSET = 1_000_000_000
_DIGIT = {char: index + 1 for index, char in enumerate(ALPHABET)}
_TWO_64 = float(2**64)

UserKind = Literal["missing", "private", "never_posts", "poster"]
OverrideKind = Literal["missing", "private", "never_posts", "poster", "business_deleted"]
OVERRIDE_KINDS: tuple[OverrideKind, ...] = (
    "missing",
    "private",
    "never_posts",
    "poster",
    "business_deleted",
)
_POSTING_KINDS = frozenset({"poster", "private"})


def normalize_username(username: str) -> str:
    """Return the username as Instagram compares it: trimmed, lower case, no leading '@'."""
    return username.strip().lstrip("@").lower()


def is_valid_username(username: str) -> bool:
    """Tell whether `username` (already normalized) is a syntactically valid Instagram name."""
    return 0 < len(username) <= MAX_USERNAME_LENGTH and all(c in _DIGIT for c in username)


def user_id_for(username: str) -> str | None:
    """Return the numeric user id of `username`, or None when it is not a valid username."""
    name = normalize_username(username)
    if not is_valid_username(name):
        return None
    value = 0
    for char in name:
        value = value * BASE + _DIGIT[char]
    return str(value + ID_OFFSET)


def username_for(user_id: str | int) -> str | None:
    """Invert `user_id_for`: return the username an id encodes, or None for garbage ids."""
    text = str(user_id).strip()
    if not text.isdigit() or len(text) > 60:
        return None
    value = int(text) - ID_OFFSET
    if value < 1:
        return None
    chars: list[str] = []
    while value > 0:
        value, digit = divmod(value - 1, BASE)
        chars.append(ALPHABET[digit])
    if len(chars) > MAX_USERNAME_LENGTH:
        return None
    return "".join(reversed(chars))


@dataclass(frozen=True, slots=True)
class Profile:
    """What Instagram knows about one username (existing or not)."""

    username: str
    user_id: str | None
    kind: UserKind
    full_name: str
    follower_count: int
    post_rate: float
    business_deleted: bool = False
    origin: str = ""  # the name the account was created under, when it has been renamed

    @property
    def account(self) -> str:
        """The name the account was created under: its id, kind, stories and followers stay
        with it when it is renamed (Instagram keeps the id; the old name becomes free)."""
        return self.origin or self.username

    @property
    def exists(self) -> bool:
        """Tell whether web_profile_info answers 200 for this username."""
        return self.kind != "missing"

    @property
    def is_private(self) -> bool:
        """Tell whether the account is private (its stories show only to followers)."""
        return self.kind == "private"

    @property
    def profile_pic_url(self) -> str:
        """Return a stable, Instagram-looking profile picture URL."""
        return f"https://scontent.cdninstagram.com/v/t51.2885-19/{self.user_id}_n.jpg"


@dataclass(frozen=True, slots=True)
class StoryItem:
    """One story item: its media pk, when it was taken and when it expires."""

    pk: str
    taken_at: int
    expiring_at: int
    media_type: int


class Truth:
    """Deterministic answers for one seed and population: profiles and live story items."""

    def __init__(
        self, seed: int = 0, population: PopulationConfig | None = None, cache_size: int = 200_000
    ) -> None:
        """Build the world for `seed`; caches keep hot users cheap under benchmark load."""
        self.seed = seed
        self.population = population or PopulationConfig()
        self._prefix = f"{seed}|".encode()
        self._overrides: dict[str, OverrideKind] = {}
        self._renamed_to: dict[str, str] = {}  # account (created-under name) -> current name
        self._alias: dict[str, str] = {}  # current name of a renamed account -> account
        self.profile = functools.lru_cache(maxsize=cache_size)(self._profile)
        self.profile_by_id = functools.lru_cache(maxsize=cache_size)(self._profile_by_id)
        self._candidates = functools.lru_cache(maxsize=cache_size)(self._candidate_items)

    def set_kind(self, username: str, kind: OverrideKind | None) -> Profile:
        """Override what `username` is (None restores the seeded kind) and return its profile."""
        name = normalize_username(username)
        if not is_valid_username(name):
            raise ValueError(f"{username!r} is not a valid username")
        name = self._alias.get(name, name)
        if kind is None:
            self._overrides.pop(name, None)
        elif kind in OVERRIDE_KINDS:
            self._overrides[name] = kind
        else:
            raise ValueError(f"kind must be one of {', '.join(OVERRIDE_KINDS)}")
        self._clear_caches()
        return self.profile(self._renamed_to.get(name, name))

    def rename(self, username: str, new_username: str) -> Profile:
        """Give the account now called `username` the name `new_username` and return it.

        As on Instagram, the account keeps its id, privacy, stories and followers; its old
        name becomes free (a lookup answers "no such user") until an account takes it; a name
        in use cannot be taken. Its reels name it by the new name from now on.
        """
        old, new = normalize_username(username), normalize_username(new_username)
        if not is_valid_username(new):
            raise ValueError(f"{new_username!r} is not a valid username")
        current = self.profile(old)
        if not current.exists:
            raise ValueError(f"no account is called {old!r}")
        if new != old and self.profile(new).exists:
            raise ValueError(f"{new!r} is taken by another account")
        account = current.account
        self._alias.pop(old, None)
        if new == account:
            self._renamed_to.pop(account, None)  # back to the name it was created under
        else:
            self._renamed_to[account] = new
            self._alias[new] = account
        self._clear_caches()
        return self.profile(new)

    def _clear_caches(self) -> None:
        self.profile.cache_clear()
        self.profile_by_id.cache_clear()
        self._candidates.cache_clear()

    def overrides(self) -> dict[str, str]:
        """Return the run-time kind overrides by username."""
        return dict(self._overrides)

    def renames(self) -> dict[str, str]:
        """Return the renamed accounts: the name each was created under -> its name now."""
        return dict(self._renamed_to)

    def _unit(self, *parts: object) -> float:
        """Return a uniform number in [0, 1) derived from the seed and `parts`."""
        data = self._prefix + "|".join(str(part) for part in parts).encode()
        digest = hashlib.blake2b(data, digest_size=8).digest()
        return int.from_bytes(digest, "big") / _TWO_64

    def _profile(self, username: str) -> Profile:
        """Who is called `username` now (the cached `profile` method wraps this)."""
        name = normalize_username(username)
        account = self._alias.get(name)
        if account is not None:
            return dataclasses.replace(self._seeded(account), username=name, origin=account)
        if name in self._renamed_to:
            return Profile(name, None, "missing", "", 0, 0.0)  # its account took another name
        return self._seeded(name)

    def _seeded(self, name: str) -> Profile:
        """Classify the account created under `name` (normalized), as the seed made it."""
        user_id = user_id_for(name)
        if user_id is None:
            return Profile(name, None, "missing", "", 0, 0.0)
        population = self.population
        draw = self._unit("kind", name)
        kind: UserKind
        if draw < population.missing_share:
            kind = "missing"
        elif draw < population.missing_share + population.private_share:
            kind = "private"
        elif (
            draw < population.missing_share + population.private_share + population.never_post_share
        ):
            kind = "never_posts"
        else:
            kind = "poster"
        business = kind in ("poster", "never_posts") and (
            self._unit("business", name) < population.business_deleted_share
        )
        override = self._overrides.get(name)
        if override == "business_deleted":
            kind, business = (kind if kind in ("poster", "never_posts") else "poster"), True
        elif override is not None:
            kind, business = override, False
        posts = kind == "poster" or (kind == "private" and population.private_stories)
        rate = self._unit("rate", name) * 2 * population.story_probability if posts else 0.0
        full_name = name.replace("_", " ").replace(".", " ").title()
        followers = int(10 ** (2 + 4 * self._unit("followers", name)))
        return Profile(name, user_id, kind, full_name, followers, rate, business)

    def _profile_by_id(self, user_id: str | int) -> Profile | None:
        """Return the profile an id encodes, or None for garbage (`profile_by_id` caches it)."""
        account = username_for(user_id)
        if account is None:
            return None
        profile = self.profile(self._renamed_to.get(account, account))
        return profile if profile.account == account else None  # its old name, taken since

    def _slot_items(self, profile: Profile, slot: int) -> tuple[StoryItem, ...]:
        """Return the items `profile` posted in `slot` (usually none)."""
        if self._unit("post", profile.username, slot) >= profile.post_rate:
            return ()
        population = self.population
        start = slot * population.slot_seconds
        first = math.floor(
            start + self._unit("at", profile.username, slot) * population.slot_seconds / 2
        )
        count = 1 + int(self._unit("count", profile.username, slot) * population.max_items_per_post)
        ttl = math.ceil(population.story_ttl_seconds)
        items = []
        for index in range(count):
            draw = self._unit("media", profile.username, slot, index)
            pk = str(3_000_000_000_000_000_000 + int(draw * 1e17))
            taken_at = first + index
            items.append(StoryItem(pk, taken_at, taken_at + ttl, 2 if draw < 0.3 else 1))
        return tuple(items)

    def _candidate_items(self, account: str, bucket: int) -> tuple[StoryItem, ...]:
        """Return every item that can be live at some time T with floor(T / slot) == bucket."""
        profile = self._seeded(account)
        if profile.kind not in _POSTING_KINDS or profile.post_rate <= 0:
            return ()
        population = self.population
        slot = population.slot_seconds
        reach = population.story_ttl_seconds + population.max_items_per_post + 2
        first_slot = math.floor((bucket * slot - reach) / slot) - 1
        last_slot = math.floor(((bucket + 1) * slot + 1) / slot) + 1
        items: list[StoryItem] = []
        for index in range(first_slot, last_slot + 1):
            items.extend(self._slot_items(profile, index))
        return tuple(items)

    def items_at(self, username: str, at: float) -> tuple[StoryItem, ...]:
        """Return the story items of `username` live at unix time `at`, oldest first.

        Missing and never-posting users have none; private users may (hidden from strangers).
        """
        return self.live_items(self.profile(username), at)

    def live_items(self, profile: Profile, at: float) -> tuple[StoryItem, ...]:
        """Return the items of an already classified `profile` live at `at` (the hot path)."""
        if profile.kind not in _POSTING_KINDS:
            return ()
        bucket = math.floor(at / self.population.slot_seconds)
        candidates = self._candidates(profile.account, bucket)
        if not candidates:
            return ()
        return tuple(item for item in candidates if item.taken_at <= at < item.expiring_at)

    def lookup(self, username: str, at: float) -> dict[str, Any]:
        """Return the referee's answer for `username` at time `at` (the /__sim__/truth shape)."""
        profile = self.profile(username)
        items = self.items_at(profile.username, at) if profile.exists else ()
        return {
            "username": profile.username,
            "exists": profile.exists,
            "is_private": profile.is_private,
            "business_deleted": profile.business_deleted,
            "has_story": bool(items),
            "items": len(items),
            "user_id": profile.user_id,
            "at": at,
            "latest_reel_media": items[-1].taken_at if items else None,
            "expiring_at": max(item.expiring_at for item in items) if items else None,
            "taken_at": [item.taken_at for item in items],
        }

    def usernames(
        self,
        count: int,
        *,
        kind: UserKind | None = None,
        prefix: str = "user",
        with_story_at: float | None = None,
        without_story_at: float | None = None,
    ) -> list[str]:
        """Return `count` generated usernames (`{prefix}{n:05d}`) matching the filters.

        `kind` picks one class of user; `with_story_at`/`without_story_at` keep only users
        whose story state at that time matches. Used by tests and the demo to seed data.
        """
        found: list[str] = []
        for name in self._generated(prefix):
            profile = self.profile(name)
            if kind is not None and profile.kind != kind:
                continue
            if with_story_at is not None and not self.items_at(name, with_story_at):
                continue
            if without_story_at is not None and self.items_at(name, without_story_at):
                continue
            found.append(name)
            if len(found) >= count:
                return found
        return found

    @staticmethod
    def _generated(prefix: str) -> Iterator[str]:
        """Yield `prefix00000`, `prefix00001`, … up to a generous bound."""
        for index in range(10_000_000):
            yield f"{prefix}{index:05d}"


@functools.lru_cache(maxsize=16)
def _shared_truth(seed: int, population: PopulationConfig) -> Truth:
    """Return one cached `Truth` per (seed, population)."""
    return Truth(seed, population)


def truth_for(
    username: str, at: float, *, seed: int = 0, population: PopulationConfig | None = None
) -> dict[str, Any]:
    """Return what a simulator with `seed` and `population` says about `username` at `at`."""
    return _shared_truth(seed, population or PopulationConfig()).lookup(username, at)
