"""Flask application factory: wires database, state manager, worker pool and blueprints."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Response, send_from_directory
from flask_cors import CORS
from werkzeug.security import safe_join

from storycheck.batches.state import BatchStateManager
from storycheck.config import Config
from storycheck.db import Database
from storycheck.runtime import Maintenance, build_runtime
from storycheck.web.context import Services
from storycheck.web.errors import error_response, register_error_handlers
from storycheck.web.security import register_security

log = logging.getLogger(__name__)

PACKAGE_STATIC = Path(__file__).parent / "static"
REPO_CLIENT_DIST = Path(__file__).resolve().parents[2] / "client" / "dist"
CWD_CLIENT_DIST = Path("client") / "dist"


def housekeeping_job(
    db: Database, state: BatchStateManager, config: Config | None = None
) -> Callable[[], None]:
    """Clear expired stories, record `batch.stalled` alerts, then let the auto-trigger create
    batches for niches under target."""
    from storycheck.alerts.delivery import AlertOptions
    from storycheck.alerts.sources import check_stalled_batches
    from storycheck.batches.progress import ProgressOptions
    from storycheck.db import utcnow
    from storycheck.niches.autotrigger import AutoTrigger
    from storycheck.profiles.service import refresh_stories

    trigger = AutoTrigger(db, state)
    stall_minutes = AlertOptions.from_env().stall_minutes
    progress = ProgressOptions.from_config(config)

    def run() -> None:
        with db.write() as session:
            refresh_stories(session)
        with db.write() as session:
            check_stalled_batches(session, utcnow(), stall_minutes, progress)
        trigger.tick()
        db.checkpoint()

    return run


def create_app(
    config: Config | None = None,
    *,
    start_background: bool | None = None,
    release_leases: bool | None = None,
) -> Flask:
    """Build the application: migrate the database, start the engine, register the API.

    `start_background` (default: `config.engine_enabled`) starts the worker pool and the
    periodic reconciler; API tests switch it off and drive the state manager directly.
    `release_leases` (default: true without a broker) returns every item lease at start; the
    CLI's read-only in-process app turns it off, as another process may hold live leases.
    """
    config = config or Config.from_env()
    background = config.engine_enabled if start_background is None else start_background

    dispatcher = None
    if background and config.broker_url:
        # Distributed mode: `storycheck worker` processes run the checks; the server keeps
        # the state manager and tells every worker after each change (DESIGN.md §7).
        from storycheck.distributed.dispatcher import Dispatcher

        dispatcher = Dispatcher.for_broker(config.broker_url)
        log.info("Distributed mode: checks run in `storycheck worker` processes")
    runtime = build_runtime(config, engine=background and dispatcher is None, broadcast=dispatcher)
    db, state = runtime.db, runtime.state
    services = Services(
        config=config,
        db=db,
        secrets=runtime.secrets,
        state=state,
        pool=runtime.pool,
        runtime=runtime,
    )
    runtime.start()
    # Never release every lease in distributed mode: workers elsewhere hold live ones.
    if release_leases is None:
        release_leases = config.broker_url is None
    state.reconcile(release_all_leases=release_leases)
    if background:
        services.maintenance = Maintenance(
            state,
            config.reconcile_interval,
            housekeeping=housekeeping_job(db, state, config),
            reaper=_dead_worker_reaper(db) if dispatcher is not None else None,
        )
        services.maintenance.start()
    _start_alerts(services, enabled=start_background is not False)

    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = config.max_content_length
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["storycheck"] = services

    CORS(
        app,
        resources={r"/*": {"origins": list(config.cors_origins)}},
        supports_credentials=True,
        allow_headers=["Content-Type", "Authorization"],
        expose_headers=["Content-Type", "Authorization"],
        methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        max_age=600,
    )
    register_error_handlers(app)
    register_security(app, config)
    _register_blueprints(app)
    _register_client(app, config)
    return app


def _dead_worker_reaper(db: Database) -> Callable[[], object]:
    """Distributed mode: the server, too, frees the leases of workers whose heartbeat stopped."""
    from storycheck.distributed.liveness import Reaper
    from storycheck.distributed.ownership import OwnershipOptions

    options = OwnershipOptions.from_env()
    return Reaper(
        db,
        lease_seconds=options.lease_seconds,
        safety=options.safety,
        grace=options.takeover_grace,
    )


def _start_alerts(services: Services, *, enabled: bool) -> None:
    """Run alert delivery in its own thread, even with the engine off (`STORYCHECK_ENGINE=0`);
    `STORYCHECK_ALERTS=0` (or `start_background=False`) switches it off."""
    from storycheck.alerts.delivery import AlertDeliverer, AlertOptions

    options = AlertOptions.from_env()
    if not enabled or not options.enabled:
        return
    services.alerts = AlertDeliverer(services.db, services.secrets, options)
    # Workers deliver too in distributed mode: only a lone server may free every lease.
    services.alerts.start(release_all_leases=services.config.broker_url is None)


def shutdown(app: Flask) -> None:
    """Stop background work: reconciler first, then the pool (which returns or records leases)."""
    services: Services = app.extensions["storycheck"]
    if services.alerts is not None:
        services.alerts.stop()
    if services.maintenance is not None:
        services.maintenance.stop()
    if services.runtime is not None:
        services.runtime.stop(timeout=5.0)
    else:
        services.db.dispose()


def _register_blueprints(app: Flask) -> None:
    from storycheck.alerts.api import bp as alerts_bp
    from storycheck.batches.api import bp as batches_bp
    from storycheck.niches.api import bp as niches_bp
    from storycheck.profiles.api import bp as profiles_bp
    from storycheck.proxies.api import bp as proxies_bp
    from storycheck.settings.api import bp as settings_bp
    from storycheck.stories.api import bp as stories_bp
    from storycheck.web.api import bp as system_bp

    for blueprint in (
        niches_bp,
        profiles_bp,
        batches_bp,
        proxies_bp,
        settings_bp,
        stories_bp,
        system_bp,
        alerts_bp,
    ):
        app.register_blueprint(blueprint)


def _client_dir(config: Config) -> Path | None:
    # Configured folder, files packaged with a wheel, the checkout this package lives in, or
    # the checkout the server was started from (a non-editable install run from the repo).
    candidates = (config.static_folder, PACKAGE_STATIC, REPO_CLIENT_DIST, CWD_CLIENT_DIST)
    for candidate in candidates:
        if candidate and (Path(candidate) / "index.html").exists():
            return Path(candidate)
    return None


def _register_client(app: Flask, config: Config) -> None:
    """Serve the built web client at `/`, falling back to index.html for client routes."""

    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def _client(path: str) -> Response:
        if path.startswith("api/") or path == "api":
            return error_response(404, "not_found", "No such API route")
        directory = _client_dir(config)
        if directory is None:
            return error_response(
                404,
                "client_not_built",
                "The web client is not built; run `make client` (or `npm run build` in client/)",
            )
        # Normalise before any file lookup: a path that leaves the folder is a 404 whether or
        # not the file it names exists (no file-existence oracle).
        safe = safe_join(str(directory), path) if path else None
        if path and safe is None:
            return error_response(404, "not_found", "Not found")
        if safe is not None and Path(safe).is_file():
            response = send_from_directory(directory, path)
            if path.startswith("assets/"):
                # Vite puts a content hash in every asset name: safe to cache for a year.
                response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
            return response
        response = send_from_directory(directory, "index.html")
        response.headers["Cache-Control"] = "no-cache"
        return response
