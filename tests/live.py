"""Former home of `free_port` and `wait_until`, now in `tests.helpers` (import from there).

Kept only so tests written against the old name still import; remove once none does.
"""

from tests.helpers import free_port, wait_until

__all__ = ["free_port", "wait_until"]
