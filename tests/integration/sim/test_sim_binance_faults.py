# SPDX-License-Identifier: MIT
"""Each BinanceSim fault does what it says, seen from a plain aiohttp client."""

from __future__ import annotations

import asyncio
import itertools
import json

import aiohttp
import pytest
from sim_client import MAX_MSGS, next_depth, recv, run, wait_closed

from crossfury.sim import BinanceSim

DEPTH = "/fapi/v1/depth?symbol=BTCUSDT&limit=5"


async def _first_break(ws: aiohttp.ClientWebSocketResponse, prev: dict, max_events: int = 2000) -> tuple[dict, dict]:
    """Read depth events until the pu chain breaks; return (last event before, first event after)."""
    for _ in range(max_events):
        ev = await next_depth(ws)
        if ev["pu"] != prev["u"]:
            return prev, ev
        prev = ev
    raise AssertionError("pu chain never broke")


@pytest.mark.parametrize("symbol", ["BTCUSDT", None])
def test_drop_depth_leaves_a_gap_in_the_prev_id_chain(symbol):
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], events_per_s=500) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth") as ws:
            prev = await next_depth(ws)
            sim.drop_depth(symbol, count=3)
            before, after = await _first_break(ws, prev)
            assert after["pu"] > before["u"]  # the book moved on past the missing events
            assert sim.counters["faults"]["drop_depth"] == 3
            assert sim.counters["depth_events_dropped"] == 3
            nxt = await next_depth(ws)
            assert nxt["pu"] == after["u"]  # one gap, then the chain goes on

    run(body)


def test_drop_depth_on_spot_breaks_the_range_chain():
    async def body():
        async with BinanceSim("spot", symbols=["BTCUSDT"], events_per_s=500) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth") as ws:
            prev = await next_depth(ws)
            sim.drop_depth("BTCUSDT")
            for _ in range(MAX_MSGS):
                ev = await next_depth(ws)
                if ev["U"] != prev["u"] + 1:
                    break
                prev = ev
            assert ev["U"] > prev["u"] + 1

    run(body)


@pytest.mark.parametrize("graceful", [False, True])
def test_disconnect_closes_every_connection(graceful):
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], events_per_s=200) as sim, aiohttp.ClientSession() as http:
            a = await http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth")
            b = await http.ws_connect(f"{sim.ws_url}/stream?streams=btcusdt@bookTicker")
            await next_depth(a)
            assert sorted(c["id"] for c in sim.connections()) == [1, 2]
            assert sim.disconnect(graceful=graceful) == 2
            for ws in (a, b):
                msg = await wait_closed(ws)
                if graceful:
                    assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1001
            assert sim.counters["faults"]["disconnect"] == 2
            for _ in range(100):
                if not sim.connections():
                    break
                await asyncio.sleep(0.01)
            assert sim.connections() == []

    run(body)


def test_disconnect_one_connection_by_id_keeps_the_other():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], events_per_s=200) as sim, aiohttp.ClientSession() as http:
            a = await http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth")
            b = await http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth")
            await next_depth(a)
            first = min(c["id"] for c in sim.connections())
            sim.disconnect(conn_id=first)
            await wait_closed(a)
            for _ in range(5):
                await next_depth(b)
            assert [c["id"] for c in sim.connections()] == [first + 1]
            await b.close()

    run(body)


def test_silence_stops_data_frames_but_keeps_the_connection():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], events_per_s=500) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth") as ws:
            prev = await next_depth(ws)
            assert sim.silence(0.3) == 1
            _, after = await _first_break(ws, prev)
            assert sim.counters["silenced_frames"] > 0
            assert sim.counters["faults"]["silence"] == 1
            assert not ws.closed and len(sim.connections()) == 1
            nxt = await next_depth(ws)
            assert nxt["pu"] == after["u"]

    run(body)


def test_delay_keeps_order_and_delivers_everything():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], events_per_s=500) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth") as ws:
            prev = await next_depth(ws)
            assert sim.delay(0.05, 0.3) == 1
            for _ in range(300):  # spans the delay window and the catch-up after it
                ev = await next_depth(ws)
                assert ev["pu"] == prev["u"]
                prev = ev
            assert sim.counters["faults"]["delay"] == 1
            assert sim.counters["depth_events_dropped"] == 0

    run(body)


@pytest.mark.parametrize("replace", [False, True])
def test_malformed_sends_truncated_json(replace):
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], events_per_s=500) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth") as ws:
            prev = await next_depth(ws)
            sim.malformed(count=1, replace=replace)
            bad, events = [], []
            for _ in range(200):
                msg = await recv(ws)
                try:
                    events.append(json.loads(msg.data))
                except ValueError:
                    bad.append(msg.data)
                if bad and len(events) >= 3:
                    break
            assert len(bad) == 1 and bad[0].startswith('{"e":"depthUpdate"')
            chain = [prev] + events
            broken = sum(b["pu"] != a["u"] for a, b in itertools.pairwise(chain))
            assert broken == (1 if replace else 0)  # in place of the message, or in addition to it
            assert sim.counters["faults"]["malformed"] == 1

    run(body)


def test_malformed_on_one_connection_only():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], events_per_s=500) as sim, aiohttp.ClientSession() as http:
            a = await http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth")
            b = await http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth")
            await next_depth(a)
            await next_depth(b)
            ids = sorted(c["id"] for c in sim.connections())
            sim.malformed(count=2, conn_id=ids[1])
            bad_b = 0
            for _ in range(30):
                msg = await recv(b)
                try:
                    json.loads(msg.data)
                except ValueError:
                    bad_b += 1
            for _ in range(30):
                json.loads((await recv(a)).data)
            assert bad_b == 2
            await a.close()
            await b.close()

    run(body)


@pytest.mark.parametrize("status,code", [(429, -1003), (418, -1003), (503, -1000)])
def test_rest_error_answers_the_next_requests_with_status_and_retry_after(status, code):
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], paused=True) as sim, aiohttp.ClientSession() as http:
            sim.rest_error(status=status, count=2, retry_after_s=3)
            for _ in range(2):
                async with http.get(f"{sim.rest_url}{DEPTH}") as r:
                    assert r.status == status
                    assert r.headers["Retry-After"] == "3"
                    assert "X-MBX-USED-WEIGHT-1M" in r.headers
                    assert (await r.json())["code"] == code
            async with http.get(f"{sim.rest_url}{DEPTH}") as r:
                assert r.status == 200
            assert sim.counters["faults"]["rest_error"] == 2

    run(body)


def test_weight_limit_gives_429_then_418_ban_with_retry_after():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], paused=True, weight_limit=30, ban_s=60) as sim, \
                aiohttp.ClientSession() as http:
            url = f"{sim.rest_url}/fapi/v1/depth?symbol=BTCUSDT&limit=1000"  # weight 20
            async with http.get(url) as r:
                assert r.status == 200 and r.headers["X-MBX-USED-WEIGHT-1M"] == "20"
            async with http.get(url) as r:
                assert r.status == 429
                assert int(r.headers["Retry-After"]) >= 1
                assert (await r.json())["code"] == -1003
            async with http.get(f"{sim.rest_url}/fapi/v1/ping") as r:  # still inside Retry-After
                assert r.status == 418
                assert int(r.headers["Retry-After"]) == 60
            async with http.get(f"{sim.rest_url}/fapi/v1/time") as r:
                assert r.status == 418
            assert sim.counters["rest_429"] == 1 and sim.counters["rest_bans"] == 1

    run(body)


@pytest.mark.parametrize("market,path,stream", [
    ("usdm", "/fapi/v1/depth?symbol=BTCUSDT&limit=1000", "btcusdt@depth"),
    ("spot", "/api/v3/depth?symbol=BTCUSDT&limit=5000", "btcusdt@depth@100ms"),
])
def test_stale_snapshot_is_older_than_the_first_buffered_event(market, path, stream):
    async def body():
        async with BinanceSim(market, symbols=["BTCUSDT"], events_per_s=500) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/ws/{stream}") as ws:
            first = await next_depth(ws)
            sim.stale_snapshot()
            async with http.get(f"{sim.rest_url}{path}") as r:
                stale = await r.json()
            async with http.get(f"{sim.rest_url}{path}") as r:
                fresh = await r.json()
            assert stale["lastUpdateId"] < first["U"]  # binance.md 5.1 step 3: too old, fetch again
            assert fresh["lastUpdateId"] >= first["u"]
            assert sim.counters["faults"]["stale_snapshot"] == 1

    run(body)


def test_server_pings_and_drops_a_client_that_does_not_pong():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], paused=True, ping_interval_s=0.05,
                              pong_timeout_s=0.2) as sim, aiohttp.ClientSession() as http:
            ws = await http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth", autoping=False)
            msg = await recv(ws)
            assert msg.type is aiohttp.WSMsgType.PING and msg.data
            await wait_closed(ws)
            assert sim.counters["pong_timeouts"] == 1

    run(body)


def test_server_pings_keep_a_ponging_client_alive():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], events_per_s=100, ping_interval_s=0.05,
                              pong_timeout_s=0.2) as sim, aiohttp.ClientSession() as http, \
                http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth") as ws:
            for _ in range(MAX_MSGS):
                await next_depth(ws)
                if sim.counters.get("pongs_received", 0) >= 8:
                    break
            assert sim.counters["pings_sent"] >= 8
            assert sim.counters.get("pong_timeouts", 0) == 0
            assert not ws.closed

    run(body)


def test_connection_age_cut_off_closes_from_the_server_side():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], events_per_s=100, max_connection_age_s=0.2) as sim, \
                aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth") as ws:
            await next_depth(ws)
            msg = await wait_closed(ws)
            assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1000
            assert sim.counters["age_closes"] == 1

    run(body)


def test_fault_route_drives_a_sim_over_http():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], paused=True) as sim, aiohttp.ClientSession() as http:
            async with http.post(f"{sim.rest_url}/_sim/fault", json={"fault": "rest_error", "status": 503}) as r:
                assert r.status == 200 and (await r.json())["fault"] == "rest_error"
            async with http.get(f"{sim.rest_url}{DEPTH}") as r:
                assert r.status == 503
            async with http.post(f"{sim.rest_url}/_sim/fault", json={"fault": "explode"}) as r:
                assert r.status == 400 and "unknown fault" in (await r.json())["error"]
            async with http.get(f"{sim.rest_url}/_sim/state") as r:
                state = await r.json()
            assert state["market"] == "usdm" and state["counters"]["faults"] == {"rest_error": 1}

    run(body)


def test_scheduled_faults_fire_after_their_delay():
    async def body():
        async with BinanceSim("usdm", symbols=["BTCUSDT"], paused=True,
                              faults=["rest_error@0:status=418,retry_after_s=5", "stale_snapshot@0.05"]) as sim, \
                aiohttp.ClientSession() as http:
            status = retry_after = None
            for _ in range(100):
                async with http.get(f"{sim.rest_url}/fapi/v1/ping") as r:
                    status, retry_after = r.status, r.headers.get("Retry-After")
                if status == 418:
                    break
                await asyncio.sleep(0.01)
            assert (status, retry_after) == (418, "5")
            assert sim.counters["faults"].get("rest_error") == 1

    run(body)
