# SPDX-License-Identifier: MIT
"""BinanceSim over real sockets: stream ids, snapshot bridging, control frames, URL forms, REST, shapes."""

from __future__ import annotations

import json
from decimal import Decimal

import aiohttp
import pytest
from sim_client import MAX_MSGS, MiniBook, data_of, next_depth, recv_json, run, wait_closed

from crossfury.sim import BinanceSim

SNAPSHOT_PATH = {"spot": "/api/v3/depth", "usdm": "/fapi/v1/depth", "coinm": "/dapi/v1/depth"}


def test_spot_depth_ids_are_contiguous_over_many_events():
    async def body():
        async with BinanceSim("spot", symbols=["BTCUSDT"], events_per_s=None) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth@100ms") as ws:
            prev = await next_depth(ws)
            for _ in range(500):
                ev = await next_depth(ws)
                assert set(ev) == {"e", "E", "s", "U", "u", "b", "a"}
                assert ev["U"] == prev["u"] + 1  # binance.md 5.1
                assert ev["u"] >= ev["U"]
                prev = ev

    run(body)


@pytest.mark.parametrize("market,symbol", [("usdm", "BTCUSDT"), ("coinm", "BTCUSD_PERP")])
def test_futures_depth_chains_by_prev_id_with_gaps_in_first_id(market, symbol):
    async def body():
        async with BinanceSim(market, symbols=[symbol], events_per_s=None) as sim, aiohttp.ClientSession() as http, \
                http.ws_connect(f"{sim.ws_url}/ws/{symbol.lower()}@depth") as ws:
            prev = await next_depth(ws)
            gaps = 0
            for _ in range(500):
                ev = await next_depth(ws)
                assert ev["pu"] == prev["u"]  # binance.md 5.2
                assert ev["U"] > prev["u"] and ev["u"] >= ev["U"] and ev["T"] <= ev["E"]
                gaps += ev["U"] > ev["pu"] + 1
                prev = ev
            assert gaps > 50  # futures U/u ranges are not contiguous
            if market == "coinm":
                assert prev["ps"] == "BTCUSD"

    run(body)


async def _sync_and_compare(market: str, symbol: str, stream: str, limit: int) -> None:
    """Buffer, fetch the snapshot mid-stream, bridge by binance.md section 5, compare with the sim's truth."""
    futures = market != "spot"
    async with BinanceSim(market, symbols=[symbol], events_per_s=500, seed=3) as sim, \
            aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/stream?streams={stream}") as ws:
        buffered = [await next_depth(ws)]
        async with http.get(f"{sim.rest_url}{SNAPSHOT_PATH[market]}?symbol={symbol}&limit={limit}") as r:
            assert r.status == 200
            snap = await r.json()
        assert snap["lastUpdateId"] >= buffered[0]["u"]
        assert ("E" in snap and "T" in snap) == futures
        last_id = snap["lastUpdateId"]
        while buffered[-1]["u"] < last_id:
            buffered.append(await next_depth(ws))
        book = MiniBook(snap)
        pending = [ev for ev in buffered if (ev["u"] >= last_id if futures else ev["u"] > last_id)]
        first = pending[0] if pending else await next_depth(ws)
        if futures:
            assert first["U"] <= last_id <= first["u"]
        else:
            assert first["U"] <= last_id + 1 <= first["u"]
        book.apply(first)
        for ev in pending[1:]:
            assert ev["pu"] == book.last_id if futures else ev["U"] == book.last_id + 1
            book.apply(ev)
        for _ in range(150):
            ev = await next_depth(ws)
            assert ev["pu"] == book.last_id if futures else ev["U"] == book.last_id + 1
            book.apply(ev)
        await sim.pause()
        for _ in range(MAX_MSGS):
            if book.last_id == sim.last_update_id(symbol):
                break
            book.apply(await next_depth(ws))
        last_id, bids, asks = sim.book(symbol)
        assert book.last_id == last_id
        assert book.levels() == (bids, asks)
        assert 200 <= len(bids) <= 1000 and 200 <= len(asks) <= 1000
        assert Decimal(bids[0][0]) < Decimal(asks[0][0])


@pytest.mark.parametrize("market,symbol,stream,limit", [
    ("spot", "BTCUSDT", "btcusdt@depth@100ms", 5000),
    ("usdm", "ETHUSDT", "ethusdt@depth@0ms", 1000),
    ("coinm", "BTCUSD_PERP", "btcusd_perp@depth", 1000),
])
def test_snapshot_fetched_mid_stream_bridges_to_the_buffered_events(market, symbol, stream, limit):
    run(lambda: _sync_and_compare(market, symbol, stream, limit))


def test_subscribe_list_and_unsubscribe_get_acks_and_change_the_flow():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], events_per_s=300) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/stream") as ws:
            await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms", "btcusdt@bookTicker"],
                                "id": 7})
            assert await recv_json(ws) == {"result": None, "id": 7}
            streams = {(await recv_json(ws))["stream"] for _ in range(20)}
            assert streams == {"btcusdt@depth@100ms", "btcusdt@bookTicker"}
            await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": "list-1"})
            for _ in range(MAX_MSGS):
                obj = await recv_json(ws)
                if "id" in obj:
                    break
            assert obj == {"result": ["btcusdt@depth@100ms", "btcusdt@bookTicker"], "id": "list-1"}
            await ws.send_json({"method": "UNSUBSCRIBE", "params": ["btcusdt@bookTicker"], "id": 8})
            for _ in range(MAX_MSGS):
                obj = await recv_json(ws)
                if "id" in obj:
                    break
            assert obj == {"result": None, "id": 8}
            after = [(await recv_json(ws))["stream"] for _ in range(30)]
            assert set(after) == {"btcusdt@depth@100ms"}  # in order on one connection: none after the ack
            assert sim.connections()[0]["streams"] == ["btcusdt@depth@100ms"]

    run(body)


@pytest.mark.parametrize("frame,reply", [
    ({"method": "RESUBSCRIBE", "params": [], "id": 3}, {"code": 2, "id": 3}),
    ({"params": ["btcusdt@depth"], "id": 4}, {"code": 2, "id": 4}),
    ({"method": "SUBSCRIBE", "params": ["btcusdt@depth"], "id": 1.5}, {"code": 2, "id": None}),
    ({"method": "SUBSCRIBE", "params": ["BTCUSDT@depth"], "id": 5}, {"code": 2, "id": 5}),
    ({"method": "SUBSCRIBE", "params": [42], "id": 6}, {"code": 2, "id": 6}),
    ({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 9}, {"code": 1, "id": 9}),
    ({"method": "SET_PROPERTY", "params": ["colour", True], "id": 10}, {"code": 0, "id": 10}),
    ({"method": "GET_PROPERTY", "params": ["combined", 1], "id": 11}, {"code": 2, "id": 11}),
    ("{not json", {"code": 3, "id": None}),
])
def test_bad_control_frames_get_binance_error_replies(frame, reply):
    async def body():
        async with BinanceSim("spot", symbols=["BTCUSDT"], paused=True) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/ws") as ws:
            await ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))
            obj = await recv_json(ws)
            assert {k: obj[k] for k in ("code", "id")} == reply
            assert isinstance(obj["msg"], str) and obj["msg"]
            assert sim.connections()[0]["streams"] == []

    run(body)


def test_unknown_well_formed_stream_is_accepted_and_silent():
    async def body():
        async with BinanceSim("spot", symbols=["BTCUSDT"], events_per_s=300) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/stream") as ws:
            await ws.send_json({"method": "SUBSCRIBE", "params": ["dogeusdt@depth", "btcusdt@depth"], "id": 1})
            assert await recv_json(ws) == {"result": None, "id": 1}
            streams = {(await recv_json(ws))["stream"] for _ in range(20)}
            assert streams == {"btcusdt@depth"}

    run(body)


def test_combined_property_switches_the_envelope():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], events_per_s=300) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth") as ws:
            raw = await recv_json(ws)
            assert raw["e"] == "depthUpdate" and "stream" not in raw
            await ws.send_json({"method": "GET_PROPERTY", "params": ["combined"], "id": 1})
            await ws.send_json({"method": "SET_PROPERTY", "params": ["combined", True], "id": 2})
            replies = {}
            for _ in range(MAX_MSGS):
                obj = await recv_json(ws)
                if "id" in obj:
                    replies[obj["id"]] = obj
                if 2 in replies:
                    break
            assert replies == {1: {"result": False, "id": 1}, 2: {"result": None, "id": 2}}
            wrapped = await recv_json(ws)
            assert wrapped["stream"] == "btcusdt@depth" and wrapped["data"]["e"] == "depthUpdate"

    run(body)


@pytest.mark.parametrize("path,kind", [
    ("/public/stream?streams=btcusdt@depth@0ms", "depthUpdate"),
    ("/market/ws/btcusdt@aggTrade", "aggTrade"),
    ("/market/stream?streams=btcusdt@markPrice@1s", "markPriceUpdate"),
    ("/ws/btcusdt@depth/btcusdt@bookTicker", "depthUpdate"),
])
def test_usdm_serves_split_prefixes_and_chained_raw_paths(path, kind):
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], events_per_s=300) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}{path}") as ws:
            for _ in range(40):
                obj = await recv_json(ws)
                if data_of(obj).get("e") == kind:
                    break
            assert data_of(obj)["e"] == kind
            assert ("stream" in obj) == ("stream?" in path)

    run(body)


def test_incoming_message_limit_closes_the_connection():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], paused=True) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/ws") as ws:
            for i in range(12):  # binance.md 2: futures allow 10 incoming messages per second
                await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": i})
            msg = await wait_closed(ws)
            assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1008
            assert sim.counters["incoming_limit_closes"] == 1

    run(body)


def test_spot_stream_shapes_trade_aggtrade_bookticker_partial_depth():
    async def body():
        streams = "btcusdt@trade/btcusdt@aggTrade/btcusdt@bookTicker/btcusdt@depth5@100ms/btcusdt@kline_1m"
        async with BinanceSim("spot", symbols=["BTCUSDT"], events_per_s=300) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/stream?streams={streams}") as ws:
            seen = {}
            for _ in range(2000):
                obj = await recv_json(ws)
                seen.setdefault(obj["stream"], obj["data"])
                if len(seen) == 5:
                    break
            assert set(seen["btcusdt@trade"]) == {"e", "E", "T", "s", "t", "p", "q", "m", "M"}
            assert set(seen["btcusdt@aggTrade"]) == {"e", "E", "s", "a", "p", "q", "f", "l", "T", "m", "M"}
            assert set(seen["btcusdt@bookTicker"]) == {"u", "s", "b", "B", "a", "A"}
            partial = seen["btcusdt@depth5@100ms"]
            assert set(partial) == {"lastUpdateId", "bids", "asks"}
            assert len(partial["bids"]) == len(partial["asks"]) == 5
            assert Decimal(partial["bids"][0][0]) > Decimal(partial["bids"][1][0])
            assert Decimal(partial["bids"][0][0]) < Decimal(partial["asks"][0][0])
            kline = seen["btcusdt@kline_1m"]["k"]
            assert kline["i"] == "1m" and kline["T"] - kline["t"] == 59_999
            assert len(seen["btcusdt@trade"]["p"].partition(".")[2]) == 8  # spot prints 8 decimals
            assert sim.trades("BTCUSDT")

    run(body)


def test_futures_mark_price_partial_depth_and_book_ticker_shapes():
    async def body():
        streams = "btcusdt@markPrice@1s/btcusdt@depth10@100ms/btcusdt@bookTicker/btcusdt@depth"
        async with BinanceSim("usdm", symbols=["BTCUSDT"], events_per_s=300) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/stream?streams={streams}") as ws:
            seen = {}
            for _ in range(2000):
                obj = await recv_json(ws)
                seen.setdefault(obj["stream"], obj["data"])
                if len(seen) == 4:
                    break
            mark = seen["btcusdt@markPrice@1s"]
            assert mark["e"] == "markPriceUpdate" and mark["T"] % (8 * 3_600_000) == 0 and mark["T"] > mark["E"]
            assert {"p", "i", "P", "r"} <= set(mark)
            partial = seen["btcusdt@depth10@100ms"]
            assert partial["e"] == "depthUpdate" and len(partial["b"]) == len(partial["a"]) == 10
            assert {"U", "u", "pu", "T", "E", "s"} <= set(partial)
            ticker = seen["btcusdt@bookTicker"]
            assert ticker["e"] == "bookTicker" and {"u", "E", "T"} <= set(ticker)
            assert sim.symbols == ["BTCUSDT"]

    run(body)


def test_rest_depth_validates_symbol_and_limit_and_carries_weight():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], paused=True) as sim, aiohttp.ClientSession() as http:
            base = f"{sim.rest_url}/fapi/v1"
            weights = []
            for query, status, code in [("symbol=BTCUSDT&limit=1000", 200, None), ("symbol=BTCUSDT&limit=5", 200, None),
                                        ("symbol=BTCUSDT&limit=7", 400, -1100), ("symbol=NOPE", 400, -1121),
                                        ("limit=5", 400, -1102)]:
                async with http.get(f"{base}/depth?{query}") as r:
                    assert r.status == status, query
                    body = await r.json()
                    weights.append(int(r.headers["X-MBX-USED-WEIGHT-1M"]))
                    if code is not None:
                        assert body["code"] == code and body["msg"]
                    elif "limit=5" in query:
                        assert len(body["bids"]) == len(body["asks"]) == 5
            assert weights[:2] == [20, 22]  # binance.md 4: limit 1000 weighs 20, limit 5 weighs 2
            assert weights[2] > weights[1]
            async with http.get(f"{base}/time") as r:
                assert "serverTime" in await r.json()
            async with http.get(f"{base}/ping") as r:
                assert await r.json() == {}
            assert sim.counters["rest"]["/fapi/v1/depth"] == 5

    run(body)


def test_spot_depth_limit_above_5000_is_capped_and_weighs_250():
    async def body():
        async with BinanceSim("spot", symbols=["BTCUSDT"], paused=True) as sim, aiohttp.ClientSession() as http:
            async with http.get(f"{sim.rest_url}/api/v3/depth?symbol=BTCUSDT&limit=9000") as r:
                assert r.status == 200 and r.headers["X-MBX-USED-WEIGHT-1M"] == "250"
                snap = await r.json()
            last_id, bids, asks = sim.book("BTCUSDT")
            assert snap == {"lastUpdateId": last_id, "bids": [list(x) for x in bids], "asks": [list(x) for x in asks]}

    run(body)


@pytest.mark.parametrize("market,path,symbol,tick,step", [
    ("usdm", "/fapi/v1/exchangeInfo", "BTCUSDT", "0.10", "0.001"),
    ("spot", "/api/v3/exchangeInfo", "BTCUSDT", "0.01000000", "0.00001000"),
    ("coinm", "/dapi/v1/exchangeInfo", "BTCUSD_PERP", "0.1", "1"),
])
def test_exchange_info_lists_symbols_filters_and_rate_limits(market, path, symbol, tick, step):
    async def body():
        async with BinanceSim(market, paused=True) as sim, aiohttp.ClientSession() as http:
            async with http.get(f"{sim.rest_url}{path}") as r:
                info = await r.json()
                assert "X-MBX-USED-WEIGHT-1M" in r.headers
            entry = next(s for s in info["symbols"] if s["symbol"] == symbol)
            assert entry["status"] == "TRADING"
            filters = {f["filterType"]: f for f in entry["filters"]}
            assert filters["PRICE_FILTER"]["tickSize"] == tick
            assert filters["LOT_SIZE"]["stepSize"] == step and filters["LOT_SIZE"]["minQty"] == step
            assert info["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
            if market != "spot":
                assert entry["contractType"] == "PERPETUAL" and entry["pair"] and entry["marginAsset"]
            if market == "coinm":
                assert entry["contractSize"] == 100 and entry["marginAsset"] == "BTC"
            assert len(info["symbols"]) == len(sim.symbols)

    run(body)


def test_pause_stops_generation_and_resume_restarts_it():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], events_per_s=300) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth") as ws:
            await next_depth(ws)
            await sim.pause()
            frozen = sim.last_update_id("BTCUSDT")
            async with http.get(f"{sim.rest_url}/fapi/v1/depth?symbol=BTCUSDT&limit=5") as r:
                assert (await r.json())["lastUpdateId"] == frozen
            sim.resume()
            for _ in range(MAX_MSGS):
                if (await next_depth(ws))["u"] > frozen:
                    break
            assert sim.last_update_id("BTCUSDT") > frozen

    run(body)


def test_synthetic_market_is_deterministic_for_a_seed():
    async def first_events(seed):
        async with BinanceSim("spot", symbols=["ETHUSDT"], seed=seed, events_per_s=1000, paused=True) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/ws/ethusdt@depth") as ws:
            sim.resume()
            return [(ev["U"], ev["u"], ev["b"], ev["a"]) for ev in [await next_depth(ws) for _ in range(30)]]

    async def body():
        a, b, c = await first_events(5), await first_events(5), await first_events(6)
        assert a == b and a != c

    run(body)


def test_add_rest_route_gets_weight_header_limits_and_faults():
    async def echo(request):
        return aiohttp.web.json_response({"symbol": request.query.get("symbol")})

    async def body():
        sim = BinanceSim("usdm", symbols=["BTCUSDT"], paused=True, weight_limit=20)
        sim.add_rest_route("POST", "/fapi/v1/order", echo, weight=lambda request: 7)
        async with sim, aiohttp.ClientSession() as http:
            async with http.post(f"{sim.rest_url}/fapi/v1/order?symbol=BTCUSDT") as r:
                assert r.status == 200 and r.headers["X-MBX-USED-WEIGHT-1M"] == "7"
                assert await r.json() == {"symbol": "BTCUSDT"}
            sim.rest_error(503)
            async with http.post(f"{sim.rest_url}/fapi/v1/order") as r:
                assert r.status == 503
            statuses = []
            for _ in range(3):
                async with http.post(f"{sim.rest_url}/fapi/v1/order") as r:
                    statuses.append(r.status)
            assert statuses == [200, 429, 418]

    run(body)


def test_pause_and_resume_routes_and_pause_before_any_event():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], paused=True, events_per_s=500) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth") as ws:
            start_id = sim.last_update_id("BTCUSDT")
            await sim.pause()  # already paused: completes at once
            async with http.post(f"{sim.rest_url}/_sim/resume") as r:
                assert (await r.json()) == {"paused": False}
            ev = await next_depth(ws)
            assert ev["pu"] == start_id  # the first event continues from the initial book
            async with http.post(f"{sim.rest_url}/_sim/pause") as r:
                assert (await r.json()) == {"paused": True}
            assert sim.paused
            frozen = sim.last_update_id("BTCUSDT")
            async with http.get(f"{sim.rest_url}/_sim/state") as r:
                state = await r.json()
            assert state["last_update_id"] == {"BTCUSDT": frozen} and state["paused"] is True
            assert state["connections"][0]["streams"] == ["btcusdt@depth"]

    run(body)


def test_cli_options_build_the_sim():
    import argparse

    from crossfury.sim import add_arguments, build_sim

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--exchange", "binance-coinm", "--symbols", "BTCUSD_PERP,ETHUSD_PERP",
                              "--events-per-s", "flood", "--seed", "4", "--fault", "drop_depth@5",
                              "--fault", "disconnect@10:graceful=true", "--ping-interval-s", "0.5"])
    sim = build_sim(args)
    assert sim.kind == "coinm" and sim.symbols == ["BTCUSD_PERP", "ETHUSD_PERP"]
    assert sim.events_per_s is None and sim.ping_interval_s == 0.5
    assert [(f.name, f.at_s, f.kwargs) for f in sim.scheduled] == [
        ("drop_depth", 5.0, {}), ("disconnect", 10.0, {"graceful": True})]


def test_cli_main_serves_until_terminated():
    import signal
    import subprocess
    import sys

    with subprocess.Popen([sys.executable, "-m", "crossfury.sim.cli", "--exchange", "binance-spot",
                           "--symbols", "ETHUSDT"], stdout=subprocess.PIPE, text=True) as proc:
        try:
            first = proc.stdout.readline()
            assert first.startswith("crossfury sim: binance-spot on 127.0.0.1:"), first
            port = int(first.split("127.0.0.1:")[1].split()[0])

            async def body():
                url = f"http://127.0.0.1:{port}/api/v3/depth?symbol=ETHUSDT&limit=5"
                async with aiohttp.ClientSession() as http, http.get(url) as r:
                    assert r.status == 200 and len((await r.json())["bids"]) == 5

            run(body)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            proc.kill()
