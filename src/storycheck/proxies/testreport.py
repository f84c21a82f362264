"""A pair test's report: its four steps, and what a classified answer says about the pair.

Pure (no I/O): `steps_for_answer` is the table from the engine's classification of the one
lookup to the steps "Instagram answered", "session logged in" and "limit state", each in words.
`pairtest` runs the test and stores the result.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from storycheck.db import iso
from storycheck.engine.errors import Classification
from storycheck.proxies.teststate import STEPS

OK, FAILED, UNKNOWN, SKIPPED = "ok", "failed", "unknown", "skipped"


@dataclass
class Step:
    """One step of a test: its status (ok, failed, unknown, skipped) in human words."""

    name: str
    status: str
    detail: str
    classification: str | None = None
    ms: int | None = None

    @property
    def title(self) -> str:
        """The step's title, e.g. 'Proxy reachable'."""
        return STEPS[self.name]

    def to_dict(self) -> dict[str, Any]:
        """The step as the API shows it."""
        return {"title": self.title, **asdict(self)}


@dataclass
class PairTestReport:
    """The whole report of one pair test (no secret: the account id is not one here)."""

    proxy_id: str
    proxy: str  # scheme://host:port
    username: str
    result: str = "failed"  # "ok", "failed", or "not_sent" (the budget did not allow it)
    summary: str = ""
    classification: str | None = None  # the engine's classification of the lookup's answer
    account_id: str | None = None  # the session's own account, when it proved logged in
    steps: list[Step] = field(default_factory=list)
    tested_at: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        """True when the pair works."""
        return self.result == OK

    def to_dict(self) -> dict[str, Any]:
        """The report as the API shows it."""
        return {
            "proxy_id": self.proxy_id,
            "proxy": self.proxy,
            "username": self.username,
            "tested_at": iso(datetime.fromtimestamp(self.tested_at, UTC)),
            "result": self.result,
            "ok": self.ok,
            "summary": self.summary,
            "classification": self.classification,
            "account_id": self.account_id,
            "steps": [step.to_dict() for step in self.steps],
        }


# ---------------------------------------------------------------------------------- reading


def steps_for_answer(  # noqa: C901 - one branch per classification, read as a table
    cls: Classification,
    *,
    message: str,
    username: str,
    account_id: str | None,
    answer_ms: int,
    budget_note: str,
    retry_after: float | None = None,
    user_id: str | None = None,
) -> tuple[bool, str, list[Step]]:
    """What one lookup's classified answer says about the pair: (ok, summary, the 3 steps
    after "proxy reachable"). Pure: step 5 of `pairtest`'s docstring."""
    value = cls.value
    who = f"as {account_id}" if account_id else "(account id unknown)"
    answered = Step("instagram", OK, f"answered in {answer_ms} ms", value, answer_ms)
    logged_in = Step("session", OK, f"logged in {who}", value)
    unknown_session = Step("session", UNKNOWN, "not known: Instagram refused before saying", value)
    not_limited = Step("limits", OK, f"not limited; {budget_note}", value)
    ok_summary = f"ok — logged in as {account_id}" if account_id else "ok — logged in"

    if cls is Classification.SUCCESS:
        answered.detail += f": @{username} is account {user_id}" if user_id else ""
        return True, ok_summary, [answered, logged_in, not_limited]
    if cls in (Classification.NOT_FOUND, Classification.PROFILE_UNAVAILABLE):
        missing = "does not exist" if cls is Classification.NOT_FOUND else "cannot be looked up"
        answered.detail += f": @{username} {missing} (a logged-in answer)"
        return True, f"{ok_summary} (@{username} {missing})", [answered, logged_in, not_limited]
    if cls is Classification.SESSION_INVALID:
        return (
            False,
            "session logged out",
            [
                _answered_with(answered, message),
                Step("session", FAILED, "session logged out: paste a new session", value),
                Step("limits", SKIPPED, "not known while logged out", value),
            ],
        )
    if cls is Classification.CHALLENGE:
        return (
            False,
            "challenge required",
            [
                _answered_with(answered, message),
                Step(
                    "session",
                    FAILED,
                    "a checkpoint/challenge blocks the session: clear it "
                    "in a browser, then replace the session",
                    value,
                ),
                Step("limits", FAILED, "challenge required", value),
            ],
        )
    if cls is Classification.ACTION_BLOCKED:
        return (
            False,
            "action blocked",
            [
                _answered_with(answered, message),
                Step("session", OK, f"logged in {who}", value),
                Step(
                    "limits",
                    FAILED,
                    "action blocked (feedback_required): the session rests for hours",
                    value,
                ),
            ],
        )
    if cls is Classification.RATE_LIMITED:
        wait = f" (retry after {retry_after:g} s)" if retry_after else ""
        return (
            False,
            f"rate limited{wait}",
            [
                _answered_with(answered, message),
                unknown_session,
                Step("limits", FAILED, f"rate limited{wait}; {budget_note}", value),
            ],
        )
    if cls is Classification.CLIENT_REFUSED:
        return (
            False,
            "user agent refused",
            [
                _answered_with(answered, message),
                unknown_session,
                Step(
                    "limits",
                    FAILED,
                    "Instagram refused this client: set a current user agent",
                    value,
                ),
            ],
        )
    if cls is Classification.ADDRESS_BLOCKED:
        return (
            False,
            "proxy address blocked by Instagram",
            [
                Step(
                    "instagram",
                    FAILED,
                    f"Instagram's edge blocked the proxy's address ({message})",
                    value,
                    answer_ms,
                ),
                unknown_session,
                Step("limits", FAILED, "address blocked: use another proxy", value),
            ],
        )
    if cls is Classification.CONNECTION_FAILED:
        summary = "Instagram did not answer through the proxy"
        if "407" in message:
            summary = "proxy refused the credentials (407)"
        return (
            False,
            summary,
            [
                Step("instagram", FAILED, f"{summary}: {message}", value, answer_ms),
                Step("session", SKIPPED, "not tried: no answer", value),
                Step("limits", SKIPPED, "not tried: no answer", value),
            ],
        )
    # Transient (5xx, malformed, cut off) and anything a lookup should never answer.
    return (
        False,
        f"Instagram answered with an error ({message})",
        [
            Step("instagram", FAILED, f"answered, but nothing usable: {message}", value, answer_ms),
            unknown_session,
            Step("limits", UNKNOWN, "not known", value),
        ],
    )


def _answered_with(step: Step, message: str) -> Step:
    step.detail += f": {message}"
    return step


def skipped_after(reason: str) -> list[Step]:
    """The three steps after the proxy's, not tried for `reason`."""
    return [
        Step(name, SKIPPED, f"not tried: {reason}") for name in ("instagram", "session", "limits")
    ]
