"""Recording events in the caller's transaction, and reading them back for the API and senders."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storycheck.alerts.models import EVENT_TYPES, AlertEvent
from storycheck.batches.answers import batch_answers
from storycheck.db import new_id, utcnow


def record_event(
    conn: Connection | Session,
    event_type: str,
    payload: Mapping[str, Any],
    *,
    dedupe_key: str,
    niche_id: str | None = None,
    subject_id: str | None = None,
    now: datetime | None = None,
) -> str | None:
    """Write one `events` row in the caller's transaction; return its id, or None when an
    event with the same `dedupe_key` exists already (recording a fact twice adds nothing)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    event_id = new_id()
    values = {
        "id": event_id,
        "type": event_type,
        "payload": json.dumps(payload, separators=(",", ":"), default=str),
        "dedupe_key": dedupe_key[:255],
        "niche_id": niche_id,
        "subject_id": subject_id,
        "created_at": now or utcnow(),
    }
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    dialect = bind.dialect.name
    if dialect == "sqlite":
        statement: Any = sqlite_insert(AlertEvent).values(values).on_conflict_do_nothing(
            index_elements=["dedupe_key"]
        )
    elif dialect == "postgresql":
        statement = pg_insert(AlertEvent).values(values).on_conflict_do_nothing(
            index_elements=["dedupe_key"]
        )
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        if event_exists(conn, dedupe_key):
            return None
        statement = insert(AlertEvent).values(values)
    inserted = conn.execute(statement.returning(AlertEvent.id)).scalar_one_or_none()
    return str(inserted) if inserted is not None else None


def event_exists(conn: Connection | Session, dedupe_key: str) -> bool:
    """True when an event with this dedupe key was recorded."""
    found = conn.execute(select(AlertEvent.id).where(AlertEvent.dedupe_key == dedupe_key))
    return found.first() is not None


def event_to_dict(event: AlertEvent) -> dict[str, Any]:
    """The event object of the API and of webhook bodies."""
    payload = json.loads(event.payload)
    return {
        "id": event.id,
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "niche_id": event.niche_id,
        "subject_id": event.subject_id,
        "summary": summary(event.type, payload),
        "payload": payload,
    }


def latest_events(
    session: Session, *, limit: int, event_type: str | None = None
) -> Sequence[AlertEvent]:
    """The newest events first (the header bell)."""
    query = select(AlertEvent).order_by(AlertEvent.created_at.desc(), AlertEvent.id).limit(limit)
    if event_type:
        query = query.where(AlertEvent.type == event_type)
    return session.scalars(query).all()


def summary(event_type: str, payload: Mapping[str, Any]) -> str:
    """One human sentence for an event (email subjects, chat templates, the bell)."""
    niche = payload.get("niche_name") or payload.get("niche_id") or "no niche"
    if event_type == "story.detected":
        return f"@{payload.get('username', '?')} posted a story ({niche})"
    if event_type == "niche.target_reached":
        return (
            f"Niche {niche} reached its daily target: {payload.get('stories_today', '?')} "
            f"of {payload.get('daily_story_target', '?')} accounts with a story today"
        )
    if event_type == "batch.completed":
        return _batch_completed(niche, payload)
    if event_type == "batch.stalled":
        why = payload.get("waiting_reason") or "no usable proxy+session pair"
        return (
            f"Batch of {niche} is stalled for {payload.get('stalled_minutes', '?')} minutes: "
            f"{why}"
        )
    if event_type == "pair.needs_attention":
        return (
            f"Pair {payload.get('proxy', payload.get('proxy_id', '?'))} needs attention: "
            f"{payload.get('health', '?')} ({payload.get('reason') or 'no reason given'})"
        )
    return event_type


def _batch_completed(niche: str, payload: Mapping[str, Any]) -> str:
    """The answers of a finished batch, unknowns said apart from "no story"."""
    missing = payload.get("not_found_profiles") or 0
    checked = (
        f"{payload.get('completed_profiles', 0)} of {payload.get('total_profiles', 0)} checks"
    )
    if "no_story" not in payload:  # an event recorded before the answers were split
        return (
            f"Batch of {niche} finished: {payload.get('stories_found', 0)} stories in {checked}"
            + (f" ({missing} accounts do not exist)" if missing else "")
        )
    answers = batch_answers(
        completed=payload.get("completed_profiles") or 0,
        stories=payload.get("stories_found") or 0,
        failed_checks=payload.get("failed_checks") or 0,
        private=payload.get("private_profiles") or 0,
        not_found=missing,
    )
    stories = answers.stories
    return (
        f"Batch of {niche} finished: {stories} {'story' if stories == 1 else 'stories'}, "
        f"{payload['no_story']} no story"
        + (f", {answers.private} unknown (private, not followed)" if answers.private else "")
        + (f", {answers.failed} failed (unknown)" if answers.failed else "")
        + (f", {missing} do not exist" if missing else "")
        + f" ({checked})"
    )
