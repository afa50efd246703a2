"""Polling helpers for tests that wait on a background process (a bound, never a timing goal)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], timeout: float = 30.0, every: float = 0.05):
    """Poll until `condition()` is truthy; its value, or AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout:.0f} s: {condition}")
        time.sleep(every)
