"""Proxy + session pair bodies and answers (secrets are always masked in answers).

The routes validate each body through its model. Where the original contract fixed other error
codes than the API's own (`missing_field`, `missing_fields`, `invalid_request` — the original
client's proxy screen reads them), the model says so in its `error_contract`, which the one
validation handler in `web/errors.py` applies. The session and user-agent checks are the
functions of `proxies/sessions.py`, run inside the model (`Cleaned`), so their sentences and
codes are written once. `ProxyCreate` (`POST /api/proxies`) has two shapes, `{ip, port, …}` or
`{url, …}`: a before-validator lists the keys its shape lacks (`missing_fields`), then
`proxies/service.py`'s `parse_proxy` (also the demo's) runs inside the model as `Cleaned`, so
the original's mixed codes (`validation_error`, `invalid_request`) and sentences stay as they
were and a password or cookie is never repeated.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import Field, SkipValidation, model_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from storycheck.errors import ValidationError
from storycheck.fields import Answer, Body, Choice, Cleaned, ErrorContract, Present
from storycheck.proxies.models import PAIR_HEALTH_VALUES, PROXY_SCHEMES, PROXY_STATUSES
from storycheck.proxies.service import (
    ProxyInput,
    import_lines,
    missing_proxy_fields,
    parse_proxy,
)
from storycheck.proxies.sessions import SessionCookies, clean_user_agent, parse_session
from storycheck.proxies.teststate import STEPS, TEST_STATES

SessionValue = str | list[dict[str, Any]]
SESSION_HELP = (
    "A sessionid, a cookie string as a browser sends it, or a cookie export (list of objects)"
)
# The session as pasted, cleaned into its cookies; blank or null is a missing key.
Session = Annotated[
    SessionCookies, Cleaned(parse_session, SessionValue, blank_is_missing=True),
    Field(description=SESSION_HELP),
]
# A pair's user agent: null or "" is the default desktop Chrome.
UserAgent = Annotated[str | None, Cleaned(clean_user_agent, str | None)]


def clean_proxy_ids(value: object) -> list[str]:
    """A list of proxy ids (non-empty strings), or a 400."""
    if not isinstance(value, list) or not all(isinstance(i, str) and i for i in value):
        raise ValidationError("ids must be a list of proxy ids", details={"field": "ids"})
    return value


def _parse_proxy(value: object) -> ProxyInput:
    if not isinstance(value, Mapping):
        raise ValidationError("The request body must be a JSON object", code="invalid_request")
    return parse_proxy(value)


class ProxyCreate(Body):
    """`POST /api/proxies`: `{ip, port, session, …}` (a `scheme://` prefix in `ip` sets the
    scheme) or `{url, session}`; the keys the shape lacks are listed in `missing_fields`."""

    # The keys below document the body as sent. The model checks it as a whole: first the keys
    # either shape lacks, listed together, then `parse_proxy` (with its own sentences and
    # codes) into `pair`, the pair to store.
    error_contract: ClassVar[ErrorContract] = ErrorContract(missing="list")
    ip: SkipValidation[str | None] = None
    port: SkipValidation[int | str | None] = None
    scheme: SkipValidation[Annotated[str, Choice(PROXY_SCHEMES)] | None] = None
    username: SkipValidation[str | None] = None
    password: SkipValidation[str | None] = None
    url: SkipValidation[str | None] = Field(
        default=None, description="scheme://user:pass@host:port"
    )
    user_agent: SkipValidation[str | None] = None
    session: SkipValidation[SessionValue] = Field(description=SESSION_HELP)
    pair: SkipJsonSchema[Annotated[ProxyInput, Cleaned(_parse_proxy, dict[str, Any])]]

    @model_validator(mode="before")
    @classmethod
    def _whole_body(cls, data: Any) -> Any:
        """Refuse a body lacking keys of its shape; hand the whole body to `pair`."""
        if not isinstance(data, Mapping):
            return data
        missing = missing_proxy_fields(data)
        if missing:
            raise PydanticCustomError(
                "missing", "Missing required fields", {"field": missing[0], "fields": missing}
            )
        return {**data, "pair": data}


class ProxyImport(Body):
    """`POST /api/proxies/import`: one `proxy_url|session` per line (numbered, blank and `#`
    lines left out)."""

    lines: Annotated[list[tuple[int, str]], Cleaned(import_lines, str | list[str])]


class ProxyStatusChange(Body):
    """`PATCH /api/proxies/{id}/status` (`missing_field` / `invalid_request` as the original)."""

    error_contract: ClassVar[ErrorContract] = ErrorContract(
        invalid_code="invalid_request", missing="single"
    )
    status: Annotated[str, Present(Choice(PROXY_STATUSES))]


class SessionChange(Body):
    """`PUT /api/proxies/{id}/session`: without `user_agent` the pair keeps its own."""

    error_contract: ClassVar[ErrorContract] = ErrorContract(missing="list")
    session: Session
    user_agent: UserAgent = None


class UserAgentChange(Body):
    """`PUT /api/proxies/{id}/user-agent`: null or "" means the default desktop Chrome."""

    error_contract: ClassVar[ErrorContract] = ErrorContract(missing="list")
    user_agent: UserAgent


class PairTestRequest(Body):
    """`POST /api/proxies/{id}/test`: the account to look up (default: the configured one)."""

    username: str | None = None


class PairTestAllRequest(Body):
    """`POST /api/proxies/test`: the pairs to test (default: every switched-on pair)."""

    ids: Annotated[list[str], Cleaned(clean_proxy_ids, list[str])] | None = None
    username: str | None = None


class PairTestStep(Answer):
    """One step of a pair test in words, with the engine's classification of the answer."""

    name: Annotated[str, Choice(tuple(STEPS))]
    title: str
    status: Annotated[str, Choice(("ok", "failed", "unknown", "skipped"))]
    detail: str
    classification: str | None
    ms: int | None


class PairTestReport(Answer):
    """The report of one pair test: proxy reachable, Instagram answered, logged in, limits."""

    proxy_id: str
    proxy: str = Field(description="scheme://host:port")
    username: str
    tested_at: datetime | None
    result: Annotated[str, Choice(("ok", "failed", "not_sent"))]
    ok: bool
    summary: str
    classification: str | None
    account_id: str | None = Field(description="the session's own account id, when logged in")
    steps: list[PairTestStep]


class PairTestSummary(Answer):
    """A pair's last test in short (the pair list shows it)."""

    tested_at: datetime | None
    ok: bool
    summary: str | None


class StoredPairTest(PairTestSummary):
    """A pair's last test in full, as stored."""

    username: str | None
    result: str | None
    classification: str | None
    account_id: str | None
    steps: list[PairTestStep]


class PairTestState(Answer):
    """`GET /api/proxies/{id}/test`: the pair's test state and last result (null: untested)."""

    proxy_id: str
    test_state: Annotated[str, Choice(TEST_STATES)]
    last_test: StoredPairTest | None


class ProxySession(Answer):
    """A pair's Instagram session (masked) and the names of its other cookies."""

    id: str
    session: str
    status: str
    cookies: list[str]


class Proxy(Answer):
    """A proxy + session pair with its health and counters."""

    id: str
    ip: str
    port: int
    scheme: str
    username: str | None
    password: str | None = Field(description="`…` when set")
    url: str = Field(description="scheme://user:…@host:port")
    is_active: bool
    status: str
    health: Annotated[str, Choice(PAIR_HEALTH_VALUES)]
    cooldown_until: datetime | None
    error_score: float
    consecutive_failures: int
    total_requests: int
    failed_requests: int
    requests_this_hour: int
    learned_hourly_limit: int | None
    error_rate: float
    error_count: int
    avg_response_time: int
    last_used: datetime | None
    last_success: datetime | None
    last_error: str | None
    user_agent: str | None
    test_state: Annotated[str, Choice(TEST_STATES)] = Field(
        description="untested until a pair test proves it (an edit makes it untested again)"
    )
    last_test: PairTestSummary | None
    sessions: list[ProxySession]
    created_at: datetime | None
    updated_at: datetime | None


class ProxyImportLineError(Answer):
    """A line that was not imported (masked) and why."""

    line: str
    line_number: int
    error: str


class ProxyImportReport(Answer):
    """What a proxy import created and which lines it refused."""

    created: list[Proxy]
    errors: list[ProxyImportLineError]
    total: int
    created_count: int
    error_count: int


class ProxyErrorLog(Answer):
    """One error (or state change) of a pair."""

    id: str
    proxy_id: str | None
    session_id: str | None
    timestamp: datetime | None
    error_message: str
    state_change: bool
    transition_reason: str | None
    recovery_time: datetime | None


class ProxyErrorLogPage(Answer):
    """A page of a pair's error log, newest first."""

    logs: list[ProxyErrorLog]
    total: int
    limit: int
    offset: int
