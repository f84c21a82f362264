"""Base classes and value types of the pydantic models of every domain (`<domain>/schemas.py`).

`Body` is a request body (unknown keys ignored, as the original API did); `Answer` is a response
object, whose fields are all always present (the OpenAPI document marks them required). Both
build their validators on first use (`defer_build`): a worker or a CLI command that never
validates a body does not pay for dozens of models at start-up.

Each type is an `Annotated` marker that validates with the API's own wording ("max_threads must
be within 1-256") and documents its range in the JSON schema, so a limit is written once and
both the check and the OpenAPI document read it. A failed check raises a `PydanticCustomError`
whose context carries `field` (and, where it helps, `valid_range`); `web/errors.py` turns the
errors of a model into the one error body `{error, message, errors, details}`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    TypeAdapter,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from storycheck.errors import CONTROL_CHARACTERS, StorycheckError

INVALID = "invalid_value"  # the error type of every check below
EMAIL_RE = re.compile(r"\A[^@\s]+@[^@\s]+\.[^@\s]+\Z")
# Integers beyond this are refused before any float conversion (and overflow SQLite).
HUGE = 10**15


@dataclass(frozen=True)
class ErrorContract:
    """How a body's 400s are coded where the original API fixed other codes than ours (the
    original client's proxy screen reads them); the default is the API's own shape.

    `invalid_code` is the `error` of a refused value (a `Cleaned` check keeps its own code);
    `missing` words absent keys: `each` ("name is required"), `list` ("Missing required
    fields: ip, port" + `details.missing_fields`) or `single` ("Status field is required",
    `error` `missing_field`, `details.required_field`).
    """

    invalid_code: str = "validation_error"
    missing: Literal["each", "list", "single"] = "each"

    def missing_answer(self, fields: list[str]) -> dict[str, Any] | None:
        """The error body for absent keys, or None for the API's own per-field sentences."""
        if self.missing == "list":
            message = f"Missing required fields: {', '.join(fields)}"
            return {"error": "validation_error", "message": message, "errors": [message],
                    "details": {"missing_fields": fields, "field": fields[0]}}
        if self.missing == "single":
            message = f"{fields[0].capitalize()} field is required"
            return {"error": "missing_field", "message": message, "errors": [message],
                    "details": {"required_field": fields[0], "field": fields[0]}}
        return None


_BODIES: dict[str, type[Body]] = {}


class Body(BaseModel):
    """A request body model: unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore", defer_build=True)
    error_contract: ClassVar[ErrorContract] = ErrorContract()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Register the body by name: a validation error names its model by `title`."""
        super().__pydantic_init_subclass__(**kwargs)
        _BODIES[cls.__name__] = cls


def error_contract_of(title: str) -> ErrorContract:
    """The error contract of the body a validation error is about (by its model's name)."""
    body = _BODIES.get(title)
    return body.error_contract if body is not None else ErrorContract()


class Answer(BaseModel):
    """A response object model: documents an answer; every field is always sent."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True, defer_build=True)


def absent_key(description: str | None = None) -> Any:
    """A field for a key an object may leave out (but never sends as null): no default in the
    schema, not required."""
    return Field(default=None, description=description)


def one_of(values: Iterable[str]) -> WithJsonSchema:
    """Documents a string as one of `values` (for `Annotated[str, one_of(...)]` in answers)."""
    return WithJsonSchema({"type": "string", "enum": list(values)})


def number_text(value: float | None) -> str:
    """`1`, `0.9`, `72` — a bound as the error texts show it."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def range_text(minimum: float | None, maximum: float | None) -> str:
    """`1-256`, `>=0` or `<=5`: the `valid_range` of an error."""
    if minimum is not None and maximum is not None:
        return f"{number_text(minimum)}-{number_text(maximum)}"
    if minimum is not None:
        return f">={number_text(minimum)}"
    if maximum is not None:
        return f"<={number_text(maximum)}"
    return "any number"


def invalid(
    field: str, message: str, valid_range: str | list[str] | None = None
) -> PydanticCustomError:
    """The error a check raises: the whole sentence, plus the field (and range) for details."""
    context: dict[str, Any] = {"field": field}
    if valid_range is not None:
        context["valid_range"] = valid_range
    return sentence_error(message, context)


def sentence_error(message: str, context: dict[str, Any]) -> PydanticCustomError:
    """A check's error whose sentence is shown as written: pydantic fills `{key}` of a template
    from the context, key by key, and knows no `{{` escape, so the sentence is the context's last
    value and the template only names it (braces in user-chosen text stay as they are)."""
    return PydanticCustomError(INVALID, "{sentence}", {**context, "sentence": message})


class _Marker:
    """A custom value type: `check` validates, `schema` documents."""

    valid_range: str | None = None

    def check(self, value: Any, field: str) -> Any:  # pragma: no cover - overridden
        """Return the clean value or raise `invalid(...)`."""
        raise NotImplementedError

    def schema(self) -> JsonSchemaValue:  # pragma: no cover - overridden
        """The JSON schema of an accepted value."""
        raise NotImplementedError

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any, info: core_schema.ValidationInfo) -> Any:
            return self.check(value, info.field_name or "value")

        return core_schema.with_info_plain_validator_function(validate)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return self.schema()


@dataclass(frozen=True)
class Cleaned(_Marker):
    """A value a domain function checks and cleans (`proxies.sessions.parse_session`, …); its
    400 keeps the function's sentence, code and details, and `documented` is the accepted
    type shown in the JSON schema. With `blank_is_missing`, null or blank text is a missing key.
    """

    clean: Callable[[Any], Any]
    documented: Any
    blank_is_missing: bool = False

    def check(self, value: Any, field: str) -> Any:
        """The cleaned value."""
        if self.blank_is_missing and (value is None or (isinstance(value, str)
                                                        and not value.strip())):
            raise PydanticCustomError("missing", "{field} is required", {"field": field})
        try:
            return self.clean(value)
        except StorycheckError as exc:
            details = exc.extra.get("details") or {}
            context = {"field": details.get("field", field), "code": exc.code,
                       "details": details}
            raise sentence_error(exc.message, context) from None

    def schema(self) -> JsonSchemaValue:
        """The documented type's schema."""
        return TypeAdapter(self.documented).json_schema()


@dataclass(frozen=True)
class Present(_Marker):
    """A required text whose blank value counts as missing, then checked by `then`."""

    then: _Marker

    def check(self, value: Any, field: str) -> Any:
        """The value `then` accepts."""
        if value is None or (isinstance(value, str) and not value.strip()):
            raise PydanticCustomError("missing", "{field} is required", {"field": field})
        return self.then.check(value, field)

    def schema(self) -> JsonSchemaValue:
        """`then`'s schema."""
        return self.then.schema()


@dataclass(frozen=True)
class Number(_Marker):
    """A number within [minimum, maximum]; `whole` for integers.

    Accepts JSON numbers and numeric strings ("12"), whole floats for integers (4.0); refuses
    booleans, NaN/infinity and anything else, each with a sentence naming the field.
    """

    minimum: float | None = None
    maximum: float | None = None
    whole: bool = True

    @property
    def valid_range(self) -> str:  # type: ignore[override]
        """The allowed values as text."""
        return range_text(self.minimum, self.maximum)

    def check(self, value: Any, field: str) -> int | float:
        """The number, as int for whole numbers."""
        noun = "an integer" if self.whole else "a number"
        wrong_type = invalid(field, f"{field} must be {noun}", self.valid_range)
        out_of_range = invalid(field, f"{field} must be within {self.valid_range}", self.valid_range)
        if isinstance(value, bool):
            raise invalid(field, f"{field} must be {noun}, not true/false", self.valid_range)
        if isinstance(value, int) and abs(value) > HUGE:
            raise out_of_range
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise wrong_type from None
        else:
            raise wrong_type
        if not math.isfinite(number) or (self.whole and not number.is_integer()):
            raise wrong_type
        if (self.minimum is not None and number < self.minimum) or (
            self.maximum is not None and number > self.maximum
        ):
            raise out_of_range
        return int(number) if self.whole else number

    def schema(self) -> JsonSchemaValue:
        """`integer`/`number` with `minimum`/`maximum`."""
        schema: JsonSchemaValue = {"type": "integer" if self.whole else "number"}
        if self.minimum is not None:
            schema["minimum"] = int(self.minimum) if self.whole else self.minimum
        if self.maximum is not None:
            schema["maximum"] = int(self.maximum) if self.whole else self.maximum
        return schema


@dataclass(frozen=True)
class Flag(_Marker):
    """A boolean; unless `strict`, also 0/1 and the strings true/false/1/0."""

    strict: bool = False
    valid_range = "true or false"

    def check(self, value: Any, field: str) -> bool:
        """True or False."""
        if isinstance(value, bool):
            return value
        if self.strict:
            raise invalid(field, f"{field} must be true or false", self.valid_range)
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        raise invalid(field, f"{field} must be true or false", self.valid_range)

    def schema(self) -> JsonSchemaValue:
        """`boolean`."""
        return {"type": "boolean"}


@dataclass(frozen=True)
class Email(_Marker):
    """An email address (trimmed, ≤ 255 characters); blank or null means none."""

    valid_range = "an email address or null"

    def check(self, value: Any, field: str) -> str | None:
        """The address, or None."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str) or len(value) > 255 or not EMAIL_RE.match(value.strip()):
            raise invalid(field, "Invalid email format", self.valid_range)
        return value.strip()

    def schema(self) -> JsonSchemaValue:
        """A nullable `email` string."""
        return {"type": "string", "format": "email", "maxLength": 255, "nullable": True}


@dataclass(frozen=True)
class Digits(_Marker):
    """A string of at most `max_length` ASCII digits; "" means off. Whole numbers ≥ 0 count."""

    max_length: int = 64
    valid_range = "digits only, or empty for off"

    def check(self, value: Any, field: str) -> str:
        """The digits, trimmed."""
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            value = str(value)
        if not isinstance(value, str):
            raise invalid(field, f"{field} must be a string of digits (or empty)", self.valid_range)
        text = value.strip()
        if text and (not text.isascii() or not text.isdigit() or len(text) > self.max_length):
            raise invalid(
                field,
                f"{field} must be a string of at most {self.max_length} digits (or empty)",
                self.valid_range,
            )
        return text

    def schema(self) -> JsonSchemaValue:
        """A digit string."""
        return {"type": "string", "pattern": f"^[0-9]{{0,{self.max_length}}}$"}



@dataclass(frozen=True)
class Text(_Marker):
    """A trimmed single-line string of at most `max_length` characters.

    `label` names the value in the sentences ("Niche name cannot be empty"; default: the
    field's name); a missing or null value "is required", except with `allow_empty`.
    """

    max_length: int = 255
    label: str | None = None
    allow_empty: bool = False

    @property
    def valid_range(self) -> str:  # type: ignore[override]
        """The allowed lengths as text."""
        return f"{0 if self.allow_empty else 1}-{self.max_length} characters"

    def check(self, value: Any, field: str) -> str:
        """The trimmed text."""
        label = self.label or field
        if value is None:
            raise invalid(field, f"{field} is required")
        if not isinstance(value, str):
            raise invalid(field, f"{label} must be a string")
        text = value.strip()
        if not text and not self.allow_empty:
            raise invalid(field, f"{label} cannot be empty")
        if CONTROL_CHARACTERS.search(text):
            raise invalid(
                field, f"{field} must not contain control characters (newlines, tabs, NUL, …)"
            )
        if len(text) > self.max_length:
            raise invalid(
                field, f"{label} is longer than {self.max_length} characters", self.valid_range
            )
        return text

    def schema(self) -> JsonSchemaValue:
        """A string with its length limits."""
        return {"type": "string", "minLength": 0 if self.allow_empty else 1,
                "maxLength": self.max_length}


@dataclass(frozen=True)
class IdList(_Marker):
    """A non-empty list of id strings (each trimmed, 1–64 characters), duplicates dropped.

    `wrong` ends the sentence for a value that is not such a list ("batch_ids must be a list
    of ids"), `bad_item` the one for an item that is not an id; with `unique` set (a noun), a
    repeated id is refused ("niche_ids lists a niche more than once").
    """

    limit: int = 10_000
    wrong: str = "must be a list of ids"
    bad_item: str = "must contain id strings"
    unique: str | None = None

    def check(self, value: Any, field: str) -> list[str]:
        """The ids in their first order."""
        if value is None or value == []:
            raise invalid(field, f"{field} is required")
        if not isinstance(value, list):
            raise invalid(field, f"{field} {self.wrong}")
        if len(value) > self.limit:
            raise invalid(field, f"{field} may hold at most {self.limit} ids", f"1-{self.limit}")
        ids: list[str] = []
        for item in value:
            if not isinstance(item, str) or not item.strip() or len(item.strip()) > 64:
                raise invalid(field, f"{field} {self.bad_item}")
            ids.append(item.strip())
        unique = list(dict.fromkeys(ids))
        if self.unique and len(unique) != len(ids):
            raise invalid(field, f"{field} lists a {self.unique} more than once")
        return unique

    def schema(self) -> JsonSchemaValue:
        """An array of id strings."""
        return {"type": "array", "minItems": 1, "maxItems": self.limit,
                "items": {"type": "string", "minLength": 1, "maxLength": 64}}


@dataclass(frozen=True)
class Choice(_Marker):
    """One of a fixed set of strings ("Invalid status. Must be one of: active, inactive")."""

    values: tuple[str, ...] = ()

    def check(self, value: Any, field: str) -> str:
        """The chosen value."""
        if not isinstance(value, str) or value not in self.values:
            raise invalid(
                field, f"Invalid {field}. Must be one of: {', '.join(self.values)}",
                list(self.values),
            )
        return value

    def schema(self) -> JsonSchemaValue:
        """A string enum."""
        return {"type": "string", "enum": list(self.values)}
