"""A faithful Instagram simulator and a local proxy fleet, for tests, demos and benchmarks.

Nothing here reaches Instagram: the engine talks to `SimulatorServer` over real HTTP, through
real proxies (`ProxyFleet`, optionally `silent_close`), and the referee (`/__sim__/stats`,
`/__sim__/truth`) scores it. The Instagram endpoints are listed in `server.py`'s docstring.

Every answer of docs' instagram-facts.md is a per-session mode (`MODES`), set with
`SimulatorServer.set_mode` / `SimulatorState.set_mode` or
`POST /__sim__/sessions/{id}/mode {"mode", "after", "endpoints"}`:

* ``ok`` — normal answers (logged-in shapes); ``rate_limit_401`` / ``rate_limit_429`` —
  "Please wait a few minutes"; ``login_required`` — 403 JSON with ``logout_reason``;
  ``login_redirect`` — 302 to ``/accounts/login/?next=…``; ``login_page`` — 200 HTML
  "Login • Instagram";
* ``checkpoint``, ``challenge``, ``suspended`` (a ``/suspended/`` challenge url),
  ``feedback`` (feedback_required, spam, "Action Blocked"), ``unsupported_version``
  (checkpoint_url …/web/unsupported_version/) — 400 JSON;
* ``masked_404`` — 404 with the body ``Not Found``; ``unhonoured`` — web_profile_info
  ``{"status":"ok"}``, reels_media ``{"reels":{},"status":"ok"}``;
* ``edge_block`` — 403 HTML that is no login page; ``server_error`` — 500;
  ``edge_502`` — 502 HTML; ``error_560`` — 560 (seen on GraphQL).

An edge block of a client address (logged-in and anonymous alike) is per address instead:
``POST /__sim__/addresses {"addresses": [...], "blocked": true}``; proxy ``i`` of a
`ProxyFleet` reaches the simulator from ``127.0.0.(10 + i)``.

Control API (`control.py`), none of it limited, faulted or counted: ``GET /__sim__/stats``,
``POST /__sim__/reset``, ``GET|POST /__sim__/truth``, ``GET|POST /__sim__/sessions``,
``POST /__sim__/sessions/{id}/mode``, ``GET /__sim__/sessions/{id}/last_request``,
``POST /__sim__/sessions/{id}/logout|challenge|restore``, ``GET|POST /__sim__/addresses``,
``GET|POST /__sim__/follows``, ``GET|POST /__sim__/profiles``, ``GET|POST /__sim__/renames``,
``GET|POST /__sim__/limits``, ``GET|POST /__sim__/faults``, ``GET|POST /__sim__/clock``,
``GET|POST /__sim__/config``.
"""

from storycheck.simulator.answers import MODES
from storycheck.simulator.config import (
    FaultConfig,
    Limit,
    LimitsConfig,
    PopulationConfig,
    SimulatorConfig,
)
from storycheck.simulator.proxies import ProxyFleet
from storycheck.simulator.server import (
    INSTAGRAM_APP_ID,
    REELS_QUERY_HASH,
    SimulatorServer,
    SimulatorState,
    create_app,
)
from storycheck.simulator.sessions import session_ids_for
from storycheck.simulator.truth import Truth, truth_for, user_id_for, username_for

__all__ = [
    "INSTAGRAM_APP_ID",
    "REELS_QUERY_HASH",
    "FaultConfig",
    "Limit",
    "MODES",
    "LimitsConfig",
    "PopulationConfig",
    "ProxyFleet",
    "SimulatorConfig",
    "SimulatorServer",
    "SimulatorState",
    "Truth",
    "create_app",
    "session_ids_for",
    "truth_for",
    "user_id_for",
    "username_for",
]
