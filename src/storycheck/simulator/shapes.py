"""The JSON shapes of Instagram's data answers: a profile, a v1 reel and a dense (xdt) reel.

Reels are serialized once per (profile, live items) and cached: under benchmark load the same
reel is sent many times, and it changes only when its items do.
"""

from __future__ import annotations

import functools
from typing import Any

from storycheck.simulator.answers import dumps
from storycheck.simulator.truth import Profile, StoryItem


def profile_user(profile: Profile, *, followed_by_viewer: bool) -> dict[str, Any]:
    """Return the `data.user` object of web_profile_info as the asking session sees it."""
    return {
        "id": profile.user_id,
        "fbid": str(17_841_400_000_000_000 + int(profile.user_id or 0) % 10**12),
        "username": profile.username,
        "full_name": profile.full_name,
        "biography": "",
        "bio_links": [],
        "external_url": None,
        "is_private": profile.is_private,
        "is_verified": False,
        "is_business_account": profile.business_deleted,
        "followed_by_viewer": followed_by_viewer,
        "follows_viewer": False,
        "requested_by_viewer": False,
        "blocked_by_viewer": False,
        "has_blocked_viewer": False,
        "profile_pic_url": profile.profile_pic_url,
        "profile_pic_url_hd": profile.profile_pic_url,
        "edge_followed_by": {"count": profile.follower_count},
        "edge_follow": {"count": 150 + profile.follower_count % 700},
        "edge_owner_to_timeline_media": {"count": profile.follower_count % 900, "edges": []},
        "highlight_reel_count": 0,
    }


def _reel(profile: Profile, items: tuple[StoryItem, ...], *, string_ids: bool) -> dict[str, Any]:
    """Return one reel: the user, the live items, `expiring_at` and `latest_reel_media`."""
    reel_id = str(profile.user_id)
    pk: int | str = reel_id if string_ids else int(reel_id)
    user = {
        "pk": pk,
        "pk_id": reel_id,
        "id": reel_id,
        "username": profile.username,
        "full_name": profile.full_name,
        "is_private": profile.is_private,
        "profile_pic_url": profile.profile_pic_url,
    }
    return {
        "id": pk,
        "strong_id__": reel_id,
        "latest_reel_media": items[-1].taken_at,
        "expiring_at": max(item.expiring_at for item in items),
        "seen": 0,
        "can_reply": True,
        "reel_type": "user_reel",
        "media_count": len(items),
        "media_ids": [item.pk for item in items],
        "user": user,
        "items": [
            {
                "pk": item.pk,
                "id": f"{item.pk}_{reel_id}",
                "taken_at": item.taken_at,
                "expiring_at": item.expiring_at,
                "media_type": item.media_type,
                "product_type": "story",
                "user": {"pk": pk, "username": profile.username},
            }
            for item in items
        ],
    }


@functools.lru_cache(maxsize=100_000)
def v1_reel(profile: Profile, items: tuple[StoryItem, ...]) -> tuple[bytes, bytes]:
    """Return (`"<id>":`, reel bytes) of the v1 feed, for its `reels` map and `reels_media` list."""
    return dumps(str(profile.user_id)) + b":", dumps(_reel(profile, items, string_ids=False))


@functools.lru_cache(maxsize=100_000)
def dense_reel(profile: Profile, items: tuple[StoryItem, ...]) -> bytes:
    """Return one `xdt_api__v1__feed__reels_media.reels_media[]` entry (ids as strings)."""
    return dumps(_reel(profile, items, string_ids=True))


def v1_feed(reels: list[tuple[bytes, bytes]]) -> bytes:
    """Return the logged-in reels_media answer: each reel in `reels` and in `reels_media`."""
    mapping = b",".join(key + reel for key, reel in reels)
    listing = b",".join(reel for _, reel in reels)
    return b'{"reels":{' + mapping + b'},"reels_media":[' + listing + b'],"status":"ok"}'


def dense_feed(reels: list[bytes]) -> bytes:
    """Return the dense answer of `POST /graphql/query`."""
    return (
        b'{"data":{"xdt_api__v1__feed__reels_media":{"reels_media":['
        + b",".join(reels)
        + b']}},"extensions":{"is_final":true},"status":"ok"}'
    )
