# SPDX-License-Identifier: MIT
"""End to end over loopback: a local Binance USD-M simulator floods depth; who turns it into books fastest?

Run ``python benchmarks/bench_e2e.py [--seconds 10] [--warmup 2] [--symbols 1] [--source pregen,pregen-x10,sim]
[--json] [--profile DIR]`` (needs ``pip install -e ".[bench,fast]"``: cryptofeed, uvloop). It takes about 16 s
per contender and source, about 4 minutes in all.

What it measures. A simulator (``_e2e_sim.py``: ``crossfury.sim.BinanceSim``, market usdm) runs in its own
process pinned to CPU 0 and pushes ``<symbol>@depth@100ms`` diff-depth events as fast as it can. Each
contender runs alone in its own process pinned to CPU 1, one after the other against the same simulator:
it subscribes to the same depth stream of the same symbols, syncs its books from the simulator's REST
snapshot, warms up for ``--warmup`` s under the flood, then measures for ``--seconds`` s:

- messages/s: depth messages turned into an applied, full order book and delivered to a user callback;
- latency: from the frame's receipt (the library's own receive timestamp: crossfury's ``local_ts``, taken in
  the WebSocket read callback; cryptofeed's ``receipt_timestamp``, taken when its read loop gets the message
  from ``websockets``) to the moment the callback runs, p50 / p99 / p99.9 / max over every message;
- the consumer's CPU use, its CPU time per message, the time it was ready to run but another process held
  its CPU ("CPU waited", from /proc/self/schedstat), and the simulator's frames sent per second in the same
  window. A consumer that keeps up with the source (CPU well under 100 %, little waiting) measures the
  source, not itself: its rate is then a lower bound, and the table says so. On a loaded machine a consumer
  may instead be short of CPU; the table says that too, and CPU µs/msg is then the fairer comparison.

Contenders: ``crossfury`` (``create_connector("binance-usdm")``, a ``BookSnapshot`` callback),
``cryptofeed`` (``BinanceFutures`` with an ``L2_BOOK`` callback, pointed at the simulator, see
``_e2e_cryptofeed.py``), and two null consumers that count frames and keep no book: ``null-picows``
(crossfury's WebSocket client) and ``null-websockets`` (cryptofeed's): the transport ceilings.

Sources (``--source``, all three by default): ``pregen`` re-sends a pre-generated lap of the simulator's
synthetic market with shifted update ids, through the simulator's own server (its handshake, REST snapshot
and pings), as ready WebSocket frames written in 64 KB blocks and paced only by the socket's back-pressure,
so the source outruns the consumers (the null consumers show by how much); its events carry about 5 levels. ``pregen-x10`` aggregates 10 consecutive events per message
(about 29 levels, as some repeat; real USD-M BTCUSDT ``@100ms`` messages carry about 44). ``sim`` is the
simulator's flood mode as is, which generates each event in Python and is slower than crossfury (see
``_e2e_sim.py``).

Checked once per contender: gaps and resyncs are counted, every frame received in the window is delivered
(crossfury: and applied, each in one native call from the WebSocket listener, ``native_frames``), and after
the window the delivered book's top 5 levels at one update id equal the simulator's REST depth at that id. A
failed check exits 1; missing the goals does not. Timings are never asserted; the goal lines below the table
only report them.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONTENDERS = {
    "null-picows": ["_e2e_null.py", "--client", "picows"],
    "null-websockets": ["_e2e_null.py", "--client", "websockets"],
    "crossfury": ["_e2e_crossfury.py"],
    "cryptofeed": ["_e2e_cryptofeed.py"],
}
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT"]
GOAL_RATIO = 10.0  # crossfury messages/s over cryptofeed's
GOAL_P99_US = 100.0
BUSY_PCT = 90.0  # a consumer below this CPU use is waiting for its source, or for a CPU another process holds


def symbols(n: int) -> list[str]:
    return SYMBOLS[:n] + [f"SYM{i}USDT" for i in range(len(SYMBOLS), n)]


class Source:
    """The simulator process (``_e2e_sim.py``) for one source kind."""

    def __init__(self, kind: str, syms: list[str], args: argparse.Namespace):
        base, _, merge = kind.partition("-x")  # pregen-x10: messages that aggregate 10 events each
        if base not in ("pregen", "sim") or (merge and (base != "pregen" or not merge.isdigit())):
            raise SystemExit(f"unknown source {kind!r}: expected pregen, pregen-xK (K events per message) or sim")
        cmd = [sys.executable, str(HERE / "_e2e_sim.py"), "--source", base, "--symbols", ",".join(syms),
               "--cycle", str(args.cycle), "--slow-rate", str(args.slow_rate), "--merge", merge or "1"] + \
              ([] if args.no_pin else ["--cpu", "0"])
        self.kind = kind
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=HERE)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {kind} simulator did not start (exit {self.proc.wait()})")
        self.info = json.loads(line)
        self.endpoint = f"http://127.0.0.1:{self.info['port']}"

    def slow(self, rate: float) -> None:
        req = urllib.request.Request(self.endpoint + "/_e2e/rate", method="POST",
                                     data=json.dumps({"events_per_s": rate}).encode(),
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_contender(name: str, src: Source, syms: list[str], args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / CONTENDERS[name][0]), *CONTENDERS[name][1:], "--endpoint", src.endpoint,
           "--symbols", ",".join(syms), "--warmup", str(args.warmup), "--seconds", str(args.seconds),
           "--sim-pid", str(src.info["pid"])] + ([] if args.no_pin else ["--cpu", "1"])
    if args.profile and name == "crossfury":
        cmd += ["--profile", str(Path(args.profile) / f"crossfury-{src.kind}.prof")]
    src.slow(args.slow_rate)  # pregen: every consumer syncs at the slow rate, then asks for the flood
    time.sleep(0.3)
    try:
        out = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=HERE,
                             timeout=args.warmup + args.seconds + 120)
    except subprocess.TimeoutExpired as exc:
        return {"contender": name, "error": f"timed out: {(exc.stderr or '')[-2000:]}"}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode or not lines:
        return {"contender": name, "error": f"exit {out.returncode}: {out.stderr[-3000:]}"}
    result = json.loads(lines[-1])
    if out.stderr.strip():
        result["stderr"] = out.stderr[-2000:]
    return result


def problems(r: dict[str, Any]) -> list[str]:
    """What is wrong with one contender's result (empty when its checks pass)."""
    if "error" in r:
        return [r["error"].strip().splitlines()[-1] if r["error"].strip() else "failed"]
    w, bad = r["window"], []
    if r["contender"].startswith("null"):
        return bad
    if w.get("gaps") or w.get("resyncs") or w.get("invalid") or w.get("malformed"):
        bad.append(f"gaps {w.get('gaps')}, resyncs {w.get('resyncs')}, invalid {w.get('invalid')}, "
                   f"malformed {w.get('malformed')} in the window")
    if w["frames"] != w["delivered"]:
        bad.append(f"{w['frames']} frames received but {w['delivered']} books delivered")
    if "applied" in w and w["applied"] != w["delivered"]:
        bad.append(f"{w['applied']} applied but {w['delivered']} delivered")
    if "native" in w and w["native"] != w["frames"]:
        bad.append(f"{w['frames']} frames received but {w['native']} took the native path")
    for sym, c in r.get("checks", {}).items():
        if not c["ok"]:
            bad.append(f"{sym} at id {c['update_id']}: " + (c.get("why") or f"top {c.get('got')} != {c.get('truth')}"))
    return bad


def _us(r: dict[str, Any], key: str) -> str:
    lat = r.get("latency_us")
    return f"{lat[key]:,.1f}" if lat else "-"


def limited_by(r: dict[str, Any]) -> str:
    """What held a consumer back: itself (busy), the CPU it shares with other load, or its source."""
    if r["cpu_pct"] >= BUSY_PCT:
        return "itself"
    if r["cpu_pct"] + r.get("cpu_wait_pct", 0.0) >= BUSY_PCT:
        return "CPU taken by other load"
    return "source (lower bound)"


def table(results: list[dict[str, Any]]) -> str:
    lines = [("| source | contender | msgs/s | p50 µs | p99 µs | p99.9 µs | max µs | vs cryptofeed | consumer CPU "
              "| CPU waited | CPU µs/msg | source sent/s | source CPU | limited by | checks |"),
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['source']} | {r['contender']} | failed: {problems(r)[0][:80]} |" + " |" * 12)
            continue
        base = next((b["messages_per_s"] for b in results if b["source"] == r["source"]
                     and b["contender"] == "cryptofeed" and "error" not in b), None)
        ratio = f"{r['messages_per_s'] / base:.2f}x" if base else "-"
        check = "-" if r["contender"].startswith("null") else ("ok" if not problems(r) else "FAILED")
        lines.append(f"| {r['source']} | {r['contender']} | {r['messages_per_s']:,.0f} | {_us(r, 'p50')} | "
                     f"{_us(r, 'p99')} | {_us(r, 'p99.9')} | {_us(r, 'max')} | {ratio} | {r['cpu_pct']:.0f} % | "
                     f"{r.get('cpu_wait_pct', 0.0):.0f} % | {r.get('cpu_us_per_message', 0.0):.2f} | "
                     f"{r['sim_sent_per_s']:,.0f} | {r['sim_cpu_pct'] or 0:.0f} % | {limited_by(r)} | {check} |")
    return "\n".join(lines)


def goals(results: list[dict[str, Any]]) -> list[str]:
    out = []
    for source in dict.fromkeys(r["source"] for r in results):
        rows = {r["contender"]: r for r in results if r["source"] == source and "error" not in r}
        cf, cx = rows.get("cryptofeed"), rows.get("crossfury")
        if not (cf and cx):
            continue
        ratio = cx["messages_per_s"] / cf["messages_per_s"]
        p99 = cx["latency_us"]["p99"]
        note = "" if min(cx["cpu_pct"], cf["cpu_pct"]) >= BUSY_PCT else \
            " (not a capacity ratio: a consumer waited for the source or for a CPU)"
        out.append(f"{source}: crossfury / cryptofeed = {ratio:.2f}x messages/s (goal {GOAL_RATIO:.0f}x: "
                   f"{'met' if ratio >= GOAL_RATIO else 'NOT met'}){note}; crossfury p99 {p99:.1f} µs "
                   f"(goal < {GOAL_P99_US:.0f} µs: {'met' if p99 < GOAL_P99_US else 'NOT met'})")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0, help="measurement window per contender (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="flood before the window, books synced (default 2)")
    p.add_argument("--symbols", type=int, default=1, help="number of USD-M symbols, one depth stream each")
    p.add_argument("--source", default="pregen,pregen-x10,sim",
                   help="comma-separated sources: pregen, pregen-xK (K synthetic events per message), sim "
                        "(default pregen,pregen-x10,sim)")
    p.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated, default all")
    p.add_argument("--cycle", type=int, default=20_000, help="pregen: events per pre-generated lap")
    p.add_argument("--slow-rate", type=float, default=1000.0, help="pregen: events/s per symbol while syncing")
    p.add_argument("--no-pin", action="store_true", help="do not pin the simulator to CPU 0, consumers to CPU 1")
    p.add_argument("--profile", metavar="DIR", help="write a cProfile of crossfury's window to DIR")
    p.add_argument("--json", action="store_true", help="also print every result as JSON")
    args = p.parse_args()
    syms = symbols(args.symbols)
    names = [c for c in args.contenders.split(",") if c]
    if unknown := set(names) - set(CONTENDERS):
        sys.exit(f"unknown contenders {sorted(unknown)}; expected some of {', '.join(CONTENDERS)}")
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    results, infos = [], {}
    for kind in [s for s in args.source.split(",") if s]:
        src = Source(kind, syms, args)
        infos[kind] = src.info
        try:
            for name in names:
                r = run_contender(name, src, syms, args)
                r["source"] = kind
                results.append(r)
                print(f"  {kind:6} {name:16} " + (f"{r['messages_per_s']:>12,.0f} msgs/s" if "error" not in r
                                                    else "failed"), file=sys.stderr, flush=True)
        finally:
            src.close()
    cmd = "python benchmarks/bench_e2e.py " + shlex.join(sys.argv[1:])
    print(f"\n`{cmd.strip()}` — Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, symbols "
          f"{', '.join(syms)}, {args.warmup:g} s warm-up + {args.seconds:g} s window per contender"
          f"{'' if args.no_pin else ', simulator on CPU 0, consumer on CPU 1'}, load average "
          f"{os.getloadavg()[0]:.2f} at the end")
    for kind, i in infos.items():
        if "lap_events" in i:
            print(f"{kind}: laps of {i['lap_events']:,} messages, {i['levels_per_event']} levels and "
                  f"{i['bytes_per_event']:.0f} bytes per message on average")
    print()
    print(table(results) + "\n")
    for line in goals(results):
        print(line)
    bad = {f"{r['source']} {r['contender']}": problems(r) for r in results if problems(r)}
    if args.json:
        print(json.dumps({"command": cmd, "sources": infos, "results": results}, indent=1))
    if bad:
        sys.exit("checks failed:\n" + "\n".join(f"  {k}: {'; '.join(v)}" for k, v in bad.items()))
    print("every contender: no gap, every frame in the window delivered as a book, and the delivered top "
          "5 levels equal the simulator's at one update id")


if __name__ == "__main__":
    main()
