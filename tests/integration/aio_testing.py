# SPDX-License-Identifier: MIT
"""Helpers shared by the integration tests that drive a connector against the simulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


def run(body: Callable[[], Awaitable[Any]], timeout_s: float = 30.0) -> Any:
    """Run one test body in a fresh event loop, failing it after timeout_s."""
    return asyncio.run(asyncio.wait_for(body(), timeout=timeout_s))


async def until(predicate: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition") -> None:
    """Wait until predicate() holds; fail the test naming what was awaited after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
