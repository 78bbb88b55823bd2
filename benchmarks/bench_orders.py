# SPDX-License-Identifier: MIT
"""Order round trip over loopback: crossfury's connector vs ccxt's async binanceusdm, with a raw-client floor.

Run ``python benchmarks/bench_orders.py [--orders 300] [--rounds 2] [--json]`` (needs ccxt: ``pip install -e
".[test]"``). Wrap it in ``flock /tmp/crossfury-bench.lock`` on a shared machine. About 30 s.

What it measures. One simulator (``crossfury.sim.BinanceSim``, USD-M, order-count limits off) runs in its own
process pinned to CPU 0. Each client runs alone in its own process pinned to CPU 1, one after the other against
that same simulator, ``--rounds`` times in turn (floor, crossfury, ccxt, floor, ...), and places market orders
of 0.001 BTCUSDT, alternately buy and sell, after 30 unmeasured warm-up orders:

- submit -> ack: from just before the client's place-order call to its return with the parsed reply, one
  order at a time; p50 and p99 in µs;
- submit -> fill event: from the same start to the moment the client's user stream delivers the order's
  fill (crossfury: the ``Fill`` callback; the floor: the raw ``ORDER_TRADE_UPDATE`` frame). ccxt's async
  client has no user stream, so it has none;

- orders/s: the same number of orders submitted at once (``asyncio.gather``) with every client-side limiter
  off, divided by the time until the last reply.

The floor is the least a client can do: requests signed before the clock starts, written as raw HTTP/1.1 on
kept-alive sockets, the reply read by its Content-Length and checked with a byte search. Its p50 is the
simulator's own time plus loopback; "overhead" is a client's p50 minus the floor's p50 in the same run, the
client's own share, and the goal ratio is ccxt's overhead over crossfury's. Every order of every client must
end FILLED (checked; a failure exits 1). Timings are never asserted.

Apples to apples. ccxt's (non-pro) client reads no user stream, so crossfury runs twice: as deployed
("crossfury": the user data stream on, each order's NEW and TRADE events read and its fill delivered) and
REST only ("crossfury-rest": the same connector with ``user_stream=False``, a config option users have).
"crossfury-hold" is as deployed with ``user_event_hold_s=0.002``: user events that arrive while a reply is
pending wait for it (up to 2 ms), which shortens submit -> ack and delays the fill event.
The floor runs twice likewise ("floor" reads the stream, "floor-rest" opens none), because a listening
stream also costs the simulator time before it replies: a client's overhead is taken against the floor
with the same stream setting (ccxt and crossfury-rest against floor-rest, crossfury against floor).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

KEY, SECRET = "bench-key", "bench-secret"
SYMBOL, NATIVE, QTY = "BTC-USDT-PERP", "BTCUSDT", 0.001
WARMUP = 30
PEERS = ("floor", "floor-rest", "crossfury", "crossfury-hold", "crossfury-rest", "ccxt")
FLOOR_OF = {"floor": "floor", "crossfury": "floor", "crossfury-hold": "floor", "floor-rest": "floor-rest",
            "crossfury-rest": "floor-rest",
            "ccxt": "floor-rest"}  # each client against the floor with the same user-stream setting


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(0, {cpu})


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


# -- the simulator process ----------------------------------------------------------------------------------

async def _serve_sim() -> None:
    from crossfury.sim import BinanceSim

    sim = BinanceSim("usdm", symbols=[NATIVE], events_per_s=20, api_key=KEY, api_secret=SECRET,
                     weight_limit=10**9)
    sim.trading.order_limits = {"10S": (10.0, 10**9), "1M": (60.0, 10**9)}  # measure clients, not limits
    await sim.start()
    print(sim.rest_url, flush=True)
    await asyncio.Event().wait()


# -- clients ------------------------------------------------------------------------------------------------

async def _floor(url: str, n: int, user_stream: bool = True) -> dict[str, Any]:
    import aiohttp

    from crossfury.exchanges.binance.signing import RequestSigner

    host, port = url.removeprefix("http://").split(":")
    signer = RequestSigner(SECRET)
    stamp = time.time_ns() // 1_000_000

    def request(cid: str, side: str) -> bytes:
        query = signer.signed_query(f"symbol={NATIVE}&side={side}&type=MARKET&quantity={QTY}"
                                    f"&newClientOrderId={cid}&recvWindow=60000&timestamp={stamp}")
        return (f"POST /fapi/v1/order?{query} HTTP/1.1\r\nHost: {host}:{port}\r\nX-MBX-APIKEY: {KEY}\r\n"
                f"Content-Length: 0\r\n\r\n").encode()

    async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> bytes:
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        i = head.lower().index(b"content-length:") + 15
        body = await reader.readexactly(int(head[i:head.index(b"\r\n", i)]))
        if b'"status":"FILLED"' not in body:
            raise AssertionError(f"floor order not filled: {body[:200]!r}")
        return body

    fill_at: dict[bytes, int] = {}
    async with aiohttp.ClientSession() as http:
        async def read_stream() -> None:
            if not user_stream:
                return
            async with http.post(f"{url}/fapi/v1/listenKey", headers={"X-MBX-APIKEY": KEY}) as r:
                listen_key = (await r.json())["listenKey"]
            ws = await http.ws_connect(f"{url.replace('http', 'ws')}/private/ws?listenKey={listen_key}")
            stream_up.set()
            try:
                async for msg in ws:
                    data = msg.data.encode() if isinstance(msg.data, str) else msg.data
                    if b'"x":"TRADE"' in data:
                        i = data.index(b'"c":"') + 5
                        fill_at.setdefault(data[i:data.index(b'"', i)], time.perf_counter_ns())
            finally:
                await ws.close()

        stream_up = asyncio.Event()
        reading = asyncio.create_task(read_stream())
        if user_stream:
            await stream_up.wait()
        reader, writer = await asyncio.open_connection(host, int(port))
        raws = [request(f"w{i}", "BUY" if i % 2 else "SELL") for i in range(WARMUP)]
        measured = [(f"f{i}", request(f"f{i}", "BUY" if i % 2 else "SELL")) for i in range(n)]
        for raw in raws:
            await send(reader, writer, raw)
        acks, sent = [], {}
        cpu0 = time.process_time()
        for cid, raw in measured:
            t0 = sent[cid.encode()] = time.perf_counter_ns()
            await send(reader, writer, raw)
            acks.append((time.perf_counter_ns() - t0) / 1e3)
        cpu = (time.process_time() - cpu0) / n * 1e6
        if user_stream:
            await _wait_for(lambda: all(c in fill_at for c in sent))
        fills = [(fill_at[c] - t) / 1e3 for c, t in sent.items() if c in fill_at]
        # Throughput: n orders at once over 16 kept-alive sockets (aiohttp's pool would open as many).
        burst = [request(f"b{i}", "BUY" if i % 2 else "SELL") for i in range(n)]
        conns = [await asyncio.open_connection(host, int(port)) for _ in range(16)]

        async def lane(k: int) -> None:
            r, w = conns[k]
            for raw in burst[k::16]:
                await send(r, w, raw)

        t0 = time.perf_counter()
        await asyncio.gather(*(lane(k) for k in range(16)))
        rate = n / (time.perf_counter() - t0)
        for _, w in [*conns, (reader, writer)]:
            w.close()
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
    return {"ack": acks, "fill": fills, "rate": rate, "cpu": cpu}


async def _wait_for(done, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)


async def _crossfury(url: str, n: int, user_stream: bool = True, user_event_hold_s: float = 0.0) -> dict[str, Any]:
    from crossfury.connectors import create_connector
    from crossfury.events import Channel, Fill

    conn = create_connector("binance-usdm", endpoint=url, api_key=KEY, api_secret=SECRET, rate_limit_orders=False,
                            user_stream=user_stream, user_event_hold_s=user_event_hold_s)
    fill_at: dict[str, int] = {}
    conn.add_callback(lambda m: fill_at.setdefault(m.client_order_id, time.perf_counter_ns())
                      if isinstance(m, Fill) else None, [Channel.FILLS])
    await conn.connect()
    for i in range(WARMUP):
        await conn.place_order(SYMBOL, "buy" if i % 2 else "sell", QTY, order_type="market")
    acks, sent = [], {}
    cpu0 = time.process_time()
    for i in range(n):
        cid = f"b{i}"
        t0 = sent[cid] = time.perf_counter_ns()
        upd = await conn.place_order(SYMBOL, "buy" if i % 2 else "sell", QTY, order_type="market",
                                     client_order_id=cid)
        acks.append((time.perf_counter_ns() - t0) / 1e3)
        if upd.status.value != "filled":
            raise AssertionError(f"crossfury order {cid} ended {upd.status}")
    cpu = (time.process_time() - cpu0) / n * 1e6
    if user_stream:
        await _wait_for(lambda: all(c in fill_at for c in sent))
    fills = [(fill_at[c] - t) / 1e3 for c, t in sent.items() if c in fill_at]
    t0 = time.perf_counter()
    done = await asyncio.gather(*(conn.place_order(SYMBOL, "buy" if i % 2 else "sell", QTY, order_type="market")
                                  for i in range(n)))
    rate = n / (time.perf_counter() - t0)
    if any(u.status.value != "filled" for u in done):
        raise AssertionError("a crossfury burst order did not fill")
    await conn.close()
    return {"ack": acks, "fill": fills, "rate": rate, "cpu": cpu}


async def _ccxt(url: str, n: int) -> dict[str, Any]:
    import ccxt.async_support as ccxt

    ex = ccxt.binanceusdm({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False,
                           "options": {"fetchMarkets": {"types": ["linear"]}, "fetchCurrencies": False}})
    for name, api_url in list(ex.urls["api"].items()):
        if isinstance(api_url, str) and api_url.startswith("https://fapi.binance.com"):
            ex.urls["api"][name] = api_url.replace("https://fapi.binance.com", url)
    try:
        await ex.load_markets()
        for i in range(WARMUP):
            await ex.create_order("BTC/USDT:USDT", "market", "buy" if i % 2 else "sell", QTY)
        acks = []
        cpu0 = time.process_time()
        for i in range(n):
            t0 = time.perf_counter_ns()
            o = await ex.create_order("BTC/USDT:USDT", "market", "buy" if i % 2 else "sell", QTY)
            acks.append((time.perf_counter_ns() - t0) / 1e3)
            if o["status"] != "closed":
                raise AssertionError(f"ccxt order ended {o['status']}")
        cpu = (time.process_time() - cpu0) / n * 1e6
        t0 = time.perf_counter()
        done = await asyncio.gather(*(ex.create_order("BTC/USDT:USDT", "market", "buy" if i % 2 else "sell", QTY)
                                      for i in range(n)))
        rate = n / (time.perf_counter() - t0)
        if any(o["status"] != "closed" for o in done):
            raise AssertionError("a ccxt burst order did not fill")
    finally:
        await ex.close()
    return {"ack": acks, "fill": [], "rate": rate, "cpu": cpu}


def _client(peer: str, url: str, n: int) -> None:
    _pin(1)
    try:
        import uvloop  # the loop a latency-minded user runs; every client gets the same one
        uvloop.install()
    except ImportError:
        pass
    run = {"floor": _floor, "floor-rest": functools.partial(_floor, user_stream=False), "crossfury": _crossfury,
           "crossfury-hold": functools.partial(_crossfury, user_event_hold_s=0.002),
           "crossfury-rest": functools.partial(_crossfury, user_stream=False),
           "ccxt": _ccxt}[peer]
    print(json.dumps(asyncio.run(run(url, n))))


# -- the driver ---------------------------------------------------------------------------------------------

def _callgrind(url: str, n: int) -> int:
    """Print each client's instructions per order: (run of 5n orders - run of n orders) / 4n, under callgrind.

    The difference cancels start-up and imports; each order counts once sequential and once in the burst.
    """
    import re

    counts = {}
    for peer in PEERS:
        totals = []
        for orders in (n, 5 * n):
            out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                                  __file__, "--client", peer, url, str(orders)], check=False, capture_output=True,
                                 text=True, timeout=1800)
            found = re.search(r"Collected : (\d+)", out.stderr)
            if out.returncode != 0 or found is None:
                print(f"{peer} failed under valgrind:\n{out.stderr[-2000:]}", file=sys.stderr)
                return 1
            totals.append(int(found.group(1)))
        counts[peer] = (totals[1] - totals[0]) / (4 * n) / 2  # two orders (sequential + burst) per count
        print(f"{peer:14} {counts[peer] / 1000:8.0f} k instructions per order")
    ccxt_own = counts["ccxt"] - counts["floor-rest"]
    for peer in ("crossfury", "crossfury-hold", "crossfury-rest"):
        print(f"ccxt / {peer} instructions per order over its floor: "
              f"{ccxt_own / (counts[peer] - counts[FLOOR_OF[peer]]):.1f}x")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=300, help="measured orders per client and round (default 300)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of floor, crossfury, ccxt (default 2)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON too")
    ap.add_argument("--callgrind", action="store_true",
                    help="instead: each client's instructions per order under valgrind (repeatable under load)")
    args = ap.parse_args()
    sim = subprocess.Popen([sys.executable, __file__, "--sim"], stdout=subprocess.PIPE, text=True)
    try:
        url = sim.stdout.readline().strip()  # type: ignore[union-attr]
        if args.callgrind:
            return _callgrind(url, args.orders)
        samples: dict[str, dict[str, list[float]]] = {p: {"ack": [], "fill": [], "rate": [], "cpu": []} for p in PEERS}
        for _ in range(args.rounds):
            for peer in PEERS:
                out = subprocess.run([sys.executable, __file__, "--client", peer, url, str(args.orders)],
                                     check=False, capture_output=True, text=True, timeout=300)
                if out.returncode != 0:
                    print(f"{peer} failed:\n{out.stderr[-3000:]}", file=sys.stderr)
                    return 1
                r = json.loads(out.stdout.strip().splitlines()[-1])
                samples[peer]["ack"] += r["ack"]
                samples[peer]["fill"] += r["fill"]
                samples[peer]["rate"].append(r["rate"])
                samples[peer]["cpu"].append(r["cpu"])
    finally:
        sim.terminate()
        sim.wait(10)
    floors = {p: statistics.median(samples[p]["ack"]) for p in ("floor", "floor-rest")}
    summary = {}
    print(f"{args.orders} market orders x {args.rounds} rounds per client; µs; overhead = p50 - the p50 of the floor "
          f"with the same user-stream setting (crossfury: floor; crossfury-rest and ccxt: floor-rest)")
    print(f"{'client':14} {'ack p50':>8} {'ack p99':>8} {'overhead':>9} {'fill p50':>9} {'fill p99':>9} {'orders/s':>9}"
          f" {'cpu/order':>10}")
    for peer, s in samples.items():
        p50 = statistics.median(s["ack"])
        fill = s["fill"]
        row = {"ack_p50_us": p50, "ack_p99_us": _pct(s["ack"], 0.99), "overhead_p50_us": p50 - floors[FLOOR_OF[peer]],
               "fill_p50_us": statistics.median(fill) if fill else None,
               "fill_p99_us": _pct(fill, 0.99) if fill else None, "orders_per_s": statistics.median(s["rate"]),
               "client_cpu_us_per_order": statistics.median(s["cpu"])}
        summary[peer] = row
        print(f"{peer:14} {p50:8.0f} {row['ack_p99_us']:8.0f} {row['overhead_p50_us']:9.0f} "
              f"{row['fill_p50_us'] or float('nan'):9.0f} {row['fill_p99_us'] or float('nan'):9.0f} "
              f"{row['orders_per_s']:9.0f} {row['client_cpu_us_per_order']:10.0f}")
    cx = summary["ccxt"]
    ratios = {}
    for peer, label in (("crossfury", "as deployed, user stream on"),
                        ("crossfury-hold", "user stream on, events held up to 2 ms for a pending reply"),
                        ("crossfury-rest", "REST only, like ccxt")):
        cf = summary[peer]
        ratio = ratios[peer] = (cx["overhead_p50_us"] / cf["overhead_p50_us"] if cf["overhead_p50_us"] > 0
                                else float("inf"))
        print(f"ccxt / {peer} ({label}): p50 overhead {ratio:.1f}x (goal 5x: {'met' if ratio >= 5 else 'not met'}); "
              f"client CPU per order {cx['client_cpu_us_per_order'] / cf['client_cpu_us_per_order']:.1f}x; raw round "
              f"trip {cx['ack_p50_us'] / cf['ack_p50_us']:.2f}x; orders/s {cf['orders_per_s'] / cx['orders_per_s']:.1f}x")
    if args.json:
        print(json.dumps({"orders": args.orders, "rounds": args.rounds, "clients": summary,
                          "overhead_ratio": ratios}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--sim":
        _pin(0)
        asyncio.run(_serve_sim())
    elif len(sys.argv) > 1 and sys.argv[1] == "--client":
        _client(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(main())
