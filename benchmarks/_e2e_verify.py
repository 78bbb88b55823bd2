# SPDX-License-Identifier: MIT
"""Check a consumer's book once, after the window, against the simulator's own book at one update id.

The simulator keeps flooding, so the check is made at an id rather than at a time: the consumer starts
recording (update id -> top levels) for every book it delivers, then asks the simulator's REST depth for
its top levels at id L (the simulator answers from the very state it streams from), waits until its own book
has passed L and compares what it delivered at L. A consumer cannot be ahead of the simulator, so L is
delivered after the recording starts (or, for the pregen source's checkpoints, it asks again) unless the
book skipped it (a resync), which is reported.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from _e2e_common import TOP_N


class Recorder:
    """(symbol, update id) -> (bids, asks) as float pairs, for every book delivered while recording."""

    def __init__(self, limit: int = 5_000_000):
        self.seen: dict[tuple[str, int], tuple[list, list]] = {}
        self.first: dict[str, int] = {}  # first update id recorded per symbol
        self.limit = limit

    def record(self, symbol: str, last_id: int, bids, asks) -> None:
        self.first.setdefault(symbol, last_id)
        if len(self.seen) < self.limit:
            self.seen[(symbol, last_id)] = ([[float(p), float(q)] for p, q in bids],
                                            [[float(p), float(q)] for p, q in asks])


async def verify(endpoint: str, recorder: Recorder, names: dict[str, str], last_id: Callable[[str], int],
                 timeout_s: float = 30.0, tries: int = 20) -> dict[str, Any]:
    """Compare each symbol's delivered top ``TOP_N`` levels at the simulator's current id with its REST depth.

    ``names`` maps native symbols (the REST parameter) to the consumer's symbol in ``record``; ``last_id``
    gives the consumer's current update id for a native symbol. The pregen source answers the depth at its
    last checkpoint, which may precede the recording: then the check waits and asks again.
    """
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        for sym, name in names.items():
            for _ in range(tries):
                async with session.get(f"{endpoint}/fapi/v1/depth", params={"symbol": sym, "limit": "5"}) as r:
                    body = await r.json(content_type=None)
                target = body["lastUpdateId"]
                truth = ([[float(p), float(q)] for p, q in body["bids"][:TOP_N]],
                         [[float(p), float(q)] for p, q in body["asks"][:TOP_N]])
                deadline = time.monotonic() + timeout_s
                while last_id(sym) < target and time.monotonic() < deadline:
                    await asyncio.sleep(0.002)
                got = recorder.seen.get((name, target))
                first = recorder.first.get(name)
                if got is None and first is not None and first > target:
                    await asyncio.sleep(0.02)  # that id came before the recording started
                    continue
                break
            if got is None:
                out[sym] = {"update_id": target, "ok": False,
                            "why": f"no book delivered at id {target} (consumer at {last_id(sym)})"}
            else:
                out[sym] = {"update_id": target, "ok": got == truth}
                if got != truth:
                    out[sym].update(got=got, truth=truth)
    return out
