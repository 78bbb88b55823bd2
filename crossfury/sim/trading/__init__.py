# SPDX-License-Identifier: MIT
"""The simulator's trading side: a signed-request account, a price-time matching engine and user data streams.

Attached to a ``BinanceSim`` as ``sim.trading``; it serves (protocols/binance.md sections 6-9):

============================================  ===============================================================
spot   ``/api/v3/``                           ``order`` (POST/GET/DELETE), ``openOrders`` (GET/DELETE),
                                              ``account``, ``myTrades``, ``userDataStream`` (legacy listenKey);
                                              WS API ``/ws-api/v3`` ``userDataStream.subscribe.signature``
USD-M  ``/fapi/v1/`` (+ ``/papi/v1/um/``)     ``order`` (POST/PUT/GET/DELETE), ``openOrders``, ``allOpenOrders``,
COIN-M ``/dapi/v1/``                          ``userTrades``, ``listenKey``; ``/fapi/v2|v3/balance``,
                                              ``positionRisk``, ``account``; PAPI ``/papi/v1/balance``,
                                              ``account``, ``um/positionRisk``, ``listenKey``
streams                                       ``/ws/<key>``, ``/private/ws?listenKey=<key>``,
                                              ``/private/ws/<key>``, ``/pm/ws/<key>``
============================================  ===============================================================

Signed requests are checked for real: API key header (-2014/-2015), HMAC signature over query + body (-1022)
and timestamp/recvWindow (-1021). Our orders match against the simulated public book (a taker order eats its
levels and prints public trades); resting orders keep price-time priority among themselves and fill as makers
when the public market trades or quotes through their price. It never imports the client's code.

Modules: ``matching`` (the engine and fill accounting), ``endpoints`` (signed REST), ``streams`` (listenKeys,
user streams and events), ``common`` (orders, fills, errors, constants); ``SimTrading`` here holds the
account's state, its faults and the background task, and combines the three.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from decimal import Decimal
from typing import Any

from crossfury.sim.account import DEFAULT_API_KEY, DEFAULT_API_SECRET
from crossfury.sim.trading.common import (
    _ZERO,
    DEFAULT_BALANCES,
    ApiError,
    SimFill,
    SimOrder,
    _load_public_key,
)
from crossfury.sim.trading.endpoints import RestEndpoints
from crossfury.sim.trading.matching import MatchingEngine
from crossfury.sim.trading.streams import UserConn, UserStreams

__all__ = ["DEFAULT_API_KEY", "DEFAULT_API_SECRET", "DEFAULT_BALANCES", "ApiError", "SimFill", "SimOrder", "SimTrading"]

log = logging.getLogger(__name__)


class SimTrading(MatchingEngine, RestEndpoints, UserStreams):
    """The simulated account and its trading endpoints for one ``BinanceSim``."""

    def __init__(self, sim: Any, api_key: str = DEFAULT_API_KEY, api_secret: str = DEFAULT_API_SECRET, *,
                 balances: dict[str, str] | None = None, listen_key_ttl_s: float = 3600.0,
                 order_limit_10s: int | None = None, order_limit_long: int | None = None,
                 api_public_key: str | None = None):
        self.sim = sim
        self.kind = sim.kind
        self.futures = self.kind != "spot"
        self.api_key = api_key
        self._secret = api_secret.encode()
        # An Ed25519 API key (section 6): the account registered its public key; signatures are base64.
        self._public_key = _load_public_key(api_public_key) if api_public_key else None
        self.listen_key_ttl_s = listen_key_ttl_s
        start = balances or DEFAULT_BALANCES[self.kind]
        self.free: dict[str, Decimal] = {a: Decimal(v) for a, v in start.items()}
        self.locked: dict[str, Decimal] = {a: _ZERO for a in start}
        self.positions: dict[str, list[Decimal]] = {}  # symbol -> [qty signed, entry px, accumulated realized]
        self.orders: dict[int, SimOrder] = {}
        self.by_client: dict[tuple[str, str], SimOrder] = {}
        self.resting: dict[str, list[SimOrder]] = {}
        self.fills: list[SimFill] = []
        self._order_ids = itertools.count(8_000_001)
        self._trade_ids = itertools.count(500_001)
        self._seq = itertools.count(1)
        self._sub_ids = itertools.count(0)
        self.listen_keys: dict[str, tuple[str, float]] = {}  # scope -> (key, expires at, monotonic)
        self.user_conns: list[UserConn] = []
        long_unit = "1M" if self.futures else "1D"
        self.order_limits = {"10S": (10.0, order_limit_10s or (300 if self.futures else 100)),
                             long_unit: (60.0 if self.futures else 86400.0,
                                         order_limit_long or (1200 if self.futures else 200_000))}
        self._order_times: dict[str, deque[float]] = {}  # limit unit -> times of the orders in its window
        # faults
        self.drop_events = 0
        self.ack_delay: tuple[float, int] = (0.0, 0)
        self.hang_after_accept: tuple[float, int] = (0.0, 0)
        self.counters: dict[str, int] = {"orders": 0, "rejects": 0, "fills": 0, "events_sent": 0,
                                         "events_dropped": 0, "auth_errors": 0}
        self._matching_own = False
        self._task: asyncio.Task | None = None
        self._wrap_market()
        self._routes_added = False
        sim.user_ws = self._user_ws

    # -- faults ---------------------------------------------------------------------------------------

    def drop_user_events(self, count: int = 1) -> None:
        """Do not send the next ``count`` user-stream events (the account changes all the same)."""
        self.drop_events += count

    def delay_acks(self, delay_s: float, count: int = 1) -> None:
        """Answer the next ``count`` order requests ``delay_s`` late (the order is live meanwhile)."""
        self.ack_delay = (delay_s, count)

    def timeout_after_accept(self, count: int = 1, hang_s: float = 60.0) -> None:
        """Accept the next ``count`` new orders, then hold the reply ``hang_s``: the client times out."""
        self.hang_after_accept = (hang_s, count)

    def expire_listen_key(self, scope: str | None = None) -> int:
        """Expire listenKeys now (of ``scope``, or all): ``listenKeyExpired`` is pushed, then nothing more."""
        n = 0
        for sc, (key, _) in list(self.listen_keys.items()):
            if scope is None or sc == scope:
                self._expire(sc, key)
                n += 1
        return n

    def disconnect_user_streams(self) -> int:
        """Drop every user-stream connection (TCP abort); listenKeys stay valid."""
        conns = [c for c in self.user_conns if not c.dead]
        for c in conns:
            c.dead = True
            transport = c.ws._req.transport if c.ws._req is not None else None
            if transport is not None:
                transport.abort()
        return len(conns)

    # -- lifecycle and plumbing -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the background task: listenKey expiry and maker fills when the market moves through."""
        if self._task is None:
            self._task = asyncio.create_task(self._watch(), name="binance-sim-trading")
            self.sim._tasks.append(self._task)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            for scope, (key, expires) in list(self.listen_keys.items()):
                if now >= expires:
                    self._expire(scope, key)
            for symbol, book in list(self.resting.items()):
                if book:
                    self._cross_resting(self.sim.market.symbols[symbol])

    def _wrap_market(self) -> None:
        market = self.sim.market
        plain = market.add_trade

        def add_trade(st, px, qty, buyer_is_maker, trade_ms, event_ms, trade_id=None, raw=None, agg=True):
            plain(st, px, qty, buyer_is_maker, trade_ms, event_ms, trade_id, raw, agg)
            if not self._matching_own and self.resting.get(st.spec.symbol):
                self._trade_through(st, px, qty, taker_sells=buyer_is_maker)
        market.add_trade = add_trade
