"""A faithful Instagram simulator and a local proxy fleet, for tests, demos and benchmarks.

Nothing here reaches Instagram: the engine talks to `SimulatorServer` over real HTTP, through
real proxies (`ProxyFleet`), and the referee (`/__sim__/stats`, `/__sim__/truth`) scores it.
"""

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
    create_app,
)
from storycheck.simulator.sessions import session_ids_for
from storycheck.simulator.truth import Truth, truth_for, user_id_for, username_for

__all__ = [
    "INSTAGRAM_APP_ID",
    "REELS_QUERY_HASH",
    "FaultConfig",
    "Limit",
    "LimitsConfig",
    "PopulationConfig",
    "ProxyFleet",
    "SimulatorConfig",
    "SimulatorServer",
    "Truth",
    "create_app",
    "session_ids_for",
    "truth_for",
    "user_id_for",
    "username_for",
]
