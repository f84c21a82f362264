"""The OpenAPI `components/schemas`, generated from the pydantic models of every domain.

Pydantic writes JSON Schema 2020-12; the document is OpenAPI 3.0, so `OpenAPI30Schema` writes
`nullable: true` instead of a union with `null`, `enum` instead of `const`, and leaves out
`default: null` where null is not a valid value (a key that may be absent). Each model's `$defs` land in
`components/schemas` under the model's class name, and `$ref`s point there. Answers
(`fields.Answer`) are described as sent (every field required), bodies as accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from storycheck.fields import Answer

REF_TEMPLATE = "#/components/schemas/{model}"


class OpenAPI30Schema(GenerateJsonSchema):
    """Pydantic's JSON schema generator, speaking OpenAPI 3.0's dialect."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        """`X | None` → X with `nullable: true` (a `$ref` is wrapped in `allOf`)."""
        inner = self.generate_inner(schema["schema"])
        if "$ref" in inner:
            return {"allOf": [inner], "nullable": True}
        return {**inner, "nullable": True}

    def literal_schema(self, schema: core_schema.LiteralSchema) -> JsonSchemaValue:
        """A single literal as a one-value `enum` (3.0 has no `const`)."""
        result = super().literal_schema(schema)
        if "const" in result:
            result["enum"] = [result.pop("const")]
        return result

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        """Defaults are shown, except `null` on a field that cannot be null (a key that may be
        absent, not a default to rely on)."""
        result = super().default_schema(schema)
        if "default" in result and result["default"] is None and not result.get("nullable"):
            del result["default"]
        return result


def components(models: Iterable[type[BaseModel]]) -> dict[str, Any]:
    """`components/schemas` for `models` and every model they refer to, keyed by class name."""
    chosen = [
        (model, "serialization" if issubclass(model, Answer) else "validation") for model in models
    ]
    _, top = models_json_schema(
        chosen,  # type: ignore[arg-type]
        ref_template=REF_TEMPLATE,
        schema_generator=OpenAPI30Schema,
    )
    return dict(top.get("$defs", {}))
