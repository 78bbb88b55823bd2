# SPDX-License-Identifier: MIT
"""Exponential backoff with jitter and a cap, for reconnects and retried requests."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays that double from ``initial_s`` up to ``max_s``, each shortened by a random jitter fraction.

    The n-th delay (from 0) lies in ``[base * (1 - jitter), base]`` with ``base = min(max_s, initial_s *
    factor**n)``: never above the cap, and spread so that many clients cut off together do not reconnect
    together. ``reset()`` after a success starts again from ``initial_s``.

    >>> b = Backoff(initial_s=1.0, max_s=8.0, jitter=0.0)
    >>> [b.next_delay() for _ in range(5)]
    [1.0, 2.0, 4.0, 8.0, 8.0]
    """

    initial_s: float = 0.1
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random, repr=False)
    attempts: int = 0

    def __post_init__(self) -> None:
        if not (self.initial_s > 0 and self.max_s >= self.initial_s and self.factor >= 1 and 0 <= self.jitter <= 1):
            raise ValueError(f"invalid backoff: initial_s={self.initial_s}, max_s={self.max_s}, "
                             f"factor={self.factor}, jitter={self.jitter}")

    def next_delay(self) -> float:
        """Return the delay in seconds before the next attempt, and count the attempt."""
        # Cap the exponent too, so a long outage cannot overflow the float.
        base = min(self.max_s, self.initial_s * self.factor ** min(self.attempts, 64))
        self.attempts += 1
        return base * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        """Start again from ``initial_s`` (call after a success)."""
        self.attempts = 0
