"""The OpenAPI 3.0 document served at /api/openapi.json (a test keeps it equal to the routes).

The path table is written here; every request body and answer names a component generated
from the pydantic models of the domains (`<domain>/schemas.py`, see `web/components.py`).
The module is one table, the path list of the whole API, hence its ~550 lines.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel

from storycheck import __version__
from storycheck.alerts.schemas import (
    AlertChannel,
    AlertChannelInput,
    AlertDeliveryPage,
    AlertEventList,
    AlertTestResult,
)
from storycheck.batches.schemas import (
    Batch,
    BatchCreate,
    BatchDetail,
    BatchIds,
    BatchItem,
    BatchLogPage,
    BatchResultPage,
    BatchResultsDocument,
)
from storycheck.niches.schemas import Niche, NicheCreate, NicheReorder, NicheUpdate
from storycheck.profiles.answers import STORY_ANSWERS
from storycheck.profiles.schemas import (
    BulkResult,
    ClearedCount,
    ImportReport,
    Profile,
    ProfileBulk,
    ProfileCreate,
    ProfileIdList,
    ProfileIdPage,
    ProfilePage,
    ProfileUpdate,
    RecordCheck,
    RefreshResult,
)
from storycheck.proxies.schemas import (
    PairTestAllRequest,
    PairTestReport,
    PairTestRequest,
    PairTestState,
    Proxy,
    ProxyCreate,
    ProxyErrorLogPage,
    ProxyImport,
    ProxyImportReport,
    ProxyStatusChange,
    SessionChange,
    UserAgentChange,
)
from storycheck.settings.schemas import Settings, SettingsUpdate, SettingsValues
from storycheck.stories.schemas import (
    LiveCounts,
    LiveCoverage,
    LiveStoriesDocument,
    LiveStory,
    LiveStoryPage,
    StoryWindow,
    StoryWindows,
)
from storycheck.web.components import components
from storycheck.web.schemas import Dashboard, Error, Health, Invariants, OpenAPIDocument

JSON = "application/json"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


STR = {"type": "string"}

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
        code: _json(_ref("Error"), ERROR_STATUSES[code])
        for code in (*chosen, "401", "405", "503")
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
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


# Every model whose schema is a component (the models they refer to come along).
MODELS: tuple[type[BaseModel], ...] = (
    Error, Health, Invariants, Dashboard, OpenAPIDocument,
    Niche, NicheCreate, NicheUpdate, NicheReorder,
    Profile, ProfilePage, ProfileIdPage, ProfileCreate, ProfileUpdate, ProfileBulk,
    ProfileIdList, RecordCheck, BulkResult, ClearedCount, RefreshResult, ImportReport,
    LiveStory, LiveStoryPage, LiveCounts, LiveCoverage, LiveStoriesDocument, StoryWindow, StoryWindows,
    Batch, BatchDetail, BatchItem, BatchLogPage, BatchResultPage, BatchResultsDocument,
    BatchIds, BatchCreate,
    Settings, SettingsUpdate, SettingsValues,
    Proxy, ProxyCreate, ProxyImport, ProxyImportReport, ProxyStatusChange, SessionChange,
    UserAgentChange, ProxyErrorLogPage,
    PairTestRequest, PairTestAllRequest, PairTestReport, PairTestState,
    AlertChannel, AlertChannelInput, AlertTestResult, AlertEventList, AlertDeliveryPage,
)


def _alert_paths() -> dict[str, Any]:
    channel_id, delivery_id = _path_param("channel_id"), _path_param("delivery_id")
    event_types = {"type": "string", "enum": [
        "story.detected", "niche.target_reached", "batch.completed", "batch.stalled",
        "pair.needs_attention"]}
    return {
        "/api/alerts/channels": {
            "get": _op("List alert channels (secrets masked)",
                       {"200": _json(_array(_ref("AlertChannel")))}, errors=("400",),
                       tag="alerts"),
            "post": _op("Create a webhook or email channel",
                        {"201": _json(_ref("AlertChannel"), "Created")},
                        body=_ref("AlertChannelInput"), errors=("400", "409", "415"),
                        tag="alerts"),
        },
        "/api/alerts/channels/{channel_id}": {
            "put": _op("Change a channel (config keys merged; secret null removes it)",
                       {"200": _json(_ref("AlertChannel"))}, params=[channel_id],
                       body=_ref("AlertChannelInput"), errors=("400", "404", "409", "415"),
                       tag="alerts"),
            "delete": _op("Delete a channel and its deliveries",
                          {"204": {"description": "Deleted"}}, params=[channel_id],
                          tag="alerts"),
        },
        "/api/alerts/channels/{channel_id}/test": {
            "post": _op("Send a test message now",
                        {"200": _json(_ref("AlertTestResult"))},
                        params=[channel_id], errors=("400", "404", "502"), tag="alerts"),
        },
        "/api/alerts/deliveries": {
            "get": _op("The delivery log, newest first",
                       {"200": _json(_ref("AlertDeliveryPage"))},
                       params=[_query("status", {"type": "string", "enum": [
                                   "pending", "in_flight", "delivered", "failed"]}),
                               _query("channel_id", STR), _query("event_type", event_types),
                               _query("limit", {"type": "integer", "minimum": 1,
                                                "maximum": 500}),
                               _query("offset", {"type": "integer", "minimum": 0})],
                       errors=("400",), tag="alerts"),
        },
        "/api/alerts/deliveries/{delivery_id}/retry": {
            "post": _op("Retry a failed or waiting delivery now",
                        {"200": _json(_ref("AlertDelivery"))}, params=[delivery_id],
                        errors=("400", "404", "409"), tag="alerts"),
        },
        "/api/alerts/events": {
            "get": _op("The latest events, newest first",
                       {"200": _json(_ref("AlertEventList"))},
                       params=[_query("type", event_types),
                               _query("limit", {"type": "integer", "minimum": 1,
                                                "maximum": 200})],
                       errors=("400",), tag="alerts"),
        },
    }


def _paths() -> dict[str, Any]:
    niche_id, profile_id = _path_param("niche_id"), _path_param("profile_id")
    batch_id, proxy_id = _path_param("batch_id"), _path_param("proxy_id")
    page = _query("page", {"type": "integer", "minimum": 1})
    page_size = _query("page_size", {"type": "integer", "minimum": 1, "maximum": 1000})
    filters = [
        _query("niche_id", STR), _query("status", STR), _query("search", STR),
        _query("active_story", {"type": "string", "enum": ["true", "false"]}),
        _query("not_found", {"type": "string", "enum": ["true", "false"]}),
        _query("story", {"type": "string", "enum": list(STORY_ANSWERS)},
               "the story answer now: live, none (checked within 24 h and seen: no story), "
               "unknown (not checked within 24 h, or the latest check could not see: private), not_found"),
    ]
    live_filters = [
        _query("niche_id", STR), _query("search", STR),
        _query("since", STR, "ISO-8601 time or a span back from `at`: 90s, 30m, 2h, 1d"),
        _query("sort", {"type": "string", "enum": ["posted", "expires"]}),
        _query("order", {"type": "string", "enum": ["desc", "asc"]}),
        _query("at", {"type": "string", "format": "date-time"},
               "evaluate \"live\" at this time instead of now"),
    ]
    results_filters = [
        _query("outcome", {"type": "string",
                           "enum": ["story", "no_story", "private", "failed", "all"]}),
        _query("search", STR),
    ]
    csv_answer = {"description": "CSV", "content": {"text/csv": {"schema": STR}}}
    sorting = [_query("sort_by", STR), _query("sort_direction", {"type": "string",
                                                                  "enum": ["asc", "desc"]})]
    limit_offset = [
        _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
        _query("offset", {"type": "integer", "minimum": 0}),
    ]
    batch_list = _json(_array(_ref("Batch")))
    selection = {
        **_json(_array(_ref("Batch")), "The batches acted on"),
        "headers": {"X-Storycheck-Skipped": {
            "description": "Listed batches left alone, as id:status pairs separated by commas",
            "schema": STR}},
    }
    strict = _query("strict", {"type": "string", "enum": ["0", "1", "true", "false"]},
                    "1: refuse the whole list with 409 when one batch is not eligible")
    return {
        "/api/niches": {
            "get": _op("List niches", {"200": _json(_array(_ref("Niche")))}, tag="niches"),
            "post": _op("Create a niche", {"201": _json(_ref("Niche"), "Created")},
                        body=_ref("NicheCreate"), errors=("400", "409", "415"), tag="niches"),
        },
        "/api/niches/reorder": {
            "post": _op("Reorder niches", {"200": _json(_array(_ref("Niche")))},
                        body=_ref("NicheReorder"), tag="niches"),
        },
        "/api/niches/{niche_id}": {
            "get": _op("Get a niche", {"200": _json(_ref("Niche"))}, params=[niche_id],
                       tag="niches"),
            "put": _op("Update a niche", {"200": _json(_ref("Niche"))}, params=[niche_id],
                       body=_ref("NicheUpdate"), errors=("400", "404", "409", "415"),
                       tag="niches"),
            "delete": _op("Delete a niche (profiles move, batches are deleted)",
                          {"204": {"description": "Deleted"}}, params=[niche_id], tag="niches"),
        },
        "/api/profiles": {
            "get": _op("List profiles", {"200": _json(_ref("ProfilePage"))},
                       params=[page, page_size,
                               _query("cursor", STR, "Keyset paging: `next_cursor` of the previous "
                                      "page (same sort); `page` is then ignored"),
                               *filters, *sorting], tag="profiles"),
            "post": _op("Create a profile", {"201": _json(_ref("Profile"), "Created")},
                        body=_ref("ProfileCreate"),
                        errors=("400", "404", "409", "415"), tag="profiles"),
        },
        "/api/profiles/ids": {
            "get": _op("Ids of every profile matching the filters",
                       {"200": _json(_ref("ProfileIdPage"))},
                       params=filters, tag="profiles"),
        },
        "/api/profiles/bulk": {
            "post": _op("Change status or niche of many profiles",
                        {"200": _json(_ref("BulkResult"))},
                        body=_ref("ProfileBulk"),
                        errors=("400", "404", "415"), tag="profiles"),
        },
        "/api/profiles/export.csv": {
            "get": _op("Profiles matching the list's filters as CSV (streamed)",
                       {"200": csv_answer}, params=filters, errors=("400",), tag="profiles"),
        },
        "/api/profiles/clear-not-found": {
            "post": _op("Clear the not-found flag of profiles by hand",
                        {"200": _json(_ref("ClearedCount"))},
                        body=_ref("ProfileIdList"),
                        errors=("400", "415"), tag="profiles"),
        },
        "/api/profiles/{profile_id}/stories": {
            "get": _op("A profile's story windows, newest first",
                       {"200": _json(_ref("StoryWindows"))},
                       params=[profile_id,
                               _query("limit", {"type": "integer", "minimum": 1,
                                                "maximum": 1000}),
                               _query("at", {"type": "string", "format": "date-time"})],
                       tag="stories"),
        },
        "/api/stories/live": {
            "get": _op("Accounts whose story is live now (keyset pages)",
                       {"200": _json(_ref("LiveStoryPage"))},
                       params=[*live_filters,
                               _query("limit", {"type": "integer", "minimum": 1,
                                                "maximum": 500}),
                               _query("cursor", STR)],
                       errors=("400",), tag="stories"),
        },
        "/api/stories/live/counts": {
            "get": _op("Live stories in all and per niche",
                       {"200": _json(_ref("LiveCounts"))},
                       params=[live_filters[1], live_filters[2], live_filters[5]],
                       errors=("400",), tag="stories"),
        },
        "/api/stories/live/coverage": {
            "get": _op("How many accounts the live list knows about (checked within 24 h)",
                       {"200": _json(_ref("LiveCoverage"))},
                       params=[live_filters[0], live_filters[5]],
                       errors=("400", "404"), tag="stories"),
        },
        "/api/stories/live.csv": {
            "get": _op("Live stories as CSV (streamed, any size)", {"200": csv_answer},
                       params=live_filters, errors=("400",), tag="stories"),
        },
        "/api/stories/live.json": {
            "get": _op("Live stories as one JSON document (streamed, any size)",
                       {"200": _json(_ref("LiveStoriesDocument"))},
                       params=live_filters, errors=("400",), tag="stories"),
        },
        "/api/profiles/refresh-stories": {
            "post": _op("Clear expired active stories",
                        {"200": _json(_ref("RefreshResult"))},
                        errors=("400",), tag="profiles"),
        },
        "/api/profiles/niches/{niche_id}/import": {
            "post": {
                **_op("Import usernames or profile URLs (multipart part `file`)",
                      {"201": _json(_ref("ImportReport"), "All lines imported"),
                       "207": _json(_ref("ImportReport"), "Imported with per-line errors")},
                      params=[niche_id], errors=("400", "404", "413", "415"), tag="profiles"),
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": _obj({"file": {"type": "string", "format": "binary"}},
                                           ["file"]),
                        },
                        "text/plain": {"schema": STR},
                    },
                },
            },
        },
        "/api/profiles/{profile_id}": {
            "get": _op("Get a profile", {"200": _json(_ref("Profile"))}, params=[profile_id],
                       tag="profiles"),
            "put": _op("Update a profile", {"200": _json(_ref("Profile"))}, params=[profile_id],
                       body=_ref("ProfileUpdate"), errors=("400", "404", "409", "415"),
                       tag="profiles"),
            "delete": _op("Soft-delete a profile", {"204": {"description": "Deleted"}},
                          params=[profile_id], tag="profiles"),
        },
        "/api/profiles/{profile_id}/reactivate": {
            "post": _op("Reactivate a profile", {"200": _json(_ref("Profile"))},
                        params=[profile_id], tag="profiles"),
        },
        "/api/profiles/{profile_id}/record_check": {
            "post": _op("Record a manual check", {"200": _json(_ref("Profile"))},
                        params=[profile_id], body=_ref("RecordCheck"),
                        body_required=False, errors=("400", "404", "415"), tag="profiles"),
        },
        "/api/batches": {
            "get": _op("List batches (running, then queue order, then newest)",
                       {"200": batch_list}, params=[_query("status", STR)],
                       errors=("400",), tag="batches"),
            "post": _op("Create a batch", {"201": _json(_ref("Batch"), "Created")},
                        body=_ref("BatchCreate"),
                        errors=("400", "404", "409", "413", "415"), tag="batches"),
            "delete": _op("Delete batches", {"204": {"description": "Deleted"}},
                          body=_ref("BatchIds"), errors=("400", "404", "415"), tag="batches"),
        },
        "/api/batches/start": {
            "post": _op("Queue paused or done batches (eligible ones; others skipped)", {"200": selection},
                        params=[strict], body=_ref("BatchIds"),
                        errors=("400", "404", "409", "415"), tag="batches"),
        },
        "/api/batches/stop": {
            "post": _op("Pause queued or running batches (eligible ones; others skipped)", {"200": selection},
                        params=[strict], body=_ref("BatchIds"),
                        errors=("400", "404", "409", "415"), tag="batches"),
        },
        "/api/batches/resume": {
            "post": _op("Re-queue paused batches (eligible ones; others skipped)", {"200": selection},
                        params=[strict], body=_ref("BatchIds"),
                        errors=("400", "404", "409", "415"), tag="batches"),
        },
        "/api/batches/reorder": {
            "post": _op("Move queued batches to the front, in order", {"200": batch_list},
                        body=_ref("BatchIds"), errors=("400", "404", "409", "415"),
                        tag="batches"),
        },
        "/api/batches/{batch_id}": {
            "get": _op("A batch with its items",
                       {"200": _json(_ref("BatchDetail"))},
                       params=[batch_id,
                               _query("items_limit", {"type": "integer", "minimum": 0,
                                                      "maximum": 10000}),
                               _query("items_offset", {"type": "integer", "minimum": 0}),
                               _query("item_status", STR)],
                       tag="batches"),
        },
        "/api/batches/{batch_id}/retry-failed": {
            "post": _op("Retry a batch's failed items", {"200": _json(_ref("Batch"))},
                        params=[batch_id], errors=("400", "404", "409"), tag="batches"),
        },
        "/api/batches/{batch_id}/logs": {
            "get": _op("A page of the batch log, newest first",
                       {"200": _json(_ref("BatchLogPage"))},
                       params=[batch_id, *limit_offset, _query("event_type", STR),
                               _query("start_time", STR), _query("end_time", STR)],
                       errors=("400",), tag="batches"),
        },
        "/api/batches/{batch_id}/results": {
            "get": _op("Every account of a batch with its outcome (paged, searchable)",
                       {"200": _json(_ref("BatchResultPage"))},
                       params=[batch_id, *results_filters, page,
                               _query("page_size", {"type": "integer", "minimum": 1,
                                                    "maximum": 1000})],
                       tag="batches"),
        },
        "/api/batches/{batch_id}/results.csv": {
            "get": _op("Outcomes as CSV (streamed)", {"200": csv_answer},
                       params=[batch_id, *results_filters], tag="batches"),
        },
        "/api/batches/{batch_id}/results.json": {
            "get": _op("Outcomes as one JSON document (streamed)",
                       {"200": _json(_ref("BatchResultsDocument"))},
                       params=[batch_id, *results_filters], tag="batches"),
        },
        "/api/settings": {
            "get": _op("Current settings", {"200": _json(_ref("Settings"))}, errors=("400",),
                       tag="settings"),
            "put": _op("Change settings (snake_case or the original client's camelCase)",
                       {"200": _json(_ref("Settings"))}, body=_ref("SettingsUpdate"),
                       errors=("400", "415"), tag="settings"),
        },
        "/api/proxies": {
            "get": _op("List proxy + session pairs", {"200": _json(_array(_ref("Proxy")))},
                       errors=("400",), tag="proxies"),
            "post": _op("Add a pair", {"201": _json(_ref("Proxy"), "Created")},
                        body=_ref("ProxyCreate"),
                        errors=("400", "409", "415"), tag="proxies"),
        },
        "/api/proxies/import": {
            "post": _op("Bulk-add `proxy_url|sessionid` lines",
                        {"201": _json(_ref("ProxyImportReport"), "All added"),
                         "207": _json(_ref("ProxyImportReport"), "Added with per-line errors")},
                        body=_ref("ProxyImport"),
                        errors=("400", "413", "415"), tag="proxies"),
        },
        "/api/proxies/test": {
            "post": _op("Test all (switched-on) pairs, or `ids`, a few at once",
                        {"200": _json(_array(_ref("PairTestReport")))},
                        body=_ref("PairTestAllRequest"), body_required=False,
                        errors=("400", "404", "415"), tag="proxies"),
        },
        "/api/proxies/{proxy_id}/test": {
            "post": _op("Test a pair: one lookup through it, reported step by step",
                        {"200": _json(_ref("PairTestReport"))}, params=[proxy_id],
                        body=_ref("PairTestRequest"), body_required=False,
                        errors=("400", "404", "415"), tag="proxies"),
            "get": _op("A pair's test state and last result",
                       {"200": _json(_ref("PairTestState"))},
                       params=[proxy_id], tag="proxies"),
        },
        "/api/proxies/{proxy_id}": {
            "delete": _op("Delete a pair", {"204": {"description": "Deleted"}},
                          params=[proxy_id], tag="proxies"),
        },
        "/api/proxies/{proxy_id}/status": {
            "patch": _op("Enable or disable a pair", {"200": _json(_ref("Proxy"))},
                         params=[proxy_id], body=_ref("ProxyStatusChange"),
                         errors=("400", "404", "415"), tag="proxies"),
        },
        "/api/proxies/{proxy_id}/session": {
            "put": _op("Replace a pair's session (and, when given, its user agent)",
                       {"200": _json(_ref("Proxy"))},
                       params=[proxy_id],
                       body=_ref("SessionChange"),
                       errors=("400", "404", "409", "415"), tag="proxies"),
        },
        "/api/proxies/{proxy_id}/user-agent": {
            "put": _op("Set a pair's user agent (null or empty: the default desktop Chrome)",
                       {"200": _json(_ref("Proxy"))},
                       params=[proxy_id], body=_ref("UserAgentChange"),
                       errors=("400", "404", "415"), tag="proxies"),
        },
        "/api/proxies/{proxy_id}/error-logs": {
            "get": _op("A pair's error log, newest first",
                       {"200": _json(_ref("ProxyErrorLogPage"))},
                       params=[proxy_id, _query("limit", {"type": "integer", "minimum": 1,
                                                          "maximum": 100}),
                               _query("offset", {"type": "integer", "minimum": 0})],
                       tag="proxies"),
        },
        "/api/events": {
            "get": {
                "summary": "Server-Sent Events: batch, batch_deleted, proxy, proxy_deleted, "
                "story_detected, story_expired, ping",
                "tags": ["system"],
                "parameters": [_query("max_seconds", {"type": "number", "minimum": 0})],
                "responses": {"200": {"description": "event stream",
                                      "content": {"text/event-stream": {"schema": STR}}},
                              **_errors("400")},
            },
        },
        "/api/dashboard": {
            "get": _op("Stories today per niche, throughput, pair health, pool summary",
                       {"200": _json(_ref("Dashboard"))},
                       errors=("400",), tag="system"),
        },
        "/api/health": {
            "get": _op("Liveness", {"200": _json(_ref("Health"))}, errors=("400",),
                       tag="system"),
        },
        "/api/admin/invariants": {
            "get": _op("Check the batch-state invariants I1–I5",
                       {"200": _json(_ref("Invariants"))},
                       errors=("400",), tag="system"),
        },
        "/api/openapi.json": {
            "get": _op("This document", {"200": _json(_ref("OpenAPIDocument"))}, errors=("400",),
                       tag="system"),
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
            "schemas": components(MODELS),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
        "paths": {**_paths(), **_alert_paths()},
    }
