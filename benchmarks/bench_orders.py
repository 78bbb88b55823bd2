# SPDX-License-Identifier: MIT
"""Order round trip over loopback against crossfury.sim: crossfury's connector vs ccxt's async binanceusdm.

Run: ``python benchmarks/bench_orders.py [N]``. Prints submit->ack and submit->fill-event p50/p99 (µs) and
orders/s with the limiter disabled, each peer against its own fresh simulator in its own subprocess.
Market orders of 0.001 BTC on BTCUSDT; each run checks that every order ended FILLED.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time

KEY, SECRET = "bench-key", "bench-secret"


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def _crossfury(n: int) -> dict:
    from crossfury.connectors import create_connector
    from crossfury.events import Channel, Fill
    from crossfury.sim import BinanceSim

    async with BinanceSim("usdm", events_per_s=20, api_key=KEY, api_secret=SECRET) as sim:
        sim.trading.order_limits = {"10S": (10.0, 10**9), "1M": (60.0, 10**9)}
        conn = create_connector("binance-usdm", endpoint=sim.rest_url, api_key=KEY, api_secret=SECRET,
                                rate_limit_orders=False)
        fill_at: dict[str, int] = {}
        conn.add_callback(lambda m: fill_at.setdefault(m.client_order_id, time.perf_counter_ns())
                          if isinstance(m, Fill) else None, [Channel.FILLS])
        await conn.connect()
        await asyncio.sleep(0.3)
        acks, fills, sent = [], [], {}
        for i in range(n):
            cid = f"b{i}"
            t0 = sent[cid] = time.perf_counter_ns()
            upd = await conn.place_order("BTC-USDT-PERP", "buy" if i % 2 else "sell", 0.001, order_type="market",
                                         client_order_id=cid)
            acks.append((time.perf_counter_ns() - t0) / 1e3)
            assert upd.status.value == "filled"
        deadline = time.monotonic() + 10
        while len(fill_at) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        fills = [(fill_at[c] - t) / 1e3 for c, t in sent.items() if c in fill_at]
        t0 = time.perf_counter()
        await asyncio.gather(*(conn.place_order("BTC-USDT-PERP", "buy" if i % 2 else "sell", 0.001,
                                                order_type="market") for i in range(n)))
        rate = n / (time.perf_counter() - t0)
        await conn.close()
    return {"ack": acks, "fill": fills, "rate": rate}


async def _ccxt(n: int) -> dict:
    import ccxt.async_support as ccxt

    from crossfury.sim import BinanceSim

    async with BinanceSim("usdm", events_per_s=20, api_key=KEY, api_secret=SECRET) as sim:
        sim.trading.order_limits = {"10S": (10.0, 10**9), "1M": (60.0, 10**9)}
        ex = ccxt.binanceusdm({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False,
                               "options": {"fetchMarkets": {"types": ["linear"]}, "fetchCurrencies": False}})
        for name, url in list(ex.urls["api"].items()):
            if isinstance(url, str) and url.startswith("https://fapi.binance.com"):
                ex.urls["api"][name] = url.replace("https://fapi.binance.com", sim.rest_url)
        await ex.load_markets()
        acks = []
        for i in range(n):
            t0 = time.perf_counter_ns()
            o = await ex.create_order("BTC/USDT:USDT", "market", "buy" if i % 2 else "sell", 0.001)
            acks.append((time.perf_counter_ns() - t0) / 1e3)
            assert o["status"] == "closed"
        t0 = time.perf_counter()
        await asyncio.gather(*(ex.create_order("BTC/USDT:USDT", "market", "buy" if i % 2 else "sell", 0.001)
                               for i in range(n)))
        rate = n / (time.perf_counter() - t0)
        await ex.close()
    return {"ack": acks, "fill": [], "rate": rate}


def _child(peer: str, n: int) -> None:
    result = asyncio.run(_crossfury(n) if peer == "crossfury" else _ccxt(n))
    print(json.dumps(result))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    rows = {}
    for peer in ("crossfury", "ccxt"):
        out = subprocess.run([sys.executable, __file__, "--child", peer, str(n)], capture_output=True, text=True,
                             check=True)
        rows[peer] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{'peer':10} {'ack p50':>9} {'ack p99':>9} {'fill p50':>9} {'fill p99':>9} {'orders/s':>9}   (µs)")
    for peer, r in rows.items():
        f = r["fill"]
        print(f"{peer:10} {statistics.median(r['ack']):9.0f} {_pct(r['ack'], 0.99):9.0f} "
              f"{(statistics.median(f) if f else float('nan')):9.0f} {(_pct(f, 0.99) if f else float('nan')):9.0f} "
              f"{r['rate']:9.0f}")
    ratio = statistics.median(rows["ccxt"]["ack"]) / statistics.median(rows["crossfury"]["ack"])
    print(f"ccxt / crossfury p50 submit->ack: {ratio:.1f}x (includes the simulator's own time on both sides)")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
