# SPDX-License-Identifier: MIT
"""End-to-end consumer: cryptofeed's ``BinanceFutures`` feed, one ``L2_BOOK`` callback (see bench_e2e.py).

cryptofeed is pointed at the simulator without touching its logic:

- ``BinanceFutures`` is subclassed with the simulator as its only WebSocket and REST endpoint (its
  ``websocket_endpoints`` / ``rest_endpoints`` class attributes; the routes are cryptofeed's own, so
  exchangeInfo, the depth snapshot and ``/stream?streams=btcusdt@depth@100ms`` all go to the simulator);
- cryptofeed's ``WSAsyncConn`` refuses any address that is not ``wss://`` and the simulator speaks plain
  ``ws://`` on loopback, so ``cryptofeed.feed.WSAsyncConn`` is replaced by a subclass whose constructor skips
  that one check (everything else, the ``websockets`` client included, is cryptofeed's).

Defaults otherwise: uvloop (cryptofeed's default config), ``max_depth=0`` (full book), depth snapshot of 1000
levels, the ``100ms`` depth stream. The callback is an ``async def`` as cryptofeed expects and records
``time.time() - receipt_timestamp``; cryptofeed takes ``receipt_timestamp`` (``time.time()``) when its read
loop takes the frame from the ``websockets`` connection, so frame parsing in ``websockets`` is not counted.
Gaps are cryptofeed's "Missing book update detected" warnings; snapshots are counted by wrapping
``_snapshot``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from array import array

import cryptofeed.feed
from _e2e_common import TOP_N, Window, emit, parser, pin
from _e2e_verify import Recorder, verify
from cryptofeed import FeedHandler
from cryptofeed.connection import AsyncConnection, RestEndpoint, Routes, WebsocketEndpoint, WSAsyncConn
from cryptofeed.defines import L2_BOOK
from cryptofeed.exchanges import BinanceFutures


class PlainWSAsyncConn(WSAsyncConn):
    """cryptofeed's WebSocket connection without its ``wss://``-only check (the simulator is ``ws://``)."""

    def __init__(self, address: str, conn_id: str, authentication=None, subscription=None, **kwargs):
        self.address = address
        AsyncConnection.__init__(self, f"{conn_id}.ws.{self.conn_count}", authentication=authentication,
                                 subscription=subscription)
        self.ws_kwargs = kwargs


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.gaps = 0
        self.other: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "Missing book update" in text:
            self.gaps += 1
        elif len(self.other) < 20:
            self.other.append(text[:300])


def sim_feed_class(endpoint: str) -> type[BinanceFutures]:
    ws = endpoint.replace("http://", "ws://").replace("https://", "wss://")
    base_rest = BinanceFutures.rest_endpoints[0]
    return type("SimBinanceFutures", (BinanceFutures,), {
        "websocket_endpoints": [WebsocketEndpoint(ws, options={"compression": None})],
        "rest_endpoints": [RestEndpoint(endpoint, routes=Routes(**vars(base_rest.routes)))],
    })


def main(args) -> dict:
    cryptofeed.feed.WSAsyncConn = PlainWSAsyncConn
    log = _Counter()
    logging.getLogger("feedhandler").addHandler(log)
    lat = array("d")
    delivered = [0]
    append, now = lat.append, time.time

    async def on_book(book, receipt_timestamp: float) -> None:
        append(now() - receipt_timestamp)
        delivered[0] += 1

    fh = FeedHandler(config={"uvloop": True, "log": {"disabled": True}})
    feed_cls = sim_feed_class(args.endpoint)
    natives = args.symbols.split(",")
    mapping = {v: k for k, v in feed_cls.symbol_mapping().items()}  # native -> normalised (BTC-USDT-PERP)
    std = {n: mapping[n] for n in natives}
    feed = feed_cls(symbols=list(std.values()), channels=[L2_BOOK], callbacks={L2_BOOK: on_book})
    snapshots = [0]
    original_snapshot = feed._snapshot

    async def counted_snapshot(pair: str) -> None:
        snapshots[0] += 1
        await original_snapshot(pair)

    feed._snapshot = counted_snapshot
    fh.add_feed(feed)
    # FeedHandler installed uvloop's policy; uvloop 0.23's get_event_loop() (which FeedHandler.run calls)
    # no longer creates a loop, so create and set it first.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    fh.run(start_loop=False, install_signal_handlers=False)

    def counters() -> dict[str, int]:
        return {"frames": sum(h.conn.received for h in feed.connection_handlers), "delivered": delivered[0],
                "gaps": log.gaps, "snapshots": snapshots[0]}

    def synced() -> bool:
        return all(s in feed._l2_book for s in std.values()) and delivered[0] > 0

    async def run() -> dict:
        window = Window(args, counters, lat, 1.0)
        await window.run(synced)
        recorder = Recorder()

        async def record(book, receipt_timestamp: float) -> None:
            bids, asks = book.book.bids, book.book.asks
            recorder.record(book.symbol, book.sequence_number,
                            [bids.index(i) for i in range(min(TOP_N, len(bids)))],
                            [asks.index(i) for i in range(min(TOP_N, len(asks)))])

        feed.callbacks[L2_BOOK].append(record)
        checks = await verify(args.endpoint, recorder, std, lambda n: feed.last_update_id.get(std[n], 0))
        return window.result("cryptofeed", checks=checks, log_warnings=log.other, books={
            s: {"levels": [len(feed._l2_book[s].book.bids), len(feed._l2_book[s].book.asks)]}
            for s in std.values() if s in feed._l2_book})

    return loop.run_until_complete(run())


if __name__ == "__main__":
    a = parser(__doc__.splitlines()[0]).parse_args()
    pin(a.cpu)
    result = main(a)
    emit(result)
    os._exit(0)  # cryptofeed's connection handlers would reconnect forever; the result is out
