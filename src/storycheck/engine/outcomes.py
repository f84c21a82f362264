"""What an answer does to the items it concerns (pure: no I/O, no clock, no event loop).

`decide` takes one request (pair, kind, items) and its `CheckOutcome` and says, per item:
final (an `ItemOutcome` to record), resolved (a looked-up id: on to the story queue, its
identity saved at once), or back to the queue (`Requeue`: with or without an attempt, which
pair to avoid, whether it must go alone). The pair's side of the answer (health, pacing) is
`health.PairHealthState.record` and `adaptive`; the scheduler applies both.

The rules (DESIGN.md §4.4, issue 9, CONTRACTS.md "Item outcomes"):

* answers that say nothing about the items (`errors.PAIR_PROBLEMS`, too many ids, dense
  form refused) return them without spending an attempt, preferring another pair;
* a user is "not found" only when a second, different pair agrees; the first verdict sends
  the item back (no attempt) to another pair;
* a profile Instagram cannot show (`ProfileUnavailable`) fails at once, no retry;
* a private account the asking session does not follow is `private` (unknown), never
  "no story"; a lookup that says so records it without a story request, unless another
  session is known to follow it; a private account whose reel is present has a story; an
  absent reel of an account whose privacy is unknown (an id cached without it) or older than
  `Context.privacy_max_age` (it may have turned private since) is first looked up: public
  means "no story", private means unknown; a follow counts only while the lookup through
  that session which confirmed it (`followed_checked_at`) is within the same max age, else it
  is looked up again through that session first (it may have stopped following since; a
  lookup through another session refreshes the privacy, never the follow);
* a reel that proves nothing about its id (`ItemAnswer.unproven`: no `items` list) is a
  transient answer for that item alone;
* a reel whose owner goes by another username than the item's (the account was renamed; its
  id stays, the old name may be free or someone else's) says nothing about the item's
  username: the username is looked up again (no attempt), or, when it was looked up in this
  very lease, the answers disagree and it is transient;
* a transient answer (5xx, malformed) spends one attempt of each item; an item whose
  last attempt would be spent in a group request is sent alone instead: only an answer about
  it alone fails it (a group is split, never failed whole).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from storycheck.engine.errors import PAIR_PROBLEMS, Classification, IgError, Transient
from storycheck.engine.pacing import Kind
from storycheck.engine.types import (
    COMPLETED,
    FAILED,
    NO_STORY,
    NOT_FOUND,
    PRIVATE,
    STORY,
    TRANSIENT,
    UNAVAILABLE,
    Identity,
    ItemAnswer,
    ItemOutcome,
    LeasedItem,
    NotFoundOpinion,
)


def normalized_username(name: str) -> str:
    """A username as Instagram compares it: no surrounding space or leading '@', lower case."""
    return name.strip().lstrip("@").lower()


# No attempt spent, the items go back: the answer concerned the pair or the request's form.
NO_ATTEMPT = PAIR_PROBLEMS | {Classification.TOO_MANY_IDS, Classification.DENSE_UNAVAILABLE}

NOT_FOUND_CONFIRMED = "not found on Instagram (confirmed by two pairs)"
NOT_FOUND_UNCONFIRMED = "not found on Instagram (unconfirmed: no second pair to ask)"
NOT_FOUND_KNOWN = "not found on Instagram (confirmed recently; re-checked later)"


@dataclass(frozen=True)
class Request:
    """The request as the outcome rules need it."""

    pair_id: str
    session_id: str | None
    kind: Kind
    items: Sequence[LeasedItem]


@dataclass(frozen=True)
class Context:
    """What else the rules need to know."""

    max_attempts: int = 3
    other_pairs: bool = True  # another usable pair could take the items / confirm a verdict
    privacy_max_age: float = 86400.0  # seconds a looked-up "public" proves an absent reel


def privacy_known(item: LeasedItem, at: float, max_age: float) -> bool:
    """True when the item's privacy is known and fresh enough to read an absent reel."""
    if item.is_private is None:
        return False
    if item.resolved_now:
        return True  # looked up while this lease is held
    checked = item.identity_checked_at
    return checked is not None and at - checked <= max_age


def follow_known(item: LeasedItem, session_id: str | None, at: float, max_age: float) -> bool:
    """True when `session_id` follows the item's account by a lookup through it within
    `max_age` (only such a follow proves that its absent reel is "no story")."""
    if session_id is None or item.followed_by_session_id != session_id:
        return False
    confirmed = item.followed_checked_at
    return confirmed is not None and at - confirmed <= max_age


@dataclass(frozen=True)
class Requeue:
    """An item going back to the queue, with what changes on it."""

    item: LeasedItem
    attempts: int
    avoid_pair: str | None
    last_error: str | None = None
    not_found_by: str | None = None
    solo: bool = False
    verify: bool = False  # look the account up first (privacy unknown, no reel seen)
    relookup: bool = False  # the cached id is someone else's now: look the username up again

    @property
    def spent_attempt(self) -> bool:
        """True when this answer used one of the item's attempts."""
        return self.attempts > self.item.attempts

    def apply(self) -> LeasedItem:
        """Write the changes onto the item (the scheduler calls this) and return it."""
        item = self.item
        item.attempts = self.attempts
        item.avoid_pair = self.avoid_pair
        item.last_error = self.last_error
        item.not_found_by = self.not_found_by
        item.solo = self.solo
        if self.verify:
            item.absent_seen = True
            item.ig_user_id = None  # to the lookup queue; the lookup sets it again
        if self.relookup:
            item.ig_user_id = None  # nothing was seen of the username's own account yet
        return item


@dataclass(frozen=True)
class Resolved:
    """A lookup found the id: the item waits for a story request (routed when followed)."""

    item: LeasedItem
    ig_user_id: str
    is_private: bool | None
    followed_by_session_id: str | None
    followed_checked_at: float | None = None  # when a lookup through the follower said so

    def apply(self) -> LeasedItem:
        """Write the identity onto the item and return it."""
        item = self.item
        item.ig_user_id = self.ig_user_id
        item.is_private = self.is_private
        item.followed_by_session_id = self.followed_by_session_id
        item.followed_checked_at = self.followed_checked_at
        item.resolved_now = True
        item.avoid_pair = None
        item.not_found_by = None
        return item


@dataclass
class Decision:
    """Everything one answer does to its items."""

    classification: Classification
    error: IgError | None
    finals: list[ItemOutcome] = field(default_factory=list)
    resolved: list[Resolved] = field(default_factory=list)
    requeue: list[Requeue] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)  # save at once
    opinions: list[NotFoundOpinion] = field(default_factory=list)  # save at once


def effective(
    request: Request, failure: IgError | None, answers: Mapping[str, ItemAnswer]
) -> tuple[Classification, IgError | None]:
    """The class of the answer; a "success" that misses a requested item is transient."""
    if failure is not None:
        return failure.classification, failure
    if any(item.id not in answers for item in request.items):
        return Classification.TRANSIENT, Transient("answer without every requested item")
    return Classification.SUCCESS, None


def decide(
    request: Request,
    failure: IgError | None,
    answers: Mapping[str, ItemAnswer],
    *,
    at: float,
    context: Context,
) -> Decision:
    """Decide what the answer to `request` does to each of its items."""
    cls, error = effective(request, failure, answers)
    decision = Decision(cls, error)
    rules = _Rules(request, decision, at, context)
    if cls is Classification.SUCCESS:
        for item in request.items:
            rules.answered(item, answers[item.id])
    elif cls is Classification.NOT_FOUND:
        for item in request.items:
            rules.not_found(item)
    elif cls is Classification.PROFILE_UNAVAILABLE and request.kind == "lookup":
        for item in request.items:
            rules.unavailable(item, error)
    elif cls in NO_ATTEMPT:
        for item in request.items:
            rules.back(item)
    else:
        reason = error.message if error is not None else cls.value
        for item in request.items:
            rules.transient(item, reason)
    return decision


def known_missing(item: LeasedItem, at: float) -> ItemOutcome:
    """The outcome of an item whose profile was confirmed "not found" recently: no request."""
    return ItemOutcome(
        item=item,
        status=FAILED,
        processed_at=at,
        error=NOT_FOUND_KNOWN,
        failure_kind=NOT_FOUND,
    )


class _Rules:
    """The per-item rules of `decide`, sharing the request and the decision being built."""

    def __init__(self, request: Request, decision: Decision, at: float, context: Context):
        self.request = request
        self.decision = decision
        self.at = at
        self.context = context
        self.pair_id = request.pair_id
        self.session_id = request.session_id

    # ------------------------------------------------------------------ answers

    def answered(self, item: LeasedItem, answer: ItemAnswer) -> None:
        if answer.not_found:
            self.not_found(item)
        elif self.request.kind == "lookup":
            self.looked_up(item, answer)
        else:
            self.stories(item, answer)

    def looked_up(self, item: LeasedItem, answer: ItemAnswer) -> None:
        if not answer.ig_user_id:
            self.transient(item, "lookup answer without a user id")
            return
        if item.not_found_by is not None:
            # Another pair's "no such user" was wrong (or the account is back): withdraw it.
            self.decision.opinions.append(NotFoundOpinion(item.id, None))
        followed = answer.followed_by_viewer
        self.decision.identities.append(
            Identity(
                item.profile_id,
                answer.ig_user_id,
                answer.is_private,
                self.session_id,
                followed,
                item_id=item.id,
            )
        )
        follower, confirmed = item.followed_by_session_id, item.followed_checked_at
        if followed and self.session_id is not None:
            follower, confirmed = self.session_id, self.at
        elif follower == self.session_id:
            follower, confirmed = None, None  # this session no longer follows it
        # Another session's follow stays as it was, with its own (perhaps old) time.
        if item.absent_seen and answer.is_private is False:
            # Its story request already found no reel, and it is public: that is proof.
            self.final(item, outcome=NO_STORY)
            return
        if answer.is_private and followed is False and follower is None:
            # Private and not followed by this session, nor by another one we know of: the
            # story request could not tell "no story" from "not allowed to see".
            self.final(item, outcome=PRIVATE)
            return
        self.decision.resolved.append(
            Resolved(item, answer.ig_user_id, answer.is_private, follower, confirmed)
        )

    def stories(self, item: LeasedItem, answer: ItemAnswer) -> None:
        owner = answer.owner_username
        if owner and normalized_username(owner) != normalized_username(item.username):
            self.renamed(item, owner)
            return
        if answer.unproven:
            # The answer names the id but proves nothing about its story (a reel without
            # items): transient for this item alone, never "no story".
            self.transient(item, answer.unproven)
            return
        if answer.has_story:
            self.final(item, outcome=STORY, answer=answer)
            return
        max_age = self.context.privacy_max_age
        known = privacy_known(item, self.at, max_age)
        # A follow ages with the lookup through that session which confirmed it, not with
        # the privacy (a lookup through any session refreshes that): an old one does not
        # prove that this session still sees the account's stories.
        follows = bool(answer.followed_by_viewer) or follow_known(
            item, self.session_id, self.at, max_age
        )
        unconfirmed = (
            not follows
            and bool(item.is_private)
            and self.session_id is not None
            and item.followed_by_session_id == self.session_id
        )
        if not follows and not item.absent_seen and (not known or unconfirmed):
            # No reel, and nobody knows (any more) whether the account is private (an id
            # cached without it, or looked up so long ago that it may have turned private
            # since), or whether this session still follows the private account. Only a
            # lookup (routed to the follower) can tell "no story" from "hidden". No attempt.
            self.decision.requeue.append(
                Requeue(item, item.attempts, None, item.last_error, item.not_found_by, verify=True)
            )
        elif item.is_private and not follows:
            self.final(item, outcome=PRIVATE)
        else:
            self.final(item, outcome=NO_STORY)

    def renamed(self, item: LeasedItem, owner: str) -> None:
        """The item's id now belongs to an account called `owner`: its reel is not the
        username's. Look the username up again; if that lookup was this lease's, the two
        answers disagree: an attempt, never an answer."""
        if item.resolved_now:
            self.transient(item, f"the id looked up for @{item.username} answers as @{owner}")
            return
        reason = f"the cached id of @{item.username} now answers as @{owner} (renamed)"
        self.decision.requeue.append(
            Requeue(item, item.attempts, None, reason, item.not_found_by, relookup=True)
        )

    # ------------------------------------------------------------------ failures

    def not_found(self, item: LeasedItem) -> None:
        first = item.not_found_by
        if first is not None and first != self.pair_id:
            self.failed(item, NOT_FOUND, NOT_FOUND_CONFIRMED, not_found=True)
            return
        if first is None:
            self.decision.opinions.append(NotFoundOpinion(item.id, self.pair_id))
        if self.context.other_pairs:
            self.decision.requeue.append(
                Requeue(item, item.attempts, self.pair_id, item.last_error, self.pair_id)
            )
        elif item.attempts + 1 >= self.context.max_attempts:
            # One pair's word is not an answer: a check that could not be made (unknown),
            # which "retry failed" asks again once a second pair exists.
            self.failed(item, TRANSIENT, NOT_FOUND_UNCONFIRMED, attempts=item.attempts + 1)
        else:
            self.decision.requeue.append(
                Requeue(item, item.attempts + 1, None, NOT_FOUND_UNCONFIRMED, self.pair_id)
            )

    def unavailable(self, item: LeasedItem, error: IgError | None) -> None:
        detail = error.message if error is not None else "unavailable"
        self.failed(item, UNAVAILABLE, f"Instagram cannot show this profile ({detail})")

    def back(self, item: LeasedItem) -> None:
        self.decision.requeue.append(
            Requeue(
                item,
                item.attempts,
                self.pair_id,
                item.last_error,
                item.not_found_by,
                item.solo,
            )
        )

    def transient(self, item: LeasedItem, reason: str) -> None:
        attempts = item.attempts + 1
        if attempts < self.context.max_attempts:
            self.decision.requeue.append(
                Requeue(item, attempts, self.pair_id, reason, item.not_found_by)
            )
        elif len(self.request.items) > 1:
            # The last attempt is not spent inside a group: a try alone decides.
            self.decision.requeue.append(
                Requeue(item, item.attempts, self.pair_id, reason, item.not_found_by, solo=True)
            )
        else:
            self.failed(item, TRANSIENT, reason, attempts=attempts)

    # ------------------------------------------------------------------ finals

    def final(self, item: LeasedItem, *, outcome: str, answer: ItemAnswer | None = None) -> None:
        self.decision.finals.append(
            ItemOutcome(
                item=item,
                status=COMPLETED,
                processed_at=self.at,
                outcome=outcome,
                has_story=outcome == STORY,
                item_count=answer.story_count if answer else 0,
                oldest_taken_at=answer.oldest_taken_at if answer else None,
                newest_taken_at=answer.newest_taken_at if answer else None,
                expiring_at=answer.expiring_at if answer else None,
                proxy_id=self.pair_id,
                session_id=self.session_id,
            )
        )

    def failed(
        self,
        item: LeasedItem,
        kind: str,
        error: str,
        *,
        not_found: bool = False,
        attempts: int | None = None,
    ) -> None:
        self.decision.finals.append(
            ItemOutcome(
                item=item,
                status=FAILED,
                processed_at=self.at,
                attempts=attempts,
                error=error,
                failure_kind=kind,
                proxy_id=self.pair_id,
                session_id=self.session_id,
                not_found=not_found,
            )
        )


__all__ = [
    "NO_ATTEMPT",
    "Context",
    "Decision",
    "Request",
    "Requeue",
    "Resolved",
    "decide",
    "effective",
    "follow_known",
    "known_missing",
    "privacy_known",
]
