"""Pair tests: one lookup of a well-known account through a pair, reported step by step.

A new or edited pair is `untested` until a test proves it. A test

1. builds the pair's identity the way the engine does (decrypted cookies, user agent, proxy
   URL) and refuses a proxy host that resolves to an internal address (the engine's rule);
2. opens one TCP connection to the proxy: **proxy reachable**, with the time it took;
3. takes one lookup from the pair's pacing budget (`testbudget`: the engine's own pacer when
   it runs in this process, else the usage ledger) — a test never pushes a pair over its limit;
4. sends ONE lookup (`web_profile_info` of the test username, default `instagram`) with the
   engine's checker (`InstagramChecker`: its client, headers, cookies, deadline, retry-once
   and answer classification; cookies Instagram rotates are saved as the engine saves them);
5. reads the classification into the steps **Instagram answered**, **session logged in**
   (with the session's account id — never a cookie) and **limit state**.

The result is stored on the pair (`last_tested_at`, `last_test_ok`, `last_test_summary`,
`last_test_steps`) unless the test could not be sent (budget) or the pair was edited while it
ran. A test is no engine work: no batch sees it, and the pair's health and counters stay the
engine's (its next request applies what it finds).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from storycheck.crypto import SecretBox, SecretKeyError
from storycheck.db import Database
from storycheck.engine.checker import CheckOutcome, InstagramChecker, WorkItem
from storycheck.engine.errors import Classification, ConnectionFailed, RateLimited, classify
from storycheck.engine.options import EngineOptions
from storycheck.engine.pairs import build_identity, label_of
from storycheck.engine.pairstore import PairStore
from storycheck.engine.pool import WorkerPool
from storycheck.engine.types import EngineSettings, PairRow
from storycheck.errors import NotFound, ValidationError
from storycheck.proxies.identity import rotation_saver
from storycheck.proxies.models import IgSession, Proxy
from storycheck.proxies.sessions import ds_user_id_of
from storycheck.proxies.testbudget import PairBudget, budget_for
from storycheck.proxies.testreport import (
    FAILED,
    OK,
    SKIPPED,
    PairTestReport,
    Step,
    skipped_after,
    steps_for_answer,
)

DEFAULT_USERNAME = "instagram"
CONCURRENCY = 4  # pairs tested at once by "Test all"
PROXY_CONNECT_SECONDS = 5.0  # the TCP connection to the proxy (capped by proxy_test_timeout)
_USERNAME = re.compile(r"\A[A-Za-z0-9._]{1,30}\Z")


# ---------------------------------------------------------------------------------- running


@dataclass(frozen=True)
class RunContext:
    """What every test of one run shares."""

    db: Database
    secrets: SecretBox
    base_url: str
    username: str
    settings: EngineSettings
    budget: PairBudget


async def run_pair_test(row: PairRow, context: RunContext) -> PairTestReport:
    """Test one pair (see the module docstring); never raises for what the pair does."""
    report = PairTestReport(row.proxy_id, label_of(row), context.username)
    timeout = float(max(1, context.settings.proxy_test_timeout))
    identity, problem = build_identity(row, context.secrets)
    if identity is None:
        report.summary = problem or "no session"
        report.steps = [
            Step("proxy", SKIPPED, f"not tried: {report.summary}"),
            *skipped_after(report.summary),
        ]
        return report
    checker = InstagramChecker(
        base_url=context.base_url, save_rotated=rotation_saver(context.db, context.secrets)
    )
    try:
        try:
            await checker.client_for(identity)  # refuses a host resolving to an internal address
        except ConnectionFailed as exc:
            report.summary = "proxy refused: " + exc.message
            report.classification = Classification.CONNECTION_FAILED.value
            report.steps = [
                Step("proxy", FAILED, report.summary, report.classification),
                *skipped_after("the proxy was refused"),
            ]
            return report
        connect_ms, failure = await _connect(row.ip, row.port, min(timeout, PROXY_CONNECT_SECONDS))
        if failure is not None:
            report.summary = "proxy unreachable"
            report.classification = Classification.CONNECTION_FAILED.value
            report.steps = [
                Step(
                    "proxy",
                    FAILED,
                    f"proxy unreachable: {failure}",
                    report.classification,
                    connect_ms,
                ),
                *skipped_after("the proxy is unreachable"),
            ]
            return report
        proxy_step = Step(
            "proxy",
            OK,
            f"{label_of(row)} accepted a connection in {connect_ms} ms",
            None,
            connect_ms,
        )
        grant = await context.budget.take(row.proxy_id)
        if not grant.granted:
            report.result = "not_sent"
            report.summary = grant.note
            report.steps = [proxy_step, *skipped_after("the pair's budget does not allow it now")]
            return report
        item = WorkItem(
            id="pair-test", batch_id="", profile_id="", username=context.username, lease_token=""
        )
        report.tested_at = time.time()
        try:
            outcome = await checker.check(
                identity, "lookup", [item], dense_doc_id=None, timeout=timeout
            )
        finally:
            await context.budget.give_back(row.proxy_id)
        _read_outcome(
            report,
            outcome,
            item.id,
            identity.ds_user_id or ds_user_id_of(identity.sessionid),
            proxy_step,
            grant.note,
        )
        return report
    finally:
        await checker.aclose()


def _read_outcome(
    report: PairTestReport,
    outcome: CheckOutcome,
    item_id: str,
    account_id: str | None,
    proxy_step: Step,
    budget_note: str,
) -> None:
    answer = outcome.answers.get(item_id)
    cls = classify(outcome.failure)
    if answer is not None and answer.not_found:
        cls = Classification.NOT_FOUND
    failure = outcome.failure
    ok, summary, steps = steps_for_answer(
        cls,
        message=failure.message if failure is not None else "",
        username=report.username,
        account_id=account_id,
        answer_ms=round(outcome.elapsed * 1000),
        budget_note=budget_note,
        retry_after=failure.retry_after if isinstance(failure, RateLimited) else None,
        user_id=answer.ig_user_id if answer is not None else None,
    )
    report.result = OK if ok else FAILED
    report.summary = summary
    report.classification = cls.value
    report.account_id = account_id if ok or cls is Classification.ACTION_BLOCKED else None
    report.steps = [proxy_step, *steps]


async def _connect(host: str, port: int, timeout: float) -> tuple[int | None, str | None]:
    """Open (and close) one TCP connection: (milliseconds, None) or (ms or None, the failure)."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host.strip("[]"), port)
    except TimeoutError:
        return None, f"no connection within {timeout:g} s"
    except ConnectionRefusedError:
        return _ms(started), f"connection refused by {host}:{port}"
    except socket.gaierror:
        return _ms(started), f"host name {host} not found"
    except OSError as exc:
        return _ms(started), f"{type(exc).__name__}: {exc.strerror or exc}"
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return _ms(started), None


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


# ---------------------------------------------------------------------------------- service


def clean_username(value: object, default: str) -> str:
    """The test username: given in the request, else the configured one (400 if malformed)."""
    if value is None or value == "":
        return default
    if not isinstance(value, str) or not _USERNAME.match(value.strip().lstrip("@")):
        raise ValidationError(
            "username must be an Instagram username (letters, digits, . and _; at most 30)",
            details={"field": "username"},
        )
    return value.strip().lstrip("@")


def run_tests(
    *,
    db: Database,
    secrets: SecretBox,
    pool: WorkerPool | None,
    base_url: str,
    proxy_ids: Sequence[str],
    username: str,
    options: EngineOptions | None = None,
) -> list[PairTestReport]:
    """Test these pairs (at most `CONCURRENCY` at once) and store each result; unknown ids
    are skipped, and none known is a 404. Blocking: runs its own event loop."""
    store = PairStore(db)
    wanted = list(dict.fromkeys(proxy_ids))
    rows = {row.proxy_id: row for row in store.load_pairs(only=wanted)}
    if not rows:
        shown = wanted[0][:64] if wanted else ""
        raise NotFound(f"Proxy {shown} not found", details={"proxy_id": shown})
    settings = store.load_settings()
    options = options or EngineOptions.from_env()
    context = RunContext(
        db=db,
        secrets=secrets,
        base_url=base_url,
        username=username,
        settings=settings,
        budget=budget_for(pool, db, settings, options),
    )
    return asyncio.run(_run_all([rows[i] for i in wanted if i in rows], context))


async def _run_all(rows: list[PairRow], context: RunContext) -> list[PairTestReport]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(row: PairRow) -> PairTestReport:
        async with gate:
            report = await run_pair_test(row, context)
            if report.result != "not_sent":
                await asyncio.to_thread(record, context.db, context.secrets, row, report)
            return report

    return list(await asyncio.gather(*(one(row) for row in rows)))


def record(db: Database, secrets: SecretBox, tested: PairRow, report: PairTestReport) -> bool:
    """Store the result on the pair, unless the pair was edited (or deleted) meanwhile."""
    with db.write() as session:
        proxy = session.get(Proxy, tested.proxy_id)
        row = session.scalar(select(IgSession).where(IgSession.proxy_id == tested.proxy_id))
        if proxy is None or not _same_pair(proxy, row, tested, secrets):
            return False
        proxy.last_tested_at = datetime.fromtimestamp(report.tested_at, UTC)
        proxy.last_test_ok = report.ok
        proxy.last_test_summary = report.summary[:300]
        proxy.last_test_steps = json.dumps(
            {
                "username": report.username,
                "result": report.result,
                "classification": report.classification,
                "account_id": report.account_id,
                "steps": [asdict(step) for step in report.steps],
            }
        )
        return True


def _same_pair(proxy: Proxy, row: IgSession | None, tested: PairRow, secrets: SecretBox) -> bool:
    """True when the stored pair is still the one tested (the session may have rotated its
    cookies during the test; a cookie the user replaced is a different pair)."""
    now = (
        proxy.scheme,
        proxy.ip,
        proxy.port,
        proxy.username,
        proxy.password_encrypted,
        proxy.user_agent,
        row.id if row else None,
    )
    then = (
        tested.scheme,
        tested.ip,
        tested.port,
        tested.username,
        tested.password_encrypted,
        tested.user_agent,
        tested.session_id,
    )
    if now != then:
        return False
    if row is None or tested.session_encrypted is None:
        return True
    if row.session_encrypted == tested.session_encrypted:
        return True
    try:  # re-encrypted by a rotation, or replaced by the user?
        old = ds_user_id_of(secrets.decrypt(tested.session_encrypted))
        return old is not None and old == ds_user_id_of(secrets.decrypt(row.session_encrypted))
    except SecretKeyError:
        return False
