"""What a batch's counters say, answer by answer (no database here: the CLI imports it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BatchAnswers:
    """A batch's checked accounts by answer; `failed` are the checks that could not be made."""

    stories: int
    no_story: int
    private: int
    not_found: int
    failed: int


def batch_answers(
    *, completed: int, stories: int, failed_checks: int, private: int, not_found: int
) -> BatchAnswers:
    """Split a batch's counters by answer: `failed_checks` (the original contract's count)
    includes the accounts confirmed not to exist, and only what is left of `completed` after
    stories, failures and private accounts (unknown) is "no story"."""
    return BatchAnswers(
        stories=stories,
        no_story=max(0, completed - stories - failed_checks - private),
        private=private,
        not_found=not_found,
        failed=max(0, failed_checks - not_found),
    )
