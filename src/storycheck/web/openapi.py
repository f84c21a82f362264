"""The OpenAPI 3.0 document served at /api/openapi.json (a test keeps it equal to the routes)."""

from __future__ import annotations

from functools import cache
from typing import Any

from storycheck import __version__

JSON = "application/json"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
TIME = _nullable({"type": "string", "format": "date-time"})
ID_LIST = _array({"type": "string"})

ERROR_STATUSES = {
    "400": "Bad input",
    "401": "API token missing or wrong",
    "404": "Unknown id",
    "405": "Method not allowed",
    "409": "Illegal transition or duplicate",
    "413": "Body too large",
    "415": "Unsupported media type",
    "502": "The receiver did not accept the message",
    "503": "Database busy; retry",
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(*codes: str) -> dict[str, Any]:
    chosen = codes or ("400", "404")
    return {
        code: _json(_ref("Error"), ERROR_STATUSES[code]) for code in (*chosen, "401", "405", "503")
    }


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    body_required: bool = True,
    errors: tuple[str, ...] = ("400", "404"),
    tag: str,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": {**responses, **_errors(*errors)},
    }
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": body_required, "content": {JSON: {"schema": body}}}
    return operation


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": STR}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {"error": STR, "message": STR, "details": {"type": "object"}, "running_batch_ids": ID_LIST},
        ["error", "message"],
    ),
    "Niche": _obj(
        {
            "id": STR,
            "name": STR,
            "order": INT,
            "daily_story_target": INT,
            "profile_count": INT,
            "created_at": TIME,
            "updated_at": TIME,
        },
        ["id", "name", "profile_count"],
    ),
    "Profile": _obj(
        {
            "id": STR,
            "username": STR,
            "url": _nullable(STR),
            "niche_id": _nullable(STR),
            "niche": _nullable(STR),
            "status": STR,
            "active_story": BOOL,
            "last_story_detected": TIME,
            "total_checks": INT,
            "total_detections": INT,
            "last_checked": TIME,
            "last_detected": TIME,
            "detection_rate": NUM,
            "is_private": _nullable(BOOL),
            "not_found": BOOL,
            "not_found_at": TIME,
            "story_posted_at": TIME,
            "story_expires_at": TIME,
            "story_live": BOOL,
            "created_at": TIME,
            "updated_at": TIME,
        },
        [
            "id",
            "username",
            "status",
            "active_story",
            "total_checks",
            "total_detections",
            "story_live",
        ],
    ),
    "LiveStory": _obj(
        {
            "profile_id": STR,
            "username": STR,
            "niche_id": _nullable(STR),
            "niche_name": _nullable(STR),
            "posted_at": TIME,
            "first_posted_at": TIME,
            "expires_at": TIME,
            "expires_in_seconds": INT,
            "item_count": INT,
            "checked_at": TIME,
            "story_url": STR,
        },
        ["profile_id", "username", "posted_at", "expires_at", "expires_in_seconds", "story_url"],
    ),
    "StoryWindow": _obj(
        {
            "id": STR,
            "first_taken_at": TIME,
            "last_taken_at": TIME,
            "expires_at": TIME,
            "item_count": INT,
            "first_seen_at": TIME,
            "last_seen_at": TIME,
            "batch_id": _nullable(STR),
            "live": BOOL,
        },
        ["id", "expires_at", "item_count", "first_seen_at", "last_seen_at", "live"],
    ),
    "BatchResult": _obj(
        {
            "profile_id": STR,
            "username": STR,
            "outcome": {
                "type": "string",
                "enum": ["story", "no_story", "private", "failed", "pending"],
            },
            "posted_at": TIME,
            "expires_at": TIME,
            "checked_at": TIME,
            "item_count": INT,
            "failure_kind": _nullable(STR),
            "error": _nullable(STR),
        },
        ["profile_id", "username", "outcome"],
    ),
    "ProfilePage": _obj(
        {
            "profiles": _array(_ref("Profile")),
            "total": INT,
            "total_is_estimate": BOOL,
            "page": INT,
            "page_size": INT,
            "next_cursor": _nullable(STR),
            "sort_column": _nullable(STR),
            "sort_direction": STR,
            "filters": {"type": "object"},
        },
        ["profiles", "total"],
    ),
    "ImportReport": _obj(
        {
            "created": _array(_ref("Profile")),
            "errors": _array(_obj({"line": STR, "error": STR, "line_number": INT})),
            "total": INT,
            "created_count": INT,
            "error_count": INT,
            "duplicate_count": INT,
            "invalid_format_count": INT,
            "created_truncated": BOOL,
            "errors_truncated": BOOL,
        },
        ["created", "errors"],
    ),
    "Batch": _obj(
        {
            "id": STR,
            "niche_id": STR,
            "niche": _ref("Niche"),
            "status": {"type": "string", "enum": ["queued", "in_progress", "paused", "done"]},
            "queue_position": _nullable(INT),
            "total_profiles": INT,
            "completed_profiles": INT,
            "successful_checks": INT,
            "failed_checks": INT,
            "completion_rate": NUM,
            "profiles_with_stories": _array(STR),
            "created_at": TIME,
            "updated_at": TIME,
            "started_at": TIME,
            "completed_at": TIME,
            "stories_found": INT,
            "checks_failed": INT,
            "private_profiles": INT,
            "pending_profiles": INT,
            "in_flight_profiles": INT,
            "rate_per_minute": INT,
            "eta_seconds": _nullable(INT),
            "allowed_actions": _array(
                {"type": "string", "enum": ["start", "stop", "resume", "reorder", "delete"]}
            ),
        },
        [
            "id",
            "niche",
            "status",
            "queue_position",
            "total_profiles",
            "completed_profiles",
            "successful_checks",
            "profiles_with_stories",
            "completed_at",
        ],
    ),
    "BatchItem": _obj(
        {
            "id": STR,
            "profile_id": STR,
            "username": STR,
            "status": {"type": "string", "enum": ["pending", "in_flight", "completed", "failed"]},
            "has_story": BOOL,
            "story_count": INT,
            "latest_story_at": TIME,
            "error": _nullable(STR),
            "outcome": _nullable({"type": "string", "enum": ["story", "no_story", "private"]}),
            "failure_kind": _nullable(
                {"type": "string", "enum": ["not_found", "unavailable", "transient"]}
            ),
            "attempts": INT,
            "proxy_id": _nullable(STR),
            "processed_at": TIME,
        },
    ),
    "BatchLog": _obj(
        {
            "id": STR,
            "batch_id": STR,
            "timestamp": TIME,
            "event_type": STR,
            "message": STR,
            "profile_id": _nullable(STR),
            "proxy_id": _nullable(STR),
        },
        ["id", "timestamp", "event_type", "message"],
    ),
    "BatchIds": _obj({"batch_ids": ID_LIST}, ["batch_ids"]),
    "Settings": _obj(
        {
            "id": INT,
            "profiles_per_minute": INT,
            "max_threads": INT,
            "max_concurrent_batches": INT,
            "default_batch_size": INT,
            "story_retention_hours": INT,
            "auto_trigger_enabled": BOOL,
            "min_trigger_interval": INT,
            "proxy_test_timeout": INT,
            "proxy_max_failures": INT,
            "proxy_hourly_limit": INT,
            "lookup_hourly_limit": INT,
            "min_request_interval": NUM,
            "reel_ids_per_request": INT,
            "max_attempts": INT,
            "request_jitter": NUM,
            "action_block_cooldown_hours": NUM,
            "not_found_recheck_days": INT,
            "dense_doc_id": STR,
            "notifications_enabled": BOOL,
            "notification_email": _nullable(STR),
            "created_at": TIME,
            "updated_at": TIME,
        },
    ),
    "Proxy": _obj(
        {
            "id": STR,
            "ip": STR,
            "port": INT,
            "scheme": STR,
            "username": _nullable(STR),
            "password": _nullable(STR),
            "url": STR,
            "is_active": BOOL,
            "status": STR,
            "health": {
                "type": "string",
                "enum": ["ready", "cooling", "open", "invalid", "challenge", "disabled"],
            },
            "cooldown_until": TIME,
            "error_score": NUM,
            "consecutive_failures": INT,
            "total_requests": INT,
            "failed_requests": INT,
            "requests_this_hour": INT,
            "learned_hourly_limit": _nullable(INT),
            "error_rate": NUM,
            "error_count": INT,
            "avg_response_time": INT,
            "last_used": TIME,
            "last_success": TIME,
            "last_error": _nullable(STR),
            "user_agent": _nullable(STR),
            "sessions": _array(
                _obj({"id": STR, "session": STR, "status": STR, "cookies": _array(STR)})
            ),
            "created_at": TIME,
            "updated_at": TIME,
        },
        ["id", "ip", "port", "status", "is_active", "health"],
    ),
    "ProxyErrorLog": _obj(
        {
            "id": STR,
            "proxy_id": _nullable(STR),
            "session_id": _nullable(STR),
            "timestamp": TIME,
            "error_message": STR,
            "state_change": BOOL,
            "transition_reason": _nullable(STR),
            "recovery_time": TIME,
        },
        ["id", "timestamp", "error_message"],
    ),
    "AlertChannel": _obj(
        {
            "id": STR,
            "name": STR,
            "kind": {"type": "string", "enum": ["webhook", "email"]},
            "enabled": BOOL,
            "event_types": ID_LIST,
            "niche_ids": ID_LIST,
            "rate_limit_per_minute": INT,
            "config": {
                "type": "object",
                "description": "webhook: url, timeout_seconds, max_attempts, template, template_field; "
                "email: host, port, security, username, from_address, to, digest_minutes, "
                "timeout_seconds, max_attempts",
            },
            "secret": _nullable({"type": "string", "description": "always `…` when set"}),
            "created_at": TIME,
            "updated_at": TIME,
        },
        ["id", "name", "kind", "enabled", "event_types", "niche_ids", "config", "secret"],
    ),
    "AlertChannelInput": _obj(
        {
            "name": STR,
            "kind": {"type": "string", "enum": ["webhook", "email"]},
            "enabled": BOOL,
            "event_types": ID_LIST,
            "niche_ids": ID_LIST,
            "rate_limit_per_minute": INT,
            "config": {"type": "object"},
            "secret": _nullable(STR),
            "password": _nullable(STR),
        },
    ),
    "AlertEvent": _obj(
        {
            "id": STR,
            "type": STR,
            "created_at": TIME,
            "niche_id": _nullable(STR),
            "subject_id": _nullable(STR),
            "summary": STR,
            "payload": {"type": "object"},
        },
        ["id", "type", "created_at", "summary", "payload"],
    ),
    "AlertDelivery": _obj(
        {
            "id": STR,
            "event_id": STR,
            "event_type": STR,
            "event_summary": STR,
            "channel_id": STR,
            "channel_name": STR,
            "status": {"type": "string", "enum": ["pending", "in_flight", "delivered", "failed"]},
            "attempts": INT,
            "last_error": _nullable(STR),
            "next_attempt_at": TIME,
            "delivered_at": TIME,
            "created_at": TIME,
        },
        ["id", "event_id", "channel_id", "status", "attempts"],
    ),
}


def _alert_paths() -> dict[str, Any]:
    channel_id, delivery_id = _path_param("channel_id"), _path_param("delivery_id")
    event_types = {
        "type": "string",
        "enum": [
            "story.detected",
            "niche.target_reached",
            "batch.completed",
            "batch.stalled",
            "pair.needs_attention",
        ],
    }
    return {
        "/api/alerts/channels": {
            "get": _op(
                "List alert channels (secrets masked)",
                {"200": _json(_array(_ref("AlertChannel")))},
                errors=("400",),
                tag="alerts",
            ),
            "post": _op(
                "Create a webhook or email channel",
                {"201": _json(_ref("AlertChannel"), "Created")},
                body=_ref("AlertChannelInput"),
                errors=("400", "409", "415"),
                tag="alerts",
            ),
        },
        "/api/alerts/channels/{channel_id}": {
            "put": _op(
                "Change a channel (config keys merged; secret null removes it)",
                {"200": _json(_ref("AlertChannel"))},
                params=[channel_id],
                body=_ref("AlertChannelInput"),
                errors=("400", "404", "409", "415"),
                tag="alerts",
            ),
            "delete": _op(
                "Delete a channel and its deliveries",
                {"204": {"description": "Deleted"}},
                params=[channel_id],
                tag="alerts",
            ),
        },
        "/api/alerts/channels/{channel_id}/test": {
            "post": _op(
                "Send a test message now",
                {"200": _json(_obj({"ok": BOOL, "event_id": STR, "channel_id": STR}))},
                params=[channel_id],
                errors=("400", "404", "502"),
                tag="alerts",
            ),
        },
        "/api/alerts/deliveries": {
            "get": _op(
                "The delivery log, newest first",
                {
                    "200": _json(
                        _obj(
                            {
                                "deliveries": _array(_ref("AlertDelivery")),
                                "total": INT,
                                "limit": INT,
                                "offset": INT,
                            },
                            ["deliveries", "total"],
                        )
                    )
                },
                params=[
                    _query(
                        "status",
                        {"type": "string", "enum": ["pending", "in_flight", "delivered", "failed"]},
                    ),
                    _query("channel_id", STR),
                    _query("event_type", event_types),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
                    _query("offset", {"type": "integer", "minimum": 0}),
                ],
                errors=("400",),
                tag="alerts",
            ),
        },
        "/api/alerts/deliveries/{delivery_id}/retry": {
            "post": _op(
                "Retry a failed or waiting delivery now",
                {"200": _json(_ref("AlertDelivery"))},
                params=[delivery_id],
                errors=("400", "404", "409"),
                tag="alerts",
            ),
        },
        "/api/alerts/events": {
            "get": _op(
                "The latest events, newest first",
                {"200": _json(_obj({"events": _array(_ref("AlertEvent"))}, ["events"]))},
                params=[
                    _query("type", event_types),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
                ],
                errors=("400",),
                tag="alerts",
            ),
        },
    }


def _paths() -> dict[str, Any]:
    niche_id, profile_id = _path_param("niche_id"), _path_param("profile_id")
    batch_id, proxy_id = _path_param("batch_id"), _path_param("proxy_id")
    page = _query("page", {"type": "integer", "minimum": 1})
    page_size = _query("page_size", {"type": "integer", "minimum": 1, "maximum": 1000})
    filters = [
        _query("niche_id", STR),
        _query("status", STR),
        _query("search", STR),
        _query("active_story", {"type": "string", "enum": ["true", "false"]}),
        _query("not_found", {"type": "string", "enum": ["true", "false"]}),
    ]
    live_filters = [
        _query("niche_id", STR),
        _query("search", STR),
        _query("since", STR, "ISO-8601 time or a span back from `at`: 90s, 30m, 2h, 1d"),
        _query("sort", {"type": "string", "enum": ["posted", "expires"]}),
        _query("order", {"type": "string", "enum": ["desc", "asc"]}),
        _query(
            "at",
            {"type": "string", "format": "date-time"},
            'evaluate "live" at this time instead of now',
        ),
    ]
    results_filters = [
        _query(
            "outcome", {"type": "string", "enum": ["story", "no_story", "private", "failed", "all"]}
        ),
        _query("search", STR),
    ]
    csv_answer = {"description": "CSV", "content": {"text/csv": {"schema": STR}}}
    sorting = [
        _query("sort_by", STR),
        _query("sort_direction", {"type": "string", "enum": ["asc", "desc"]}),
    ]
    limit_offset = [
        _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
        _query("offset", {"type": "integer", "minimum": 0}),
    ]
    batch_list = _json(_array(_ref("Batch")))
    selection = {
        **_json(_array(_ref("Batch")), "The batches acted on"),
        "headers": {
            "X-Storycheck-Skipped": {
                "description": "Listed batches left alone, as id:status pairs separated by commas",
                "schema": STR,
            }
        },
    }
    strict = _query(
        "strict",
        {"type": "string", "enum": ["0", "1", "true", "false"]},
        "1: refuse the whole list with 409 when one batch is not eligible",
    )
    niche_body = _obj({"name": STR, "order": INT, "daily_story_target": INT})
    profile_body = _obj({"username": STR, "status": STR, "niche_id": _nullable(STR)})
    return {
        "/api/niches": {
            "get": _op("List niches", {"200": _json(_array(_ref("Niche")))}, tag="niches"),
            "post": _op(
                "Create a niche",
                {"201": _json(_ref("Niche"), "Created")},
                body=niche_body,
                errors=("400", "409", "415"),
                tag="niches",
            ),
        },
        "/api/niches/reorder": {
            "post": _op(
                "Reorder niches",
                {"200": _json(_array(_ref("Niche")))},
                body=_obj({"niche_ids": ID_LIST}, ["niche_ids"]),
                tag="niches",
            ),
        },
        "/api/niches/{niche_id}": {
            "get": _op(
                "Get a niche", {"200": _json(_ref("Niche"))}, params=[niche_id], tag="niches"
            ),
            "put": _op(
                "Update a niche",
                {"200": _json(_ref("Niche"))},
                params=[niche_id],
                body=niche_body,
                errors=("400", "404", "409", "415"),
                tag="niches",
            ),
            "delete": _op(
                "Delete a niche (profiles move, batches are deleted)",
                {"204": {"description": "Deleted"}},
                params=[niche_id],
                tag="niches",
            ),
        },
        "/api/profiles": {
            "get": _op(
                "List profiles",
                {"200": _json(_ref("ProfilePage"))},
                params=[
                    page,
                    page_size,
                    _query(
                        "cursor",
                        STR,
                        "Keyset paging: `next_cursor` of the previous page (same sort); "
                        "`page` is then ignored",
                    ),
                    *filters,
                    *sorting,
                ],
                tag="profiles",
            ),
            "post": _op(
                "Create a profile",
                {"201": _json(_ref("Profile"), "Created")},
                body=_obj({"username": STR, "niche_id": _nullable(STR)}, ["username"]),
                errors=("400", "404", "409", "415"),
                tag="profiles",
            ),
        },
        "/api/profiles/ids": {
            "get": _op(
                "Ids of every profile matching the filters",
                {"200": _json(_obj({"ids": ID_LIST, "total": INT, "truncated": BOOL}))},
                params=filters,
                tag="profiles",
            ),
        },
        "/api/profiles/bulk": {
            "post": _op(
                "Change status or niche of many profiles",
                {"200": _json(_obj({"updated": INT, "not_found": INT}))},
                body=_obj(
                    {"profile_ids": ID_LIST, "status": STR, "niche_id": _nullable(STR)},
                    ["profile_ids"],
                ),
                errors=("400", "404", "415"),
                tag="profiles",
            ),
        },
        "/api/profiles/export.csv": {
            "get": _op(
                "Profiles matching the list's filters as CSV (streamed)",
                {"200": csv_answer},
                params=filters,
                errors=("400",),
                tag="profiles",
            ),
        },
        "/api/profiles/clear-not-found": {
            "post": _op(
                "Clear the not-found flag of profiles by hand",
                {"200": _json(_obj({"cleared": INT}, ["cleared"]))},
                body=_obj({"profile_ids": ID_LIST}, ["profile_ids"]),
                errors=("400", "415"),
                tag="profiles",
            ),
        },
        "/api/profiles/{profile_id}/stories": {
            "get": _op(
                "A profile's story windows, newest first",
                {"200": _json(_obj({"windows": _array(_ref("StoryWindow"))}, ["windows"]))},
                params=[
                    profile_id,
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                    _query("at", {"type": "string", "format": "date-time"}),
                ],
                tag="stories",
            ),
        },
        "/api/stories/live": {
            "get": _op(
                "Accounts whose story is live now (keyset pages)",
                {
                    "200": _json(
                        _obj(
                            {
                                "stories": _array(_ref("LiveStory")),
                                "next_cursor": _nullable(STR),
                                "total": INT,
                                "total_is_estimate": BOOL,
                            },
                            ["stories", "next_cursor", "total"],
                        )
                    )
                },
                params=[
                    *live_filters,
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
                    _query("cursor", STR),
                ],
                errors=("400",),
                tag="stories",
            ),
        },
        "/api/stories/live/counts": {
            "get": _op(
                "Live stories in all and per niche",
                {
                    "200": _json(
                        _obj(
                            {
                                "total": INT,
                                "niches": _array(
                                    _obj(
                                        {
                                            "niche_id": _nullable(STR),
                                            "name": _nullable(STR),
                                            "count": INT,
                                        }
                                    )
                                ),
                            },
                            ["total", "niches"],
                        )
                    )
                },
                params=[live_filters[1], live_filters[2], live_filters[5]],
                errors=("400",),
                tag="stories",
            ),
        },
        "/api/stories/live.csv": {
            "get": _op(
                "Live stories as CSV (streamed, any size)",
                {"200": csv_answer},
                params=live_filters,
                errors=("400",),
                tag="stories",
            ),
        },
        "/api/stories/live.json": {
            "get": _op(
                "Live stories as one JSON document (streamed, any size)",
                {
                    "200": _json(
                        _obj({"at": TIME, "stories": _array(_ref("LiveStory")), "count": INT})
                    )
                },
                params=live_filters,
                errors=("400",),
                tag="stories",
            ),
        },
        "/api/profiles/refresh-stories": {
            "post": _op(
                "Clear expired active stories",
                {"200": _json(_obj({"message": STR, "cleared": INT}))},
                errors=("400",),
                tag="profiles",
            ),
        },
        "/api/profiles/niches/{niche_id}/import": {
            "post": {
                **_op(
                    "Import usernames or profile URLs (multipart part `file`)",
                    {
                        "201": _json(_ref("ImportReport"), "All lines imported"),
                        "207": _json(_ref("ImportReport"), "Imported with per-line errors"),
                    },
                    params=[niche_id],
                    errors=("400", "404", "413", "415"),
                    tag="profiles",
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": _obj(
                                {"file": {"type": "string", "format": "binary"}}, ["file"]
                            ),
                        },
                        "text/plain": {"schema": STR},
                    },
                },
            },
        },
        "/api/profiles/{profile_id}": {
            "get": _op(
                "Get a profile",
                {"200": _json(_ref("Profile"))},
                params=[profile_id],
                tag="profiles",
            ),
            "put": _op(
                "Update a profile",
                {"200": _json(_ref("Profile"))},
                params=[profile_id],
                body=profile_body,
                errors=("400", "404", "409", "415"),
                tag="profiles",
            ),
            "delete": _op(
                "Soft-delete a profile",
                {"204": {"description": "Deleted"}},
                params=[profile_id],
                tag="profiles",
            ),
        },
        "/api/profiles/{profile_id}/reactivate": {
            "post": _op(
                "Reactivate a profile",
                {"200": _json(_ref("Profile"))},
                params=[profile_id],
                tag="profiles",
            ),
        },
        "/api/profiles/{profile_id}/record_check": {
            "post": _op(
                "Record a manual check",
                {"200": _json(_ref("Profile"))},
                params=[profile_id],
                body=_obj({"story_detected": BOOL}),
                body_required=False,
                errors=("400", "404", "415"),
                tag="profiles",
            ),
        },
        "/api/batches": {
            "get": _op(
                "List batches (running, then queue order, then newest)",
                {"200": batch_list},
                params=[_query("status", STR)],
                errors=("400",),
                tag="batches",
            ),
            "post": _op(
                "Create a batch",
                {"201": _json(_ref("Batch"), "Created")},
                body=_obj(
                    {"niche_id": STR, "profile_ids": ID_LIST, "all_profiles": BOOL}, ["niche_id"]
                ),
                errors=("400", "404", "409", "413", "415"),
                tag="batches",
            ),
            "delete": _op(
                "Delete batches",
                {"204": {"description": "Deleted"}},
                body=_ref("BatchIds"),
                errors=("400", "404", "415"),
                tag="batches",
            ),
        },
        "/api/batches/start": {
            "post": _op(
                "Queue paused or done batches (eligible ones; others skipped)",
                {"200": selection},
                params=[strict],
                body=_ref("BatchIds"),
                errors=("400", "404", "409", "415"),
                tag="batches",
            ),
        },
        "/api/batches/stop": {
            "post": _op(
                "Pause queued or running batches (eligible ones; others skipped)",
                {"200": selection},
                params=[strict],
                body=_ref("BatchIds"),
                errors=("400", "404", "409", "415"),
                tag="batches",
            ),
        },
        "/api/batches/resume": {
            "post": _op(
                "Re-queue paused batches (eligible ones; others skipped)",
                {"200": selection},
                params=[strict],
                body=_ref("BatchIds"),
                errors=("400", "404", "409", "415"),
                tag="batches",
            ),
        },
        "/api/batches/reorder": {
            "post": _op(
                "Move queued batches to the front, in order",
                {"200": batch_list},
                body=_ref("BatchIds"),
                errors=("400", "404", "409", "415"),
                tag="batches",
            ),
        },
        "/api/batches/{batch_id}": {
            "get": _op(
                "A batch with its items",
                {
                    "200": _json(
                        {
                            "allOf": [
                                _ref("Batch"),
                                _obj({"items": _array(_ref("BatchItem")), "items_total": INT}),
                            ]
                        }
                    )
                },
                params=[
                    batch_id,
                    _query("items_limit", {"type": "integer", "minimum": 0, "maximum": 10000}),
                    _query("items_offset", {"type": "integer", "minimum": 0}),
                    _query("item_status", STR),
                ],
                tag="batches",
            ),
        },
        "/api/batches/{batch_id}/retry-failed": {
            "post": _op(
                "Retry a batch's failed items",
                {"200": _json(_ref("Batch"))},
                params=[batch_id],
                errors=("400", "404", "409"),
                tag="batches",
            ),
        },
        "/api/batches/{batch_id}/logs": {
            "get": _op(
                "A page of the batch log, newest first",
                {
                    "200": _json(
                        _obj(
                            {
                                "logs": _array(_ref("BatchLog")),
                                "total": INT,
                                "limit": INT,
                                "offset": INT,
                            },
                            ["logs", "total"],
                        )
                    )
                },
                params=[
                    batch_id,
                    *limit_offset,
                    _query("event_type", STR),
                    _query("start_time", STR),
                    _query("end_time", STR),
                ],
                errors=("400",),
                tag="batches",
            ),
        },
        "/api/batches/{batch_id}/results": {
            "get": _op(
                "Every account of a batch with its outcome (paged, searchable)",
                {
                    "200": _json(
                        _obj(
                            {
                                "results": _array(_ref("BatchResult")),
                                "total": INT,
                                "page": INT,
                                "page_size": INT,
                                "counts": _obj(
                                    {
                                        "story": INT,
                                        "no_story": INT,
                                        "private": INT,
                                        "failed": INT,
                                        "pending": INT,
                                    }
                                ),
                            },
                            ["results", "total", "page", "page_size", "counts"],
                        )
                    )
                },
                params=[
                    batch_id,
                    *results_filters,
                    page,
                    _query("page_size", {"type": "integer", "minimum": 1, "maximum": 1000}),
                ],
                tag="batches",
            ),
        },
        "/api/batches/{batch_id}/results.csv": {
            "get": _op(
                "Outcomes as CSV (streamed)",
                {"200": csv_answer},
                params=[batch_id, *results_filters],
                tag="batches",
            ),
        },
        "/api/batches/{batch_id}/results.json": {
            "get": _op(
                "Outcomes as one JSON document (streamed)",
                {
                    "200": _json(
                        _obj(
                            {"batch_id": STR, "results": _array(_ref("BatchResult")), "count": INT}
                        )
                    )
                },
                params=[batch_id, *results_filters],
                tag="batches",
            ),
        },
        "/api/settings": {
            "get": _op(
                "Current settings",
                {"200": _json(_ref("Settings"))},
                errors=("400",),
                tag="settings",
            ),
            "put": _op(
                "Change settings (snake_case or the original client's camelCase)",
                {"200": _json(_ref("Settings"))},
                body={"type": "object"},
                errors=("400", "415"),
                tag="settings",
            ),
        },
        "/api/proxies": {
            "get": _op(
                "List proxy + session pairs",
                {"200": _json(_array(_ref("Proxy")))},
                errors=("400",),
                tag="proxies",
            ),
            "post": _op(
                "Add a pair",
                {"201": _json(_ref("Proxy"), "Created")},
                body=_obj(
                    {
                        "ip": STR,
                        "port": {"oneOf": [INT, STR]},
                        "scheme": STR,
                        "username": _nullable(STR),
                        "password": _nullable(STR),
                        "url": STR,
                        "user_agent": _nullable(STR),
                        "session": {"oneOf": [STR, _array({"type": "object"})]},
                    }
                ),
                errors=("400", "409", "415"),
                tag="proxies",
            ),
        },
        "/api/proxies/import": {
            "post": _op(
                "Bulk-add `proxy_url|sessionid` lines",
                {
                    "201": _json({"type": "object"}, "All added"),
                    "207": _json({"type": "object"}, "Added with per-line errors"),
                },
                body=_obj({"lines": {"oneOf": [STR, _array(STR)]}}, ["lines"]),
                errors=("400", "413", "415"),
                tag="proxies",
            ),
        },
        "/api/proxies/{proxy_id}": {
            "delete": _op(
                "Delete a pair",
                {"204": {"description": "Deleted"}},
                params=[proxy_id],
                tag="proxies",
            ),
        },
        "/api/proxies/{proxy_id}/status": {
            "patch": _op(
                "Enable or disable a pair",
                {"200": _json(_ref("Proxy"))},
                params=[proxy_id],
                body=_obj({"status": STR}, ["status"]),
                errors=("400", "404", "415"),
                tag="proxies",
            ),
        },
        "/api/proxies/{proxy_id}/session": {
            "put": _op(
                "Replace a pair's session (and, when given, its user agent)",
                {"200": _json(_ref("Proxy"))},
                params=[proxy_id],
                body=_obj(
                    {
                        "session": {"oneOf": [STR, _array({"type": "object"})]},
                        "user_agent": _nullable(STR),
                    },
                    ["session"],
                ),
                errors=("400", "404", "409", "415"),
                tag="proxies",
            ),
        },
        "/api/proxies/{proxy_id}/user-agent": {
            "put": _op(
                "Set a pair's user agent (null or empty: the default desktop Chrome)",
                {"200": _json(_ref("Proxy"))},
                params=[proxy_id],
                body=_obj({"user_agent": _nullable(STR)}, ["user_agent"]),
                errors=("400", "404", "415"),
                tag="proxies",
            ),
        },
        "/api/proxies/{proxy_id}/error-logs": {
            "get": _op(
                "A pair's error log, newest first",
                {
                    "200": _json(
                        _obj(
                            {
                                "logs": _array(_ref("ProxyErrorLog")),
                                "total": INT,
                                "limit": INT,
                                "offset": INT,
                            },
                            ["logs", "total"],
                        )
                    )
                },
                params=[
                    proxy_id,
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                    _query("offset", {"type": "integer", "minimum": 0}),
                ],
                tag="proxies",
            ),
        },
        "/api/events": {
            "get": {
                "summary": "Server-Sent Events: batch, batch_deleted, proxy, proxy_deleted, "
                "story_detected, story_expired, ping",
                "tags": ["system"],
                "parameters": [_query("max_seconds", {"type": "number", "minimum": 0})],
                "responses": {
                    "200": {
                        "description": "event stream",
                        "content": {"text/event-stream": {"schema": STR}},
                    },
                    **_errors("400"),
                },
            },
        },
        "/api/dashboard": {
            "get": _op(
                "Stories today per niche, throughput, pair health",
                {
                    "200": _json(
                        _obj(
                            {
                                "niches": _array({"type": "object"}),
                                "throughput": _array({"type": "object"}),
                                "pairs": {"type": "object"},
                            }
                        )
                    )
                },
                errors=("400",),
                tag="system",
            ),
        },
        "/api/health": {
            "get": _op(
                "Liveness", {"200": _json(_obj({"status": STR}))}, errors=("400",), tag="system"
            ),
        },
        "/api/admin/invariants": {
            "get": _op(
                "Check the batch-state invariants I1–I5",
                {"200": _json(_obj({"ok": BOOL, "violations": _array(STR)}))},
                errors=("400",),
                tag="system",
            ),
        },
        "/api/openapi.json": {
            "get": _op(
                "This document", {"200": _json({"type": "object"})}, errors=("400",), tag="system"
            ),
        },
    }


@cache
def build_spec() -> dict[str, Any]:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "storycheck API",
            "version": __version__,
            "description": "Find which Instagram accounts have an active story right now. "
            "Errors always carry `error` and `message`.",
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
        "paths": {**_paths(), **_alert_paths()},
    }
