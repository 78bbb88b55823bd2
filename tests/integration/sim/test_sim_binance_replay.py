# SPDX-License-Identifier: MIT
"""BinanceSim replaying real recordings (../shared/data): what it sends and the snapshots it serves."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from sim_client import MiniBook, next_depth, recv_json, run

from crossfury.sim import BinanceSim

USDM_2024 = "hftbacktest/usdm/btcusdt_20240718.gz"


def _recording(path: Path) -> tuple[dict[str, list[dict]], dict]:
    """Read a recording independently: stream messages by stream name, and the first REST snapshot."""
    streams: dict[str, list[dict]] = {}
    snapshot = None
    with gzip.open(path, "rb") as f:
        for line in f:
            obj = json.loads(line.partition(b" ")[2])
            if "stream" in obj:
                streams.setdefault(obj["stream"], []).append(obj["data"])
            elif snapshot is None and "lastUpdateId" in obj:
                snapshot = obj
    return streams, snapshot


def _reference_book(path: Path) -> MiniBook:
    """Snapshot plus every recorded depth event that ends after it, the way binance.md section 5 builds it."""
    streams, snapshot = _recording(path)
    book = MiniBook(snapshot)
    depth = next(v for k, v in streams.items() if "@depth" in k)
    for ev in depth:
        if ev["u"] > snapshot["lastUpdateId"]:
            book.apply(ev)
    return book


def test_replay_sends_every_recorded_message_under_the_subscribed_names(shared_data):
    path = shared_data / USDM_2024
    recorded, _ = _recording(path)

    async def body():
        streams = "btcusdt@depth/btcusdt@bookTicker/btcusdt@aggTrade"
        async with BinanceSim("usdm", replay=[path], speed=0, paused=True) as sim, aiohttp.ClientSession() as http, \
                http.ws_connect(f"{sim.ws_url}/stream?streams={streams}", max_msg_size=0) as ws:
            sim.resume()
            total = sum(len(v) for v in recorded.values())
            got: dict[str, list[dict]] = {}
            for _ in range(total):
                obj = await recv_json(ws)
                got.setdefault(obj["stream"], []).append(obj["data"])
            await sim.wait_replay_done(10)
            return got

    got = run(body, timeout_s=30)
    assert got["btcusdt@depth"] == recorded["btcusdt@depth@0ms"]  # every diff-depth name maps to the recording
    assert got["btcusdt@bookTicker"] == recorded["btcusdt@bookTicker"]
    trades = recorded["btcusdt@trade"]
    assert [(a["a"], a["f"], a["l"], a["p"], a["q"], a["m"]) for a in got["btcusdt@aggTrade"]] == \
        [(t["t"], t["t"], t["t"], t["p"], t["q"], t["m"]) for t in trades]


def test_replay_snapshot_mid_stream_bridges_and_ends_on_the_recorded_book(shared_data):
    path = shared_data / USDM_2024
    reference = _reference_book(path)

    async def body():
        async with BinanceSim("usdm", replay=[path], speed=0, paused=True) as sim, aiohttp.ClientSession() as http, \
                http.ws_connect(f"{sim.ws_url}/public/stream?streams=btcusdt@depth@0ms", max_msg_size=0) as ws:
            sim.resume()
            buffered = [await next_depth(ws) for _ in range(400)]
            await sim.pause()
            async with http.get(f"{sim.rest_url}/fapi/v1/depth?symbol=BTCUSDT&limit=1000") as r:
                snap = await r.json()
            sim.resume()
            last_id = snap["lastUpdateId"]
            assert last_id == sim.last_update_id("BTCUSDT")
            while buffered[-1]["u"] < last_id:
                buffered.append(await next_depth(ws))
            book = MiniBook(snap)
            first = next(ev for ev in buffered if ev["u"] >= last_id)
            assert first["U"] <= last_id <= first["u"]  # binance.md 5.2 step 4
            book.apply(first)
            final_u = reference.last_id
            while book.last_id != final_u:
                ev = await next_depth(ws)
                assert ev["pu"] == book.last_id
                book.apply(ev)
            await sim.wait_replay_done(10)
            async with http.get(f"{sim.rest_url}/fapi/v1/depth?symbol=BTCUSDT&limit=1000") as r:
                final_snap = await r.json()
            return book, final_snap, sim.book("BTCUSDT")

    book, final_snap, (sim_id, sim_bids, sim_asks) = run(body, timeout_s=30)
    ref_bids, ref_asks = reference.levels()
    assert (sim_id, sim_bids, sim_asks) == (reference.last_id, ref_bids, ref_asks)  # the whole book
    assert book.levels(200) == reference.levels(200)  # the client only knows the snapshot's 1000 levels
    assert final_snap["lastUpdateId"] == reference.last_id
    assert final_snap["bids"] == [list(x) for x in ref_bids[:1000]]
    assert final_snap["asks"] == [list(x) for x in ref_asks[:1000]]


@pytest.mark.parametrize("market,files,symbol", [
    ("spot", ["hftbacktest/spot/btcusdt_20240808.gz"], "BTCUSDT"),
    ("coinm", ["hftbacktest/cm/btcusd_perp_20240808.gz"], "BTCUSD_PERP"),
    ("usdm", ["hftbacktest/usdm/btcusdt_20230404.dat.gz"], "BTCUSDT"),
])
def test_replay_book_matches_an_independent_rebuild(shared_data, market, files, symbol):
    paths = [shared_data / f for f in files]

    async def body():
        async with BinanceSim(market, replay=paths, speed=0) as sim:
            await sim.wait_replay_done(20)
            return sim.book(symbol)

    last_id, bids, asks = run(body, timeout_s=30)
    reference = _reference_book(paths[0])
    assert (last_id, (bids, asks)) == (reference.last_id, reference.levels())
    assert Decimal(bids[0][0]) < Decimal(asks[0][0])


def test_replay_infers_exchange_info_from_the_recorded_decimals(shared_data):
    async def body():
        async with BinanceSim("usdm", replay=[shared_data / USDM_2024], paused=True) as sim, \
                aiohttp.ClientSession() as http:
            async with http.get(f"{sim.rest_url}/fapi/v1/exchangeInfo") as r:
                info = await r.json()
            async with http.get(f"{sim.rest_url}/fapi/v1/depth?symbol=BTCUSDT&limit=5") as r:
                before_snapshot = await r.json()
            return info, before_snapshot

    info, before = run(body)
    (entry,) = info["symbols"]
    filters = {f["filterType"]: f for f in entry["filters"]}
    assert (entry["symbol"], filters["PRICE_FILTER"]["tickSize"], filters["LOT_SIZE"]["stepSize"]) == \
        ("BTCUSDT", "0.10", "0.001")
    assert before["lastUpdateId"] == 0 and before["bids"] == []  # no recorded snapshot reached yet


def test_replay_of_a_spot_recording_into_a_futures_sim_is_refused(shared_data):
    from crossfury.core.errors import ConfigError

    with pytest.raises(ConfigError, match="spot"):
        BinanceSim("usdm", replay=[shared_data / "hftbacktest/spot/btcusdt_20240808.gz"])
