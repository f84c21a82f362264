"""The per-application service container the blueprints reach through `services()`."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app

from storycheck.batches.state import BatchStateManager
from storycheck.config import Config
from storycheck.crypto import SecretBox
from storycheck.db import Database

if TYPE_CHECKING:
    from storycheck.batches.progress import ProgressOptions
    from storycheck.engine.pool import WorkerPool
    from storycheck.runtime import Runtime


@dataclass
class Services:
    """Everything a request handler may need, built once by `create_app`."""

    config: Config
    db: Database
    secrets: SecretBox
    state: BatchStateManager
    pool: WorkerPool | None = None
    maintenance: Any = None
    # Set when the server begins to stop: long-lived streams end at once.
    stopping: threading.Event = field(default_factory=threading.Event)
    alerts: Any = None  # storycheck.alerts.delivery.AlertDeliverer when delivery runs here
    runtime: Runtime | None = None  # what `shutdown` stops (engine, broadcast, database)
    # The engine's time scale for waiting reasons and ETAs, read once (batches.api).
    progress: ProgressOptions | None = None


def services() -> Services:
    """The services of the application handling the current request."""
    return current_app.extensions["storycheck"]  # type: ignore[no-any-return]
