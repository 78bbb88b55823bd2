# SPDX-License-Identifier: MIT
"""Faults the simulator injects: their pending state, how they are scheduled, and how often they fired.

The server applies them (``BinanceSim.drop_depth`` and friends); this module only holds what is pending so
the market and the REST layer can ask "is the next one faulty?" without knowing about connections.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from crossfury.core.errors import ConfigError

MARKET_FAULTS = ("drop_depth", "disconnect", "silence", "delay", "malformed", "rest_error", "stale_snapshot")
#: Faults of the simulated account (``SimTrading``): lost user events, slow or hung order replies, stream loss.
TRADING_FAULTS = ("drop_user_events", "delay_acks", "timeout_after_accept", "expire_listen_key",
                  "disconnect_user_streams")
FAULTS = MARKET_FAULTS + TRADING_FAULTS
#: One example per fault for help texts: NAME@SECONDS[:key=value,...].
FAULT_EXAMPLES = ("drop_depth@5:symbol=BTCUSDT,count=1", "disconnect@10:graceful=false", "silence@5:duration_s=3",
                  "delay@5:delay_s=0.5,duration_s=10", "malformed@5:count=1", "rest_error@5:status=429,count=1",
                  "stale_snapshot@0:count=1", "drop_user_events@5:count=3", "delay_acks@5:delay_s=2,count=1",
                  "timeout_after_accept@5:count=1,hang_s=60", "expire_listen_key@60:scope=usdm",
                  "disconnect_user_streams@30")

# binance.md section 7: the error bodies the exchange sends with these statuses.
REST_ERROR_BODIES = {
    429: (-1003, ("Too many requests; current limit of IP(127.0.0.1) is {limit} requests per minute. "
                  "Please use the websocket for live updates to avoid polling the API.")),
    418: (-1003, ("Way too many requests; IP(127.0.0.1) banned until {until_ms}. "
                  "Please use the websocket for live updates to avoid bans.")),
    503: (-1000, "Unknown error, please check your request or try again later."),
}


@dataclass(frozen=True)
class ScheduledFault:
    """A fault to inject ``at_s`` seconds after the simulator starts."""

    at_s: float
    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def _value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_fault(text: str) -> ScheduledFault:
    """Parse ``name@seconds[:key=value,...]``, e.g. ``drop_depth@5`` or ``rest_error@3:status=418,count=2``."""
    head, _, args = text.partition(":")
    name, at, when = head.partition("@")
    if name not in FAULTS or not at:
        raise ConfigError(f"fault {text!r}: expected NAME@SECONDS[:key=value,...] with NAME one of "
                          f"{', '.join(FAULTS)}")
    try:
        at_s = float(when)
    except ValueError:
        raise ConfigError(f"fault {text!r}: {when!r} is not a number of seconds") from None
    kwargs = {}
    for item in filter(None, args.split(",")):
        key, eq, val = item.partition("=")
        if not eq:
            raise ConfigError(f"fault {text!r}: argument {item!r} is not key=value")
        kwargs[key.strip()] = _value(val.strip())
    return ScheduledFault(at_s, name, kwargs)


@dataclass
class RestError:
    """One pending injected REST error."""

    status: int
    retry_after_s: float
    msg: str | None = None


class FaultState:
    """Pending market-wide faults and the count of each fault applied (``applied[name]``)."""

    def __init__(self) -> None:
        self.applied: Counter[str] = Counter()
        self._drop_depth: dict[str | None, int] = {}
        self._rest_errors: deque[RestError] = deque()
        self._stale = 0
        self.malformed = 0  # next N broadcast messages go out malformed to every recipient
        self.malformed_replace = False

    def add_drop_depth(self, symbol: str | None, count: int) -> None:
        """Drop the next ``count`` depth events of ``symbol`` (None: of any symbol)."""
        self._drop_depth[symbol] = self._drop_depth.get(symbol, 0) + count

    def take_drop_depth(self, symbol: str) -> bool:
        """Return True (and count it) when the next depth event of ``symbol`` must not be sent."""
        if not self._drop_depth:
            return False
        for key in (symbol, None):
            left = self._drop_depth.get(key, 0)
            if left:
                if left == 1:
                    del self._drop_depth[key]
                else:
                    self._drop_depth[key] = left - 1
                self.applied["drop_depth"] += 1
                return True
        return False

    def add_rest_error(self, status: int, count: int, retry_after_s: float, msg: str | None) -> None:
        """Answer the next ``count`` REST requests with ``status``."""
        if status not in REST_ERROR_BODIES:
            raise ConfigError(f"rest_error status {status} is not one of {sorted(REST_ERROR_BODIES)}")
        self._rest_errors.extend(RestError(status, retry_after_s, msg) for _ in range(count))

    def take_rest_error(self) -> RestError | None:
        """Return (and count) the error the next REST request gets, or None."""
        if not self._rest_errors:
            return None
        self.applied["rest_error"] += 1
        return self._rest_errors.popleft()

    def add_stale_snapshot(self, count: int) -> None:
        """Serve the next ``count`` depth snapshots stale."""
        self._stale += count

    def take_stale_snapshot(self) -> bool:
        """Return (and count) whether the next snapshot must be stale."""
        if not self._stale:
            return False
        self._stale -= 1
        self.applied["stale_snapshot"] += 1
        return True
