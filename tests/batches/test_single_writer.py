"""Only `batches/state.py` writes batch status or queue position (DESIGN.md §3, STYLE habit 1)."""

from __future__ import annotations

import re
from pathlib import Path

import storycheck

PACKAGE = Path(storycheck.__file__).parent
# An assignment to, or an UPDATE of, a batch's status or queue position.
WRITES = re.compile(
    r"(batch\w*\.(status|queue_position)\s*=[^=])"
    r"|(update\((Batch|BATCHES)\)[^\n]*\n?[^\n]*\.values\([^)]*\b(status|queue_position)\s*=)"
    r"|(UPDATE\s+batches\s+SET[^;\"]*\b(status|queue_position)\s*=)",
    re.IGNORECASE,
)


def test_no_other_module_writes_batch_status_or_position():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in {"batches/state.py"} or relative.startswith("migrations/"):
            continue
        for match in WRITES.finditer(path.read_text()):
            offenders.append(f"{relative}: {match.group(0).strip()[:80]}")
    assert offenders == []


def test_the_pattern_catches_a_write():
    assert WRITES.search("batch.status = 'done'")
    assert WRITES.search("update(Batch).where(x).values(status='done')")
    assert WRITES.search("UPDATE batches SET queue_position = 3")
    assert not WRITES.search("if batch.status == 'done':")
