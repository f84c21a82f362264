"""The unit of work and the `Checker` protocol: a pair plus claimed items in, outcomes out.

The scheduler decides *what* one request carries (a username lookup, or a group of user ids
for a story query) and *which* pair sends it; a `Checker` sends it and reports per-item
answers, or the one classified failure that hit the whole request. `InstagramChecker` does
this over HTTP with one `InstagramClient` per pair; unit tests pass a fake.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from storycheck.engine.client import InstagramClient, PairIdentity, RotatedState, redact
from storycheck.engine.errors import ConnectionFailed, IgError, NotFoundUser, Transient
from storycheck.engine.pacing import Kind
from storycheck.proxies.service import forbidden_proxy_address

log = logging.getLogger(__name__)

# Persists a pair's rotated cookies and www-claim: (session row id, state). Blocking (it writes
# the database), so the checker runs it in a thread.
RotationSaver = Callable[[str, RotatedState], None]


@dataclass(eq=False)
class WorkItem:
    """One leased batch item (a `batch_profiles` row) while the engine holds it."""

    id: str  # batch_profiles.id
    batch_id: str
    profile_id: str
    username: str
    lease_token: str
    ig_user_id: str | None = None
    is_private: bool | None = None
    attempts: int = 0
    last_error: str | None = None
    avoid_pair: str | None = None  # retry elsewhere after a transient failure
    resolved_now: bool = False  # the id was looked up in this run: cache it on the profile
    identity_checked_at: float | None = None  # when the cached id/privacy were looked up
    ready_since: float = 0.0


@dataclass(frozen=True)
class ItemAnswer:
    """What Instagram said about one item: its identity (lookup) or its stories (query)."""

    item_id: str
    ig_user_id: str | None = None
    is_private: bool | None = None
    followed_by_viewer: bool | None = None  # lookup: does this pair's session follow the user
    not_found: bool = False
    has_story: bool = False
    story_count: int = 0
    oldest_taken_at: int | None = None  # epoch seconds of the oldest live story item
    newest_taken_at: int | None = None  # epoch seconds of the newest live story item
    expiring_at: int | None = None  # epoch seconds when the newest item expires
    unproven: str | None = None  # stories: why the answer proves nothing about this id
    owner_username: str | None = None  # stories: the name the reel gives the id's account


@dataclass
class CheckOutcome:
    """The result of one request: per-item answers, or the failure of the whole request."""

    answers: dict[str, ItemAnswer] = field(default_factory=dict)
    failure: IgError | None = None
    elapsed: float = 0.0
    answered_at: float = 0.0


class Checker(Protocol):
    """Sends one request for `items` through `pair` and reports the outcome (never raises
    for Instagram's answers: they come back classified in `CheckOutcome.failure`)."""

    async def check(
        self,
        pair: PairIdentity,
        kind: Kind,
        items: Sequence[WorkItem],
        *,
        dense_doc_id: str | None,
        timeout: float,
    ) -> CheckOutcome:
        """Look up the one item (`kind="lookup"`) or query the stories of all `items`.

        Story queries use v1 reels_media (≤ 20 ids) unless `dense_doc_id` is non-empty: then
        the web app's `POST /graphql/query` with that doc_id, whose failures that are not the
        pair's problem come back as `DenseUnavailable` (for this pair only).
        """

    async def forget_pair(self, proxy_id: str) -> None:
        """Close what belongs to a pair that changed or disappeared."""

    async def aclose(self) -> None:
        """Release every connection."""


class InstagramChecker:
    """The real checker: one `InstagramClient` (one proxy-bound connection pool) per pair."""

    def __init__(
        self,
        *,
        base_url: str,
        transport_factory: Callable[[], httpx.AsyncBaseTransport] | None = None,
        save_rotated: RotationSaver | None = None,
    ) -> None:
        self.base_url = base_url
        self._transport_factory = transport_factory
        self._save_rotated = save_rotated
        self._clients: dict[str, tuple[PairIdentity, InstagramClient]] = {}

    async def client_for(self, pair: PairIdentity) -> InstagramClient:
        """The pair's client, rebuilt when its proxy or session changed.

        A pair has one request in flight at most, and this is called when the next one
        starts, so a replaced client is idle and can be closed at once.
        """
        entry = self._clients.get(pair.proxy_id)
        if entry is not None and _same_identity(entry[0], entry[1], pair):
            return entry[1]
        await _refuse_internal_proxy(pair)
        client = InstagramClient(
            pair, base_url=self.base_url, transport_factory=self._transport_factory
        )
        self._clients[pair.proxy_id] = (pair, client)
        if entry is not None:
            await entry[1].aclose()
        return client

    async def check(
        self,
        pair: PairIdentity,
        kind: Kind,
        items: Sequence[WorkItem],
        *,
        dense_doc_id: str | None,
        timeout: float,
    ) -> CheckOutcome:
        """Send one lookup or one story query and turn the answer into per-item answers."""
        outcome = CheckOutcome()
        started = time.monotonic()
        client: InstagramClient | None = None
        try:
            client = await self.client_for(pair)
            if kind == "lookup":
                item = items[0]
                try:
                    user = await client.resolve(item.username, timeout=timeout)
                except NotFoundUser:
                    outcome.answers[item.id] = ItemAnswer(item.id, not_found=True)
                else:
                    outcome.answers[item.id] = ItemAnswer(
                        item.id,
                        ig_user_id=user.user_id,
                        is_private=user.is_private,
                        followed_by_viewer=user.followed_by_viewer,
                    )
            else:
                ids = [item.ig_user_id for item in items if item.ig_user_id]
                reels = await client.stories(ids, dense_doc_id=dense_doc_id, timeout=timeout)
                for item in items:
                    reel = reels.get(item.ig_user_id or "")
                    if reel is None:
                        outcome.failure = Transient("answer lacks a requested id")
                        outcome.answers.clear()
                        break
                    outcome.answers[item.id] = ItemAnswer(
                        item.id,
                        ig_user_id=item.ig_user_id,
                        has_story=reel.has_story,
                        story_count=reel.item_count,
                        oldest_taken_at=reel.oldest_taken_at,
                        newest_taken_at=reel.newest_taken_at,
                        expiring_at=reel.expiring_at,
                        unproven=reel.unproven,
                        owner_username=reel.username,
                    )
        except IgError as exc:
            outcome.failure = exc
            outcome.answers.clear()
        except Exception as exc:  # noqa: BLE001 - any client-side failure is this request's
            # E.g. a malformed proxy URL: its text may hold the proxy password.
            message = redact(str(exc), pair.secrets())[:120]
            outcome.failure = Transient(f"client error {type(exc).__name__}: {message}")
            outcome.answers.clear()
        if client is not None:
            await self._persist(pair, client)
        outcome.elapsed = time.monotonic() - started
        outcome.answered_at = time.time()
        return outcome

    async def _persist(self, pair: PairIdentity, client: InstagramClient) -> None:
        """Save cookies / www-claim Instagram rotated during the request (only when changed)."""
        if self._save_rotated is None:
            return
        state = client.take_rotated()
        if state is None:
            return
        try:
            await asyncio.to_thread(self._save_rotated, pair.session_id, state)
        except Exception as exc:  # noqa: BLE001 - a failed save must not fail the answer
            client.mark_unsaved()
            log.warning("pair %s: rotated cookies not saved (%s)", pair.label, type(exc).__name__)

    async def forget_pair(self, proxy_id: str) -> None:
        """Close the pair's client."""
        entry = self._clients.pop(proxy_id, None)
        if entry is not None:
            await entry[1].aclose()

    async def aclose(self) -> None:
        """Close every client."""
        clients = [client for _, client in self._clients.values()]
        self._clients.clear()
        for client in clients:
            await client.aclose()


async def _refuse_internal_proxy(pair: PairIdentity) -> None:
    """Resolve the proxy's host name before first use and refuse internal addresses.

    The API refuses such addresses written as IPs; a name could still resolve to one (say,
    a cloud metadata service), so it is checked with the same rule when the pair's client is
    built. Refused pairs fail as connection failures and their circuit opens.
    """
    if not pair.proxy_url:
        return
    host = urlsplit(pair.proxy_url).hostname
    if not host:
        return
    try:
        ipaddress.ip_address(host)
        return  # a literal address: the API already applied the rule
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError:
        return  # unresolvable: the connection attempt reports it
    for info in infos:
        reason = forbidden_proxy_address(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
        if reason is not None:
            raise ConnectionFailed(f"proxy host {host} resolves to {reason}: refused")


def _same_identity(old: PairIdentity, client: InstagramClient, new: PairIdentity) -> bool:
    """True when `new` is the pair `client` already talks as.

    Cookies the client rotated itself (and persisted) come back in reloaded identities; they
    are its own state, so only a sessionid it never used means the user pasted a new cookie.
    """
    return (old.proxy_url, old.session_id, old.user_agent) == (
        new.proxy_url,
        new.session_id,
        new.user_agent,
    ) and new.sessionid in client.known_sessionids
