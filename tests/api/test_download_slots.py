"""Downloads streamed at once are capped; a slot comes back when a stream ends or is closed."""

from __future__ import annotations

import pytest

from storycheck.errors import Unavailable
from storycheck.stories.service import MAX_DOWNLOADS, primed


def _chunks(count: int):  # type: ignore[no-untyped-def]
    yield from (f"chunk {i}\n" for i in range(count))


def test_one_download_more_than_the_cap_is_refused_until_a_slot_frees() -> None:
    open_streams = [primed(_chunks(3)) for _ in range(MAX_DOWNLOADS)]
    with pytest.raises(Unavailable, match="downloads are in progress"):
        primed(_chunks(3))
    open_streams[0].close()  # the server closes the stream of a client that went away
    open_streams[0].close()  # idempotent
    replacement = primed(_chunks(2))
    assert list(replacement) == ["chunk 0\n", "chunk 1\n"]  # read to the end: slot freed
    for stream in open_streams[1:]:
        assert len(list(stream)) == 3
    again = [primed(_chunks(1)) for _ in range(MAX_DOWNLOADS)]
    for stream in again:
        stream.close()  # type: ignore[attr-defined]
