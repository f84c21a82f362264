"""The seeded world: invertible ids, determinism, population shares and story windows."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from storycheck.simulator import PopulationConfig, Truth, truth_for, user_id_for, username_for
from storycheck.simulator.truth import ALPHABET, MAX_USERNAME_LENGTH

from .conftest import START

usernames = st.text(alphabet=ALPHABET, min_size=1, max_size=MAX_USERNAME_LENGTH)


@given(usernames)
def test_user_id_is_numeric_and_inverts_to_the_username(name: str) -> None:
    user_id = user_id_for(name)
    assert user_id is not None and user_id.isdigit()
    assert username_for(user_id) == name


@given(usernames, usernames)
def test_distinct_usernames_get_distinct_ids(first: str, second: str) -> None:
    assert (user_id_for(first) == user_id_for(second)) == (first == second)


def test_usernames_are_case_insensitive_and_garbage_has_no_id() -> None:
    assert user_id_for("@Some.User") == user_id_for("some.user")
    assert user_id_for("") is None
    assert user_id_for("has space") is None
    assert user_id_for("x" * (MAX_USERNAME_LENGTH + 1)) is None
    for garbage in ("", "abc", "-5", "12", "0001", "9" * 80):
        assert username_for(garbage) is None


def test_same_seed_gives_the_same_world_and_another_seed_does_not() -> None:
    names = [f"user{n:05d}" for n in range(300)]
    times = [START + k * 1800 for k in range(10)]
    first, again, other = Truth(7), Truth(7), Truth(8)
    answers = [first.lookup(name, at) for name in names for at in times]
    assert answers == [again.lookup(name, at) for name in names for at in times]
    assert answers != [other.lookup(name, at) for name in names for at in times]
    assert answers[:50] == [truth_for(name, at, seed=7) for name in names[:5] for at in times]


def test_population_shares_are_roughly_as_configured() -> None:
    population = PopulationConfig(missing_share=0.1, private_share=0.2, never_post_share=0.3)
    truth = Truth(1, population)
    kinds = Counter(truth.profile(f"user{n:05d}").kind for n in range(4000))
    assert abs(kinds["missing"] / 4000 - 0.1) < 0.03
    assert abs(kinds["private"] / 4000 - 0.2) < 0.03
    assert abs(kinds["never_posts"] / 4000 - 0.3) < 0.03
    assert abs(kinds["poster"] / 4000 - 0.4) < 0.03


def test_stories_come_and_go_and_items_live_exactly_ttl_seconds() -> None:
    population = PopulationConfig(slot_seconds=60, story_ttl_seconds=300, story_probability=0.1)
    truth = Truth(3, population)
    posters = truth.usernames(40, kind="poster")
    states = {
        name: {bool(truth.items_at(name, START + t)) for t in range(0, 7200, 30)}
        for name in posters
    }
    assert sum(1 for seen in states.values() if seen == {True, False}) >= 10
    name = next(n for n in posters if any(truth.items_at(n, START + t) for t in range(0, 7200, 30)))
    item = next(
        truth.items_at(name, START + t)[0]
        for t in range(0, 7200, 30)
        if truth.items_at(name, START + t)
    )
    assert item.expiring_at - item.taken_at == 300
    assert item in truth.items_at(name, item.taken_at)
    assert item in truth.items_at(name, item.expiring_at - 0.001)
    assert item not in truth.items_at(name, item.taken_at - 0.001)
    assert item not in truth.items_at(name, item.expiring_at)


def test_missing_and_silent_users_never_have_stories_but_private_ones_may() -> None:
    # Facts: a private account's story exists even though strangers cannot see it.
    truth = Truth(5, PopulationConfig(story_probability=0.5))
    for kind in ("missing", "never_posts"):
        for name in truth.usernames(10, kind=kind):
            answer = truth.lookup(name, START)
            assert answer["has_story"] is False and answer["items"] == 0
            assert answer["exists"] == (kind != "missing")
            assert answer["is_private"] is False
    private = [truth.lookup(name, START) for name in truth.usernames(40, kind="private")]
    assert all(answer["is_private"] and answer["exists"] for answer in private)
    assert any(answer["has_story"] for answer in private)


def test_usernames_helper_filters_on_story_state() -> None:
    truth = Truth(0)
    with_story = truth.usernames(5, with_story_at=START)
    without = truth.usernames(5, kind="poster", without_story_at=START)
    assert all(truth.lookup(n, START)["has_story"] for n in with_story)
    assert not any(truth.lookup(n, START)["has_story"] for n in without)


def test_private_stories_can_be_turned_off() -> None:
    truth = Truth(5, PopulationConfig(story_probability=0.5, private_stories=False))
    for name in truth.usernames(20, kind="private"):
        assert truth.lookup(name, START)["has_story"] is False
