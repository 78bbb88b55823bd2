# SPDX-License-Identifier: MIT
"""Request-weight limiting: a token bucket corrected by the exchange's own usage headers.

Exchanges count weight per IP in fixed windows (Binance: ``X-MBX-USED-WEIGHT-1M``, protocols/binance.md §7).
The bucket refills continuously at ``limit / window_s`` so bursts spread out; each response's header tells
how much the exchange has really counted, which also covers weight spent by other processes on the same IP.
HTTP 429 pauses every request for Retry-After; 418 (an IP ban) makes every request fail at once until it
lifts, because continuing after a ban only lengthens it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from crossfury.core.errors import ExchangeError

log = logging.getLogger(__name__)


class RateLimitError(ExchangeError):
    """The exchange banned this IP (HTTP 418) or a request cannot be sent before the ban lifts."""


class WeightLimiter:
    """Admit requests by weight so the exchange's per-window limit is never reached.

    Parameters
    ----------
    limit:
        Weight allowed per window (Binance USD-M: 2400 per minute, spot: 6000).
    window_s:
        The window length in seconds.
    headroom:
        Fraction of ``limit`` this limiter allows itself, leaving the rest for other users of the IP.
    """

    def __init__(self, limit: int, window_s: float = 60.0, *, headroom: float = 0.9,
                 clock: Callable[[], float] = time.monotonic):
        if limit <= 0 or window_s <= 0 or not 0 < headroom <= 1:
            raise ValueError(f"invalid limiter: limit={limit}, window_s={window_s}, headroom={headroom}")
        self.capacity = limit * headroom
        self.rate_per_s = self.capacity / window_s
        self._clock = clock
        self._tokens = self.capacity
        self._stamp = clock()
        self.paused_until = 0.0  # monotonic time; 429 Retry-After
        self.banned_until = 0.0  # monotonic time; 418 Retry-After
        self.used_weight: int | None = None  # last value the exchange reported
        self.waits = 0
        self.rate_limited = 0  # 429s seen
        self.bans = 0  # 418s seen

    def _refill(self) -> float:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate_per_s)
        self._stamp = now
        return now

    def delay_for(self, weight: int) -> float:
        """Return the seconds to wait before ``weight`` may be spent (0 when it may be spent now)."""
        now = self._refill()
        if now < self.banned_until:
            raise RateLimitError(f"IP banned by the exchange for {self.banned_until - now:.1f} s more (HTTP 418)",
                                 code=418, http_status=418)
        wait = max(0.0, self.paused_until - now)
        if weight > self.capacity:
            raise ValueError(f"request weight {weight} exceeds the limiter capacity {self.capacity:g}")
        if self._tokens < weight:
            wait = max(wait, (weight - self._tokens) / self.rate_per_s)
        return wait

    async def acquire(self, weight: int = 1) -> None:
        """Wait until ``weight`` may be spent, then spend it. Raises RateLimitError while banned."""
        while (wait := self.delay_for(weight)) > 0:
            self.waits += 1
            await asyncio.sleep(wait)
        self._tokens -= weight

    def observe_used(self, used_weight: int) -> None:
        """Correct the bucket with the weight the exchange reports as used in its current window."""
        self._refill()
        self.used_weight = used_weight
        self._tokens = min(self._tokens, self.capacity - used_weight)

    def pause(self, retry_after_s: float) -> None:
        """Hold every request for ``retry_after_s`` (HTTP 429)."""
        self.rate_limited += 1
        self.paused_until = max(self.paused_until, self._clock() + retry_after_s)
        log.warning("rate limited by the exchange (HTTP 429): holding requests for %.1f s", retry_after_s)

    def ban(self, retry_after_s: float) -> None:
        """Refuse every request for ``retry_after_s`` (HTTP 418, an IP ban)."""
        self.bans += 1
        self.banned_until = max(self.banned_until, self._clock() + retry_after_s)
        log.error("IP banned by the exchange (HTTP 418) for %.1f s: no request is sent until then", retry_after_s)

    def stats(self) -> dict[str, float | int | None]:
        """Return the limiter's counters and state."""
        now = self._refill()
        return {"tokens": round(self._tokens, 1), "capacity": self.capacity, "used_weight": self.used_weight,
                "waits": self.waits, "rate_limited": self.rate_limited, "bans": self.bans,
                "paused_s": max(0.0, self.paused_until - now), "banned_s": max(0.0, self.banned_until - now)}


class MessageRate:
    """Pace outgoing control messages on one WebSocket (Binance closes a connection above 5 or 10 per second)."""

    def __init__(self, per_s: float, clock: Callable[[], float] = time.monotonic):
        self.interval_s = 1.0 / per_s
        self._clock = clock
        self._next = 0.0

    async def wait(self) -> None:
        """Wait for this connection's next sending slot."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.interval_s
        if slot > now:
            await asyncio.sleep(slot - now)
