"""What an answer does to its items: the rules of `engine.outcomes`, as a table."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from storycheck.engine import outcomes
from storycheck.engine.adaptive import AdaptiveLimit
from storycheck.engine.errors import (
    PAIR_PROBLEMS,
    ActionBlocked,
    AddressBlocked,
    Challenge,
    ClientRefused,
    ConnectionFailed,
    DenseUnavailable,
    IgError,
    LoginRequired,
    NotFoundUser,
    ProfileUnavailable,
    RateLimited,
    TooManyIds,
    Transient,
)
from storycheck.engine.types import ItemAnswer, LeasedItem

PAIR = "pair-a"
SESSION = "session-a"


def item(n: int = 0, **fields: object) -> LeasedItem:
    values: dict[str, object] = {
        "id": f"item-{n}",
        "batch_id": "batch",
        "profile_id": f"profile-{n}",
        "username": f"user{n}",
        "lease_token": "token",
    }
    values.update(fields)
    return LeasedItem(**values)  # type: ignore[arg-type]


def decide(
    kind: str,
    items: list[LeasedItem],
    failure: IgError | None = None,
    answers: dict[str, ItemAnswer] | None = None,
    **context: object,
) -> outcomes.Decision:
    return outcomes.decide(
        outcomes.Request(PAIR, SESSION, kind, items),  # type: ignore[arg-type]
        failure,
        answers or {},
        at=1000.0,
        context=outcomes.Context(**context),  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class Row:
    """One failure class: what it does to a story group of three items (attempts 0)."""

    error: IgError
    finals: int  # items final now
    spent: bool  # attempts used
    avoid: bool  # the items avoid this pair next


ROWS = {
    "rate limited": Row(RateLimited("429", retry_after=3), 0, False, True),
    "session invalid": Row(LoginRequired("login_required"), 0, False, True),
    "challenge": Row(Challenge("checkpoint_required"), 0, False, True),
    "action blocked": Row(ActionBlocked("feedback_required"), 0, False, True),
    "client refused": Row(ClientRefused("unsupported_version"), 0, False, True),
    "address blocked": Row(AddressBlocked("403 html"), 0, False, True),
    "connection failed": Row(ConnectionFailed("reset twice"), 0, False, True),
    "too many ids": Row(TooManyIds("Too many reels requested"), 0, False, True),
    "dense refused": Row(DenseUnavailable("doc_id refused"), 0, False, True),
    "transient": Row(Transient("HTTP 500"), 0, True, True),
}


@pytest.mark.parametrize("name", list(ROWS))
def test_each_failure_class_on_a_story_group(name: str) -> None:
    row = ROWS[name]
    items = [item(n, ig_user_id=f"{n}") for n in range(3)]
    decision = decide("stories", items, row.error)
    assert decision.classification is row.error.classification
    assert len(decision.finals) == row.finals
    assert [r.item for r in decision.requeue] == items
    assert all(r.spent_attempt == row.spent for r in decision.requeue)
    assert all((r.avoid_pair == PAIR) == row.avoid for r in decision.requeue)
    assert not decision.identities and not decision.resolved


def test_every_pair_problem_is_in_the_table_and_spends_nothing() -> None:
    classes = {row.error.classification for row in ROWS.values() if not row.spent}
    assert PAIR_PROBLEMS <= classes


def test_transient_fails_an_item_only_alone_and_only_after_its_last_attempt() -> None:
    group = [item(0, ig_user_id="0", attempts=2), item(1, ig_user_id="1", attempts=0)]
    decision = decide("stories", group, Transient("HTTP 500"), max_attempts=3)
    assert not decision.finals  # a group is split, never failed whole
    last, first = decision.requeue
    assert (last.solo, last.attempts, first.solo, first.attempts) == (True, 2, False, 1)
    alone = decide("stories", [last.apply()], Transient("HTTP 500"), max_attempts=3)
    (final,) = alone.finals
    assert (final.status, final.failure_kind, final.attempts_used) == ("failed", "transient", 3)
    assert final.error == "HTTP 500"


def test_a_success_missing_an_item_is_transient() -> None:
    items = [item(0, ig_user_id="0"), item(1, ig_user_id="1")]
    decision = decide("stories", items, answers={"item-0": ItemAnswer("item-0", has_story=True)})
    assert decision.classification.value == "transient" and not decision.finals
    assert all(r.spent_attempt for r in decision.requeue)


def test_not_found_needs_a_second_different_pair() -> None:
    first = decide("lookup", [item()], NotFoundUser("404"))
    (back,) = first.requeue
    assert not first.finals and not back.spent_attempt
    assert (back.not_found_by, back.avoid_pair) == (PAIR, PAIR)
    again = decide("lookup", [back.apply()], NotFoundUser("404"))  # the same pair again
    assert not again.finals
    other = outcomes.decide(
        outcomes.Request("pair-b", "session-b", "lookup", [back.item]),
        None,
        {"item-0": ItemAnswer("item-0", not_found=True)},
        at=5.0,
        context=outcomes.Context(),
    )
    (final,) = other.finals
    assert (final.status, final.failure_kind, final.not_found) == ("failed", "not_found", True)


def test_a_first_not_found_is_saved_and_a_later_id_withdraws_it() -> None:
    first = decide("lookup", [item()], NotFoundUser("404"))
    assert [(o.item_id, o.pair_id) for o in first.opinions] == [("item-0", PAIR)]
    (back,) = first.requeue
    again = decide("lookup", [back.apply()], NotFoundUser("404"))  # same pair: nothing new
    assert again.opinions == []
    found = outcomes.decide(
        outcomes.Request("pair-b", "session-b", "lookup", [back.item]),
        None,
        {"item-0": ItemAnswer("item-0", ig_user_id="42", is_private=False)},
        at=5.0,
        context=outcomes.Context(),
    )
    assert [(o.item_id, o.pair_id) for o in found.opinions] == [("item-0", None)]
    assert (
        decide(
            "lookup",
            [item(1)],
            answers={"item-1": ItemAnswer("item-1", ig_user_id="7", is_private=False)},
        ).opinions
        == []
    )


def test_not_found_with_a_single_pair_fails_unconfirmed_after_the_attempts() -> None:
    current = item()
    for _ in range(2):
        decision = decide("lookup", [current], NotFoundUser("404"), other_pairs=False)
        (back,) = decision.requeue
        assert back.spent_attempt
        current = back.apply()
    (final,) = decide("lookup", [current], NotFoundUser("404"), other_pairs=False).finals
    # One pair's word is unknown, not "no such account"; the profile is not flagged.
    assert (final.failure_kind, final.not_found) == ("transient", False)
    assert "unconfirmed" in (final.error or "")


def test_a_profile_instagram_cannot_show_fails_at_once() -> None:
    decision = decide("lookup", [item()], ProfileUnavailable("Asset deleted"))
    (final,) = decision.finals
    assert (final.status, final.failure_kind, final.attempts_used) == ("failed", "unavailable", 0)
    assert "Asset deleted" in (final.error or "")


@pytest.mark.parametrize(
    ("private", "followed", "known_follower", "expect"),
    [
        (False, False, None, "resolved"),
        (True, True, None, "resolved-followed"),
        (True, False, None, "private"),
        (True, False, "session-b", "resolved-routed"),
        (True, None, None, "resolved"),  # unknown follow state: the story request tells
    ],
)
def test_lookups_save_the_identity_and_route_private_accounts(
    private: bool, followed: bool | None, known_follower: str | None, expect: str
) -> None:
    answer = ItemAnswer("item-0", ig_user_id="42", is_private=private, followed_by_viewer=followed)
    decision = decide(
        "lookup", [item(followed_by_session_id=known_follower)], answers={"item-0": answer}
    )
    (identity,) = decision.identities
    assert (identity.ig_user_id, identity.session_id, identity.followed) == (
        "42",
        SESSION,
        followed,
    )
    if expect == "private":
        (final,) = decision.finals
        assert (final.status, final.result, final.has_story) == ("completed", "private", False)
        return
    (resolved,) = decision.resolved
    assert resolved.ig_user_id == "42" and not decision.finals
    routed = {"resolved": None, "resolved-followed": SESSION, "resolved-routed": "session-b"}
    assert resolved.followed_by_session_id == routed[expect]


@pytest.mark.parametrize(
    ("private", "follower", "has_story", "expect"),
    [
        (False, None, True, "story"),
        (False, None, False, "no_story"),
        (None, None, False, "verify"),  # privacy unknown: a lookup decides first
        (True, None, True, "story"),  # a private account whose reel is present has a story
        (True, None, False, "private"),
        (True, SESSION, False, "no_story"),  # this session follows it: absent = no story
        (True, "session-b", False, "private"),
    ],
)
def test_story_answers(
    private: bool | None, follower: str | None, has_story: bool, expect: str
) -> None:
    target = item(
        ig_user_id="7",
        is_private=private,
        followed_by_session_id=follower,
        identity_checked_at=990.0,  # looked up 10 s before the answer (at=1000): fresh
        followed_checked_at=990.0 if follower else None,  # by the same lookup
    )
    answer = ItemAnswer(
        "item-0",
        has_story=has_story,
        story_count=2 if has_story else 0,
        oldest_taken_at=100 if has_story else None,
        newest_taken_at=200 if has_story else None,
        expiring_at=86600 if has_story else None,
    )
    decision = decide("stories", [target], answers={"item-0": answer})
    if expect == "verify":
        (back,) = decision.requeue
        assert back.verify and not back.spent_attempt and not decision.finals
        item_back = back.apply()
        assert item_back.ig_user_id is None and item_back.absent_seen  # → the lookup queue
        public = ItemAnswer("item-0", ig_user_id="7", is_private=False, followed_by_viewer=False)
        (final,) = decide("lookup", [item_back], answers={"item-0": public}).finals
        assert final.result == "no_story"  # public and no reel: proof
        return
    (final,) = decision.finals
    assert final.result == expect and final.has_story == (expect == "story")
    if has_story:
        assert (final.item_count, final.oldest_taken_at, final.newest_taken_at) == (2, 100, 200)
        assert final.expiring_at == 86600


def assert_absent_reel_reads(target: LeasedItem, expect: str) -> None:
    """An absent reel of `target` is final `expect`, or (`verify`) sends it to a lookup
    without spending an attempt, where a private, unfollowed answer makes it `private`."""
    decision = decide(
        "stories",
        [target],
        answers={"item-0": ItemAnswer("item-0")},
        privacy_max_age=86400.0,
    )
    if expect == "verify":
        (back,) = decision.requeue
        assert back.verify and not back.spent_attempt and not decision.finals
        hidden = ItemAnswer("item-0", ig_user_id="7", is_private=True, followed_by_viewer=False)
        (final,) = decide("lookup", [back.apply()], answers={"item-0": hidden}).finals
        assert final.result == "private"
        return
    (final,) = decision.finals
    assert final.result == expect


@pytest.mark.parametrize(
    ("checked_at", "resolved_now", "expect"),
    [
        (1000.0 - 86400.0, False, "no_story"),  # exactly the max age: still fresh
        (1000.0 - 86401.0, False, "verify"),  # older: it may have turned private since
        (None, False, "verify"),  # age unknown (cached before ages were kept)
        (None, True, "no_story"),  # looked up while this lease is held
    ],
)
def test_an_absent_reel_proves_no_story_only_while_public_is_fresh(
    checked_at: float | None, resolved_now: bool, expect: str
) -> None:
    target = item(
        ig_user_id="7",
        is_private=False,
        identity_checked_at=checked_at,
        resolved_now=resolved_now,
    )
    # `verify`: looked up first; a private answer without a follow is unknown, never "no story".
    assert_absent_reel_reads(target, expect)


@pytest.mark.parametrize(
    ("identity_checked_at", "followed_checked_at", "expect"),
    [
        (990.0, 990.0, "no_story"),  # confirmed by a fresh lookup through this session
        (1000.0 - 86401.0, 1000.0 - 86401.0, "verify"),  # both long ago: it may have ended
        # The privacy is fresh from a lookup through ANOTHER session, which said nothing
        # about this one: the follow it confirmed long ago (or never dated) is no proof.
        (990.0, 1000.0 - 86401.0, "verify"),
        (990.0, None, "verify"),
        (None, None, "verify"),  # ages unknown
    ],
)
def test_an_absent_reel_of_a_followed_private_account_needs_a_fresh_follow(
    identity_checked_at: float | None, followed_checked_at: float | None, expect: str
) -> None:
    target = item(
        ig_user_id="7",
        is_private=True,
        followed_by_session_id=SESSION,
        identity_checked_at=identity_checked_at,
        followed_checked_at=followed_checked_at,
    )
    assert_absent_reel_reads(target, expect)


def test_a_lookup_dates_the_follow_only_through_the_follower() -> None:
    # A lookup through this session that says it follows dates the follow now: the story
    # request through it may then read an absent reel as "no story".
    followed = ItemAnswer("item-0", ig_user_id="7", is_private=True, followed_by_viewer=True)
    (resolved,) = decide("lookup", [item()], answers={"item-0": followed}).resolved
    assert (resolved.followed_by_session_id, resolved.followed_checked_at) == (SESSION, 1000.0)
    absent = {"item-0": ItemAnswer("item-0")}
    (final,) = decide("stories", [resolved.apply()], answers=absent).finals
    assert final.result == "no_story"

    # A lookup through this session for an account another session followed long ago keeps
    # that follow and its old time (it says nothing about the other session), so the story
    # request routed to the follower looks it up again there before saying anything.
    old = item(followed_by_session_id="session-b", followed_checked_at=1000.0 - 86401.0)
    unfollowed = ItemAnswer("item-0", ig_user_id="7", is_private=True, followed_by_viewer=False)
    (resolved,) = decide("lookup", [old], answers={"item-0": unfollowed}).resolved
    assert (resolved.followed_by_session_id, resolved.followed_checked_at) == (
        "session-b",
        1000.0 - 86401.0,
    )
    story_request = outcomes.Request("pair-b", "session-b", "stories", [resolved.apply()])
    decision = outcomes.decide(
        story_request,
        None,
        {"item-0": ItemAnswer("item-0")},
        at=1000.0,
        context=outcomes.Context(),
    )
    (back,) = decision.requeue
    assert back.verify and not decision.finals


def test_an_unproven_reel_is_transient_for_its_item_alone() -> None:
    # Public, privacy fresh: an absent reel would be "no story"; a reel without items is not.
    known = {"ig_user_id": "7", "is_private": False, "identity_checked_at": 990.0}
    group = [item(0, **known), item(1, **known)]
    answers = {
        "item-0": ItemAnswer("item-0", unproven="reel without items"),
        "item-1": ItemAnswer("item-1"),
    }
    decision = decide("stories", group, answers=answers, max_attempts=3)
    assert decision.classification.value == "success"  # the pair answered
    (final,) = decision.finals
    assert (final.item.id, final.result) == ("item-1", "no_story")
    (back,) = decision.requeue
    assert (back.item.id, back.last_error) == ("item-0", "reel without items")
    assert back.spent_attempt
    # Its last attempt: alone, it fails as unknown (transient), never "no story".
    alone = item(0, attempts=2, **known)
    (final,) = decide("stories", [alone], answers={"item-0": answers["item-0"]}).finals
    assert (final.status, final.kind_of_failure, final.result) == ("failed", "transient", None)


def test_a_reel_of_a_renamed_account_is_not_the_usernames_answer() -> None:
    # The cached id of @user0 now answers as @new.name: whatever its reel holds (a story, or
    # none, with a fresh public privacy), it is not @user0's. The username is looked up again
    # (no attempt), as a fresh lookup: not as after an absent reel (which a public answer
    # would turn into "no story" without a story request).
    known = {"ig_user_id": "7", "is_private": False, "identity_checked_at": 990.0}
    for reel in (
        ItemAnswer("item-0", has_story=True, story_count=2, owner_username="new.name"),
        ItemAnswer("item-0", owner_username="new.name"),
    ):
        decision = decide("stories", [item(0, **known)], answers={"item-0": reel})
        assert not decision.finals
        (back,) = decision.requeue
        assert not back.spent_attempt and "now answers as @new.name" in str(back.last_error)
        again = back.apply()
        assert again.ig_user_id is None and not again.absent_seen

        # The username's own account, public, looked up now: its story request decides.
        public = ItemAnswer("item-0", ig_user_id="8", is_private=False, followed_by_viewer=False)
        (resolved,) = decide("lookup", [again], answers={"item-0": public}).resolved
        assert resolved.ig_user_id == "8"

    # The same name in another case is the same account.
    same = ItemAnswer("item-0", has_story=True, story_count=1, owner_username="USER0")
    (final,) = decide("stories", [item(0, **known)], answers={"item-0": same}).finals
    assert final.result == "story"

    # Looked up in this lease, yet its reel names another account: the answers disagree, an
    # attempt is spent, and on the last one the item fails as unknown, never an answer.
    fresh = {**known, "resolved_now": True}
    renamed = {"item-0": ItemAnswer("item-0", has_story=True, owner_username="new.name")}
    (back,) = decide("stories", [item(0, **fresh)], answers=renamed).requeue
    assert back.spent_attempt
    (final,) = decide("stories", [item(0, attempts=2, **fresh)], answers=renamed).finals
    assert (final.status, final.kind_of_failure, final.result) == ("failed", "transient", None)


def test_known_missing_fails_without_a_request() -> None:
    final = outcomes.known_missing(item(known_missing=True), 5.0)
    assert (final.status, final.failure_kind, final.not_found) == ("failed", "not_found", False)


def test_aimd_halves_on_a_rate_limit_recovers_below_the_refused_level_then_forgets() -> None:
    limit = AdaptiveLimit(configured=100)
    assert limit.rate_limited(sent_in_window=60, now=0.0) == 30  # from what was really sent
    assert not limit.quiet(5.0, period=10.0)  # not quiet long enough
    steps = []
    now = 0.0
    for _ in range(20):
        now += 10.0
        limit.quiet(now, period=10.0, forget_after=1000.0)
        steps.append(limit.current)
    assert steps[:4] == [36, 42, 48, 54]  # fast: a tenth of the refused level per period …
    assert steps[4:7] == [56, 58, 59]  # … then slowly, up to just below the refused level
    assert set(steps[7:]) == {59}  # and it stays there
    while limit.learned is not None and now < 2000:
        now += 10.0
        limit.quiet(now, period=10.0, forget_after=1000.0)
    assert limit.current == 100 and now <= 1010.0  # a long quiet: the setting again
    assert limit.rate_limited(sent_in_window=1, now=now) == 12  # an early 429 says little
