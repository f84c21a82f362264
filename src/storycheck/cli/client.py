"""One API client for every CLI command, whichever way it reaches storycheck.

The CLI speaks only the JSON API. `connect` picks the transport:

* `--server URL` (or `STORYCHECK_SERVER`): real HTTP to that server, with the API token;
* a SQLite database that a running `storycheck serve` holds (its engine lock names its URL):
  real HTTP to that server, so no second engine runs on the same file;
* otherwise the application in this process (`create_app`), called through httpx's WSGI
  transport — with the engine running when the command needs checks done (`check`), without
  it (and without touching anyone's leases) for the read commands.

Read commands never create a database: a missing SQLite file is an error naming the URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import click
import httpx

from storycheck.cli.lock import EngineLock, Holder, holder, lock_path, sqlite_path
from storycheck.config import Config

log = logging.getLogger(__name__)

# The in-process app serves "127.0.0.1" (a loopback name its Host allow-list accepts); no
# request leaves the process.
LOCAL_BASE_URL = "http://127.0.0.1"
DATABASE_HINT = (
    "set STORYCHECK_DATABASE_URL (e.g. `export STORYCHECK_DATABASE_URL=sqlite:////path/to/"
    "storycheck.db`) or pass --server URL"
)


def shown_url(database_url: str) -> str:
    """A database URL fit to print: any password masked."""
    from sqlalchemy.engine import make_url  # here: --server runs need no SQLAlchemy

    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: show nothing secret
        return database_url.split("@")[-1]


class CliError(click.ClickException):
    """A failure the user can act on: printed as one line, exit code 1."""


class ApiError(CliError):
    """The API answered with an error (`error` code and `message` sentence)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class ApiClient:
    """Calls the storycheck JSON API; every failure becomes a one-line `CliError`."""

    http: httpx.Client
    where: str  # how the user would name the other end: a URL or the database URL

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request; return the decoded JSON (None for an empty answer)."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise CliError(f"{self.where} did not answer in time ({method} {path})") from exc
        except httpx.TransportError as exc:
            raise CliError(f"Cannot reach the storycheck server at {self.where}: {exc}") from exc
        if response.status_code >= 400:
            raise self._error(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise CliError(f"{self.where} answered {path} with something that is not JSON") from exc

    def get(self, path: str, **params: Any) -> Any:
        """GET with query parameters (None values are left out)."""
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        """POST a JSON body (or `content=`/`headers=` for other bodies)."""
        if body is not None:
            kwargs["json"] = body
        return self.request("POST", path, **kwargs)

    def _error(self, response: httpx.Response) -> CliError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 401:
            return ApiError(
                401,
                "unauthorized",
                f"{self.where} needs an API token: set STORYCHECK_API_TOKEN or pass --token",
            )
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return ApiError(response.status_code, str(body.get("error", "")), body["message"])
        return ApiError(
            response.status_code,
            "http_error",
            f"{self.where} answered {response.request.method} {response.request.url.path} "
            f"with HTTP {response.status_code}",
        )


@dataclass(frozen=True)
class Target:
    """Where a command sends its requests: `--server`/`--token`, else the local database."""

    server: str | None
    token: str | None


def target_options(command: Any) -> Any:
    """Add `--server` and `--token` to a command (both also read from the environment)."""
    command = click.option(
        "--token",
        envvar="STORYCHECK_API_TOKEN",
        default=None,
        metavar="TOKEN",
        help="API token of the server (default STORYCHECK_API_TOKEN).",
    )(command)
    return click.option(
        "--server",
        envvar="STORYCHECK_SERVER",
        default=None,
        metavar="URL",
        help="Drive a running server through its API instead of the local database "
        "(default STORYCHECK_SERVER).",
    )(command)


@contextmanager
def connect(
    target: Target,
    *,
    engine: bool = False,
    create_database: bool = False,
) -> Iterator[ApiClient]:
    """An `ApiClient` for this command (see the module docstring for how the transport is chosen).

    `engine` runs the check engine in this process when no server serves the database;
    `create_database` lets a missing SQLite file be created (only `import` does).
    """
    config = Config.from_env()
    token = target.token or config.api_token
    if target.server:
        # A remote server may sit behind the proxy the environment names (HTTPS_PROXY, NO_PROXY).
        with _http_client(target.server.rstrip("/"), token, trust_env=True) as client:
            yield client
        return

    path = sqlite_path(config.database_url)
    if path is not None and not path.exists() and not create_database:
        raise CliError(f"No database at {shown_url(config.database_url)} ({path}); {DATABASE_HINT}")
    owner = holder(config.database_url)
    if owner is not None and owner.url:
        click.echo(
            f"Using the storycheck server at {owner.url} (it serves this database)", err=True
        )
        with _http_client(owner.url, token, trust_env=False) as client:
            yield client
        return
    if engine and owner is not None:
        raise _engine_busy(config.database_url, owner)
    if path is not None and not path.exists():
        click.echo(f"Creating a new database at {shown_url(config.database_url)}", err=True)
    with _in_process_client(config, token, engine=engine) as client:
        yield client


def _engine_busy(database_url: str, owner: Holder | None) -> CliError:
    kind = owner.kind if owner is not None else "process"
    pid = f" (pid {owner.pid})" if owner is not None and owner.pid else ""
    return CliError(
        f"Another storycheck {kind}{pid} runs the engine on {shown_url(database_url)}; "
        "wait for it to finish, or run `storycheck serve` and check through it"
    )


@contextmanager
def _http_client(base_url: str, token: str | None, *, trust_env: bool) -> Iterator[ApiClient]:
    if not base_url.startswith(("http://", "https://")):
        raise CliError(f"--server must be an http:// or https:// URL, not {base_url!r}")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx.Client(base_url=base_url, headers=headers, timeout=30.0, trust_env=trust_env)
    try:
        client = ApiClient(http, base_url)
        client.get("/api/health")
        yield client
    finally:
        http.close()


@contextmanager
def _in_process_client(config: Config, token: str | None, *, engine: bool) -> Iterator[ApiClient]:
    from storycheck.app import create_app, shutdown

    lock = None
    if engine:
        lock = EngineLock.acquire(config.database_url, kind="check")
        if lock is None and lock_path(config.database_url) is not None:
            # Someone took the lock since `connect` looked: never run a second engine.
            raise _engine_busy(config.database_url, holder(config.database_url))
    try:
        local = replace(config, host="127.0.0.1")
        if engine:
            # The same application `storycheck serve` runs, engine and reconciler included.
            app = create_app(replace(local, engine_enabled=True), start_background=True)
        else:
            app = create_app(local, start_background=False, release_leases=False)
    except Exception:
        if lock is not None:
            lock.release()
        raise
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url=LOCAL_BASE_URL, headers=headers
    )
    try:
        yield ApiClient(http, shown_url(config.database_url))
    finally:
        http.close()
        shutdown(app)
        if lock is not None:
            lock.release()
