# SPDX-License-Identifier: MIT
"""crossfury's Binance connector against crossfury.sim over real sockets on 127.0.0.1.

Every wait is bounded; the checks compare the connector's C books with the simulator's own books, which
are built by independent code.
"""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal

import pytest
from aio_testing import run, until

from crossfury.connectors import create_connector
from crossfury.core.errors import ConfigError
from crossfury.events import BookSnapshot, Kline, MarkPrice, Trade
from crossfury.sim import BinanceSim

EXCHANGE = {"usdm": "binance-usdm", "spot": "binance-spot", "coinm": "binance-coinm"}



def _exact(levels) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in levels]


async def assert_books_match(conn, sim: BinanceSim, symbols: list[str]) -> None:
    """Pause the market, let the connector catch up, and compare every level exactly."""
    await sim.pause()
    for sym in symbols:
        native = conn.instrument(sym).native
        await until(lambda: conn.order_book(sym, 1).valid and conn.book(sym).last_id == sim.last_update_id(native),
                    what=f"{sym} to catch up with the simulator")
        last_id, sim_bids, sim_asks = sim.book(native)
        bids, asks = conn.book(sym).top_text(100_000)
        assert conn.book(sym).last_id == last_id
        assert _exact(bids) == _exact(sim_bids), sym
        assert _exact(asks) == _exact(sim_asks), sym
    sim.resume()


def _applied(conn, sym: str) -> int:
    return conn.health()["books"][conn.instrument(sym).symbol]["applied"] or 0


@pytest.mark.parametrize("market", ["usdm", "spot", "coinm"])
def test_connector_books_equal_the_simulator_after_many_messages(market):
    async def body():
        async with BinanceSim(market, events_per_s=200, seed=3) as sim:
            conn = create_connector(EXCHANGE[market], endpoint=sim.rest_url)
            async with conn:
                symbols = [conn.instrument(s).symbol for s in sim.symbols]
                await conn.subscribe(symbols, ["book"])
                await until(lambda: all(_applied(conn, s) >= 150 for s in symbols), what="150 applied events each")
                await assert_books_match(conn, sim, symbols)
                h = conn.health()
                assert h["gaps"] == 0 and h["reconnects"] == 0
                assert all(b["snapshots"] == 1 for b in h["books"].values())

    run(body)


def test_connector_detects_an_injected_gap_and_resyncs():
    async def body():
        async with BinanceSim("usdm", events_per_s=200) as sim:
            async with create_connector("binance-usdm", endpoint=sim.rest_url) as conn:
                await conn.subscribe(["BTC-USDT-PERP", "ETH-USDT-PERP"], ["book"])
                await until(lambda: _applied(conn, "BTC-USDT-PERP") >= 20)
                sim.drop_depth("BTCUSDT")
                await until(lambda: conn.health()["books"]["BTC-USDT-PERP"]["snapshots"] == 2, what="a resync")
                await until(lambda: conn.order_book("BTC-USDT-PERP").valid)
                await assert_books_match(conn, sim, ["BTC-USDT-PERP", "ETH-USDT-PERP"])
                books = conn.health()["books"]
                assert books["BTC-USDT-PERP"]["gaps"] == 1
                assert books["ETH-USDT-PERP"]["gaps"] == 0 and books["ETH-USDT-PERP"]["snapshots"] == 1

    run(body)


def test_connector_reconnects_with_backoff_and_rebuilds_books_after_a_disconnect():
    async def body():
        async with BinanceSim("usdm", events_per_s=200) as sim:
            async with create_connector("binance-usdm", endpoint=sim.rest_url) as conn:
                seen: list[BookSnapshot] = []
                conn.add_callback(seen.append, ["book"])
                await conn.subscribe(["BTC-USDT-PERP"], ["book", "trades"])
                await until(lambda: _applied(conn, "BTC-USDT-PERP") >= 20)
                assert sim.disconnect() == 2  # /public (book) and /market (trades)
                await until(lambda: conn.health()["reconnects"] >= 2, what="reconnects")
                await until(lambda: conn.health()["books"]["BTC-USDT-PERP"]["snapshots"] == 2, what="a new snapshot")
                await assert_books_match(conn, sim, ["BTC-USDT-PERP"])
                assert any(not m.valid for m in seen), "the book was reported invalid while reconnecting"
                assert seen[-1].valid

    run(body)


def test_connector_replaces_a_silent_connection():
    async def body():
        async with BinanceSim("usdm", events_per_s=200) as sim:
            async with create_connector("binance-usdm", endpoint=sim.rest_url, silence_timeout_s=0.5,
                                        watchdog_interval_s=0.1) as conn:
                await conn.subscribe(["BTC-USDT-PERP"], ["book"])
                await until(lambda: _applied(conn, "BTC-USDT-PERP") >= 20)
                sim.silence(30.0)  # the connection stays open but sends nothing
                await until(lambda: sum(c["silent_replacements"] for c in conn.health()["connections"]) >= 1, what="replacement")
                # The book stays valid until the new connection opens, so wait for its own snapshot: the market
                # is paused below, and a book waiting for its first event would never sync.
                await until(lambda: conn.health()["books"]["BTC-USDT-PERP"]["snapshots"] == 2, what="a new snapshot")
                await until(lambda: conn.order_book("BTC-USDT-PERP").valid, what="a valid book again")
                conn.config.silence_timeout_s = 60.0  # the paused market below is quiet on purpose
                await assert_books_match(conn, sim, ["BTC-USDT-PERP"])

    run(body)


def test_connection_rotation_before_the_cutoff_loses_no_message():
    async def body():
        async with BinanceSim("usdm", events_per_s=300, max_connection_age_s=2.5, trade_prob=0.9) as sim:
            async with create_connector("binance-usdm", endpoint=sim.rest_url, rotate_after_s=1.0,
                                        rotation_overlap_s=0.3, watchdog_interval_s=0.1) as conn:
                trades: list[Trade] = []
                conn.add_callback(trades.append, ["trades"])
                await conn.subscribe(["BTC-USDT-PERP"], ["book", "trades"])
                await until(lambda: sum(c["rotations"] for c in conn.health()["connections"]) >= 4, timeout_s=15,
                            what="each connection to rotate twice")
                await assert_books_match(conn, sim, ["BTC-USDT-PERP"])
                h = conn.health()
                assert h["gaps"] == 0 and h["reconnects"] == 0
                assert h["books"]["BTC-USDT-PERP"]["snapshots"] == 1  # never resynced
                ids = [int(t.trade_id) for t in trades]
                assert len(ids) > 100
                assert ids == list(range(ids[0], ids[0] + len(ids))), "a trade was lost or delivered twice"

    run(body)


def test_connector_honors_429_retry_after_and_still_syncs():
    async def body():
        async with BinanceSim("usdm", events_per_s=100) as sim:
            async with create_connector("binance-usdm", endpoint=sim.rest_url) as conn:
                sim.rest_error(429, count=2, retry_after_s=0.3)
                await conn.subscribe(["BTC-USDT-PERP"], ["book"])
                await until(lambda: conn.order_book("BTC-USDT-PERP").valid, what="a synced book")
                rest = conn.health()["rest"]
                assert rest["rate_limited"] == 2 and rest["bans"] == 0
                assert sim.counters["faults"]["rest_error"] == 2
                assert sim.counters.get("bans", 0) == 0  # we never kept sending inside Retry-After

    run(body)


def test_connector_stops_rest_on_418_and_reports_it(caplog):
    async def body():
        async with BinanceSim("usdm", events_per_s=100) as sim:
            async with create_connector("binance-usdm", endpoint=sim.rest_url) as conn:
                sim.rest_error(418, count=1, retry_after_s=1.0)
                with caplog.at_level(logging.ERROR, logger="crossfury.wire.limiter"):
                    await conn.subscribe(["BTC-USDT-PERP"], ["book"])
                    await until(lambda: conn.health()["rest"]["bans"] == 1, what="the ban to be seen")
                requests_at_ban = sum(sim.counters["rest"].values())
                await asyncio.sleep(0.5)
                assert sum(sim.counters["rest"].values()) == requests_at_ban  # silent while banned
                await until(lambda: conn.order_book("BTC-USDT-PERP").valid, what="sync after the ban lifts")
        assert any("418" in r.getMessage() for r in caplog.records)

    run(body)


def test_subscribe_and_unsubscribe_at_any_time_without_reconnecting():
    async def body():
        async with BinanceSim("usdm", events_per_s=100) as sim:
            async with create_connector("binance-usdm", endpoint=sim.rest_url) as conn:
                await conn.subscribe(["BTC-USDT-PERP"], ["book"])
                await conn.subscribe(["ethusdt"], ["book"])  # native form works too
                assert len(conn.health()["connections"]) == 1
                streams = {s for c in sim.connections() for s in c["streams"]}
                assert {"btcusdt@depth@100ms", "ethusdt@depth@100ms"} <= streams
                await until(lambda: conn.order_book("ETH-USDT-PERP").valid)
                await conn.unsubscribe(["BTC-USDT-PERP"], ["book"])
                await until(lambda: {s for c in sim.connections() for s in c["streams"]} == {"ethusdt@depth@100ms"},
                            what="the simulator to drop the stream")
                with pytest.raises(ConfigError, match="no book"):
                    conn.order_book("BTC-USDT-PERP")
                assert conn.health()["reconnects"] == 0

    run(body)


def test_streams_are_sharded_over_connections_by_the_stream_limit():
    async def body():
        async with BinanceSim("usdm", events_per_s=50) as sim:
            async with create_connector("binance-usdm", endpoint=sim.rest_url, max_streams_per_connection=2) as conn:
                await conn.subscribe(["BTCUSDT", "ETHUSDT", "SOLUSDT"], ["book"])
                assert sorted(c["streams"] for c in conn.health()["connections"]) == [1, 2]
                assert sorted(len(c["streams"]) for c in sim.connections()) == [1, 2]
                await until(lambda: all(conn.order_book(s).valid for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")))

    run(body)


def test_malformed_frames_are_counted_and_the_book_recovers():
    async def body():
        async with BinanceSim("usdm", events_per_s=200) as sim:
            async with create_connector("binance-usdm", endpoint=sim.rest_url) as conn:
                await conn.subscribe(["BTC-USDT-PERP"], ["book"])
                await until(lambda: _applied(conn, "BTC-USDT-PERP") >= 20)
                sim.malformed(count=3, replace=True)  # truncated frames instead of the real ones: a gap too
                await until(lambda: conn.health()["books"]["BTC-USDT-PERP"]["malformed"] >= 1, what="malformed")
                await until(lambda: conn.health()["books"]["BTC-USDT-PERP"]["snapshots"] >= 2, what="resync")
                await assert_books_match(conn, sim, ["BTC-USDT-PERP"])

    run(body)


def test_partial_depth_follows_the_top_n_stream():
    async def body():
        async with BinanceSim("spot", events_per_s=100) as sim:
            async with create_connector("binance-spot", endpoint=sim.rest_url) as conn:
                frames: list[bytes] = []
                conn.add_raw_sink(lambda symbol, ts, payload: frames.append(payload))
                await conn.subscribe(["BTC-USDT"], ["book"], book_levels=5)
                assert not conn.order_book("BTC-USDT").valid  # nothing received yet
                await until(lambda: len(frames) >= 5, what="five partial-depth messages")
                last = json.loads(frames[-1])["data"]  # each message is the whole top 5
                view = conn.order_book("BTC-USDT", 5)
                assert view.valid and view.last_id == last["lastUpdateId"]
                assert view.bids == tuple((float(p), float(q)) for p, q in last["bids"])
                assert view.asks == tuple((float(p), float(q)) for p, q in last["asks"])
                assert conn.book("BTC-USDT").bid_count == 5

    run(body)


def test_callbacks_iterators_caches_and_other_channels():
    async def body():
        async with BinanceSim("usdm", events_per_s=200, trade_prob=0.9) as sim:
            async with create_connector("binance-usdm", endpoint=sim.rest_url) as conn:
                got: list = []
                conn.add_callback(got.append)
                conn.add_callback(lambda m: 1 / 0, ["trades"])  # a failing consumer harms nobody else
                stream = conn.messages(["kline", "mark_price"])
                await conn.subscribe(["BTC-USDT-PERP"], ["book", "trades", "bbo", "kline", "mark_price"])
                kinds = set()
                async for msg in stream:
                    kinds.add(type(msg))
                    if kinds == {Kline, MarkPrice}:
                        break
                stream.close()
                await until(lambda: len(conn.recent_trades("BTC-USDT-PERP")) >= 20)
                trades = conn.recent_trades("BTC-USDT-PERP", limit=10)
                assert len(trades) == 10 and all(t.symbol == "BTC-USDT-PERP" for t in trades)
                sim_prices = {float(t.price) for t in sim.trades("BTCUSDT")}
                assert {t.px for t in trades} <= sim_prices
                assert {type(m).__name__ for m in got} >= {"BookSnapshot", "Trade", "BestBidOffer"}
                assert conn.health()["callback_errors"] >= 1

    run(body)


def test_one_bad_symbol_does_not_stop_the_others():
    async def body():
        async with BinanceSim("usdm", events_per_s=100) as sim:
            async with create_connector("binance-usdm", endpoint=sim.rest_url) as conn:
                with pytest.raises(ConfigError, match="NOPEUSDT"):
                    await conn.subscribe(["NOPEUSDT"], ["book"])
                await conn.subscribe(["BTCUSDT"], ["book"])
                await until(lambda: conn.order_book("BTCUSDT").valid)

    run(body)


def test_connector_answers_server_pings_and_stays_connected():
    async def body():
        async with BinanceSim("spot", events_per_s=20, ping_interval_s=0.3, pong_timeout_s=0.5) as sim:
            async with create_connector("binance-spot", endpoint=sim.rest_url) as conn:
                await conn.subscribe(["BTC-USDT"], ["book"])
                await until(lambda: sim.counters.get("pongs_received", 0) >= 5, what="five answered pings")
                assert sim.counters.get("pong_timeouts", 0) == 0
                assert conn.health()["reconnects"] == 0 and conn.order_book("BTC-USDT").valid

    run(body)


def test_spot_trades_and_aggregate_trades_both_arrive():
    async def body():
        async with BinanceSim("spot", events_per_s=200, trade_prob=0.9) as sim:
            async with create_connector("binance-spot", endpoint=sim.rest_url) as conn:
                got: list[Trade] = []
                conn.add_callback(got.append, ["trades"])
                await conn.subscribe(["BTC-USDT"], ["trades"], trade_kind="trade")
                await conn.subscribe(["ETH-USDT"], ["trades"], trade_kind="aggregate")
                await until(lambda: {t.symbol for t in got} == {"BTC-USDT", "ETH-USDT"}, what="both trade kinds")
                streams = {s for c in sim.connections() for s in c["streams"]}
                assert {"btcusdt@trade", "ethusdt@aggTrade"} <= streams

    run(body)


def _native(conn, sym: str) -> int:
    return conn.health()["books"][conn.instrument(sym).symbol]["native_frames"]


def test_depth_frames_take_the_native_path_one_call_each_and_books_match():
    async def body():
        async with BinanceSim("usdm", events_per_s=300, trade_prob=0.9) as sim:
            async with create_connector("binance-usdm", endpoint=sim.rest_url) as conn:
                books: list[BookSnapshot] = []
                trades: list[Trade] = []
                conn.add_callback(books.append, ["book"])
                conn.add_callback(trades.append, ["trades"])
                symbols = ["BTC-USDT-PERP", "ETH-USDT-PERP"]
                await conn.subscribe(symbols, ["book", "trades"])
                await until(lambda: all(_applied(conn, s) >= 150 for s in symbols), what="150 applied events each")
                await assert_books_match(conn, sim, symbols)
                h = conn.health()
                depth_conn = next(c for c in h["connections"] if c["path"] == "/public/stream")
                # Every depth frame on the depth connection went the native way, both streams through one router.
                assert sum(_native(conn, s) for s in symbols) == depth_conn["messages"]
                assert all(_native(conn, s) >= 150 for s in symbols)
                for sym in symbols:  # the last message delivered is the book as the connector holds it
                    last = [m for m in books if m.symbol == sym][-1]
                    bids, asks = conn.book(sym).top_levels(5)
                    assert last.valid and last.last_id == conn.book(sym).last_id
                    assert (last.bids, last.asks) == (bids, asks)
                assert trades and h["gaps"] == 0 and h["callback_errors"] == 0  # trades took the Python path

    run(body)


def test_a_raw_sink_takes_depth_the_python_way_and_the_native_path_resumes_without_it():
    async def body():
        async with BinanceSim("usdm", events_per_s=300) as sim:
            async with create_connector("binance-usdm", endpoint=sim.rest_url) as conn:
                sym = "BTC-USDT-PERP"
                await conn.subscribe([sym], ["book"])
                await until(lambda: _native(conn, sym) >= 20, what="native frames")
                raw: list[bytes] = []

                def sink(native: str, local_ts: int, payload: bytes) -> None:
                    raw.append(payload)

                conn.add_raw_sink(sink)
                native_before, applied_before = _native(conn, sym), _applied(conn, sym)
                await until(lambda: _applied(conn, sym) >= applied_before + 50, what="50 events through the sink")
                assert _native(conn, sym) == native_before
                assert len(raw) >= 50 and all(p.startswith(b'{"stream":"btcusdt@depth') for p in raw)
                conn.remove_raw_sink(sink)
                await until(lambda: _native(conn, sym) >= native_before + 50, what="the native path again")
                await assert_books_match(conn, sim, [sym])
                assert conn.health()["gaps"] == 0

    run(body)


def test_rotation_hands_depth_back_to_the_native_path():
    async def body():
        async with BinanceSim("usdm", events_per_s=300, max_connection_age_s=2.5) as sim:
            async with create_connector("binance-usdm", endpoint=sim.rest_url, rotate_after_s=1.0,
                                        rotation_overlap_s=0.3, watchdog_interval_s=0.1) as conn:
                sym = "BTC-USDT-PERP"
                await conn.subscribe([sym], ["book"])
                await until(lambda: sum(c["rotations"] for c in conn.health()["connections"]) >= 2, timeout_s=15,
                            what="two rotations")
                native_before = _native(conn, sym)
                await until(lambda: _native(conn, sym) >= native_before + 50, what="native frames after rotating")
                await assert_books_match(conn, sim, [sym])
                h = conn.health()
                # The overlaps (about 90 frames each) went the Python way, ending in the same DepthRoute.
                assert h["books"][sym]["applied"] - h["books"][sym]["native_frames"] >= 50
                assert h["gaps"] == 0 and h["books"][sym]["snapshots"] == 1

    run(body)
