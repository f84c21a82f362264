"""The OpenAPI document is schema-driven: every body and answer names a component generated
from a pydantic model, and no component is a bare `{"type": "object"}`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from storycheck.web.components import components
from storycheck.web.openapi import MODELS, build_spec

JSON = "application/json"
# Objects whose keys are data, not fields (a channel's config, an event's payload, …).
FREE_FORM = {
    ("AlertChannel", "config"), ("AlertChannelInput", "config"), ("AlertEvent", "payload"),
    ("Error", "details"), ("OpenAPIDocument", "info"), ("OpenAPIDocument", "paths"),
    ("OpenAPIDocument", "components"), ("Dashboard", "pairs"),
}


def _component(schema: dict[str, Any]) -> str:
    """The component a body or answer names: `$ref` or an array of `$ref`."""
    if schema.get("type") == "array":
        schema = schema["items"]
    assert set(schema) == {"$ref"}, f"not a component reference: {schema}"
    prefix = "#/components/schemas/"
    ref: str = schema["$ref"]
    assert ref.startswith(prefix)
    return ref[len(prefix):]


def _json_schemas() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path, item in build_spec()["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            body = operation.get("requestBody", {}).get("content", {})
            if JSON in body:
                found.append((f"{where} body", body[JSON]["schema"]))
            for status, answer in operation["responses"].items():
                content = answer.get("content", {})
                if JSON in content:
                    found.append((f"{where} {status}", content[JSON]["schema"]))
    return found


def test_every_json_body_and_answer_names_a_real_component() -> None:
    schemas = build_spec()["components"]["schemas"]
    found = _json_schemas()
    assert len(found) > 100
    for where, schema in found:
        name = _component(schema)
        assert name in schemas, where
        assert schemas[name].get("properties"), f"{where}: {name} has no properties"


def test_no_component_property_is_a_bare_object() -> None:
    def bare(schema: dict[str, Any]) -> bool:
        inner = schema.get("items", schema)
        return inner.get("type") == "object" and not inner.get("properties") and (
            "$ref" not in inner
        )

    for name, component in build_spec()["components"]["schemas"].items():
        for field, schema in component.get("properties", {}).items():
            if (name, field) not in FREE_FORM:
                assert not bare(schema), f"{name}.{field} is a bare object"


def test_components_are_the_models_schemas() -> None:
    schemas = build_spec()["components"]["schemas"]
    assert set(components(MODELS)) == set(schemas)
    for model in MODELS:
        assert issubclass(model, BaseModel) and model.__name__ in schemas


def test_the_settings_body_is_documented_with_its_ranges() -> None:
    operation = build_spec()["paths"]["/api/settings"]["put"]
    assert _component(operation["requestBody"]["content"][JSON]["schema"]) == "SettingsUpdate"
    update = build_spec()["components"]["schemas"]["SettingsUpdate"]["properties"]
    assert update["max_threads"]["minimum"] == 1 and update["max_threads"]["maximum"] == 256
    assert update["max_threads"]["nullable"] is True
