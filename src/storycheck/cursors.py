"""Opaque keyset-page cursors: a small JSON object in URL-safe base64 without padding.

Each list (profiles, live stories) decides what its cursor holds and checks it belongs to the
order asked for; this module only packs and unpacks the token.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def pack(data: dict[str, Any]) -> str:
    """The token for `data` (JSON-serialisable values only)."""
    raw = json.dumps(data, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def unpack(cursor: str) -> dict[str, Any]:
    """The object a token holds; ValueError for anything that is not a token of `pack`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise ValueError("not a cursor") from exc
    if not isinstance(data, dict):
        raise ValueError("not a cursor")
    return data
