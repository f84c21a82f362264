"""Every table, imported in one place so metadata (and Alembic) sees them all."""

from storycheck.alerts.models import AlertChannel, AlertDelivery, AlertEvent
from storycheck.batches.models import Batch, BatchLog, BatchProfile, BatchStatus, ItemStatus
from storycheck.db import Base
from storycheck.distributed.models import PairLease, WorkerHeartbeat
from storycheck.niches.models import Niche
from storycheck.profiles.models import Profile, ProfileCount
from storycheck.proxies.models import IgSession, PairHealth, Proxy, ProxyErrorLog, ProxyUsage
from storycheck.settings.models import SystemSettings
from storycheck.stories.models import StoryResult, StoryWindow

__all__ = [
    "AlertChannel",
    "AlertDelivery",
    "AlertEvent",
    "Base",
    "Batch",
    "BatchLog",
    "BatchProfile",
    "BatchStatus",
    "IgSession",
    "ItemStatus",
    "Niche",
    "PairLease",
    "PairHealth",
    "Profile",
    "ProfileCount",
    "Proxy",
    "ProxyErrorLog",
    "ProxyUsage",
    "StoryResult",
    "StoryWindow",
    "SystemSettings",
    "WorkerHeartbeat",
]
