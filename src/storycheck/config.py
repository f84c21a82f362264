"""One settings object for the process, read from the environment (and a `.env` file)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

DEFAULT_CORS_ORIGINS = ("http://localhost:3000", "http://127.0.0.1:3000")


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Config:
    """Process-wide configuration; tests build their own instead of touching the environment."""

    database_url: str = "sqlite:///storycheck.db"
    instagram_url: str = "https://www.instagram.com"
    host: str = "127.0.0.1"
    port: int = 5000
    api_token: str | None = None
    secret_key: str | None = None
    # The key file when STORYCHECK_SECRET_KEY is unset (default: see storycheck/keys.py).
    key_file: str | None = None
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    # Host names served besides localhost/127.0.0.1/[::1] (DNS-rebinding guard).
    allowed_hosts: tuple[str, ...] = ()
    broker_url: str | None = None
    # The in-process engine runs in-progress batches; tests of the API alone switch it off.
    engine_enabled: bool = True
    reconcile_interval: float = 3.0
    # Largest accepted request body (imports are the big ones): 32 MiB.
    max_content_length: int = 32 * 1024 * 1024
    static_folder: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env_file: str | os.PathLike[str] | None = None) -> Config:
        """Build the configuration from `STORYCHECK_*` variables, loading `.env` first."""
        load_dotenv(env_file or Path.cwd() / ".env", override=False)
        origins = _env("STORYCHECK_CORS_ORIGINS")
        return cls(
            database_url=_env("STORYCHECK_DATABASE_URL")
            or _env("DATABASE_URL")
            or cls.database_url,
            instagram_url=_env("STORYCHECK_INSTAGRAM_URL", cls.instagram_url) or cls.instagram_url,
            host=_env("STORYCHECK_HOST", cls.host) or cls.host,
            port=int(_env("STORYCHECK_PORT", str(cls.port)) or cls.port),
            api_token=_env("STORYCHECK_API_TOKEN"),
            secret_key=_env("STORYCHECK_SECRET_KEY"),
            key_file=_env("STORYCHECK_KEY_FILE"),
            cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip())
            if origins
            else DEFAULT_CORS_ORIGINS,
            allowed_hosts=tuple(
                h.strip() for h in (_env("STORYCHECK_ALLOWED_HOSTS") or "").split(",") if h.strip()
            ),
            broker_url=_env("STORYCHECK_BROKER_URL"),
            engine_enabled=_env_bool("STORYCHECK_ENGINE", True),
            reconcile_interval=float(_env("STORYCHECK_RECONCILE_INTERVAL", "3") or 3),
            max_content_length=int(
                _env("STORYCHECK_MAX_BODY_BYTES", str(cls.max_content_length)) or 0
            ),
            static_folder=_env("STORYCHECK_STATIC_DIR"),
        )

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")


def is_loopback(host: str) -> bool:
    """Tell whether `host` only accepts connections from this machine."""
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
