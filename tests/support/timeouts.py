"""One constant scales every timeout in the tests (STYLE.md habit 10).

Set PYMEET_TEST_TIMEOUT_SCALE=3 on a slow machine; speed itself is measured by
`make bench`, never asserted here.
"""

from __future__ import annotations

import os

SCALE = float(os.environ.get("PYMEET_TEST_TIMEOUT_SCALE", "1"))


def timeout(seconds: float) -> float:
    """A generous timeout, scaled."""
    return seconds * SCALE
