# SPDX-License-Identifier: MIT
"""What every consumer of the end-to-end benchmark shares: arguments, the measurement window, the report.

A consumer (``_e2e_crossfury.py``, ``_e2e_cryptofeed.py``, ``_e2e_null.py``) subscribes to the simulator,
waits until its books are synced, warms up, then measures for a fixed window and prints one JSON object on
stdout. It records one latency per delivered message (into an ``array``, no allocation per message) and
keeps counters; ``Window`` marks their values at the window's start and end, with this process's CPU time,
the time it was ready to run but waited for a CPU held by another process (``/proc/self/schedstat``: on a
shared machine this, not the source, may be what a consumer below 100 % CPU waited for) and the simulator's
CPU time (read from /proc), so the rate and the latencies cover the window only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np

TOP_N = 5  # levels per side compared against the simulator's truth


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--endpoint", required=True, help="the simulator, http://127.0.0.1:PORT")
    p.add_argument("--symbols", required=True, help="native symbols, comma separated (BTCUSDT,ETHUSDT)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds after every book is synced")
    p.add_argument("--seconds", type=float, default=10.0, help="measurement window")
    p.add_argument("--sim-pid", type=int, default=0, help="the simulator's pid, to read its CPU time")
    p.add_argument("--cpu", type=int, default=-1, help="pin this process to this CPU (-1: no pinning)")
    p.add_argument("--sync-timeout", type=float, default=30.0, help="give up when books are not synced by then")
    p.add_argument("--profile", default="", help="write a cProfile of the window to this file")
    return p


def pin(cpu: int) -> None:
    if cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (0.0 when unknown)."""
    if pid <= 0:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run_wait_s() -> float:
    """Seconds this process's main thread spent runnable but waiting for a CPU (0.0 when unknown)."""
    try:
        with open("/proc/self/schedstat", "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class Window:
    """Marks counters, latencies, wall time and CPU time at the start and at the end of the window.

    ``counters()`` returns a dict of monotonic counts (frames received, messages delivered, ...);
    ``latencies`` is the array the consumer appends to, in ``unit`` (ns or s) per entry.
    """

    def __init__(self, args: argparse.Namespace, counters: Callable[[], dict[str, int]], latencies: array,
                 unit_s: float):
        self.args = args
        self.counters = counters
        self.latencies = latencies
        self.unit_s = unit_s
        self.marks: list[dict[str, Any]] = []
        self.profiler = None

    def mark(self) -> None:
        if self.profiler is not None and self.marks:
            self.profiler.disable()
        ru = resource.getrusage(resource.RUSAGE_SELF)
        self.marks.append({"wall": time.perf_counter(), "cpu": time.process_time(), "run_wait": run_wait_s(),
                           "sim_cpu": proc_cpu_s(self.args.sim_pid), "lat": len(self.latencies),
                           "ctx": ru.ru_nvcsw + ru.ru_nivcsw, **self.counters(),
                           "sim_sent": rest_json(self.args.endpoint, "/_e2e/state")["sent"]})
        if self.args.profile and len(self.marks) == 1:
            import cProfile

            self.profiler = cProfile.Profile()
            self.profiler.enable()

    async def run(self, ready: Callable[[], bool]) -> None:
        """Wait until ``ready()``, warm up, then mark the window's start and end."""
        deadline = time.monotonic() + self.args.sync_timeout
        while not ready():
            if time.monotonic() > deadline:
                raise TimeoutError(f"books not synced within {self.args.sync_timeout:g} s")
            await asyncio.sleep(0.01)
        set_rate(self.args.endpoint, None)  # flood from now on
        await asyncio.sleep(self.args.warmup)
        self.mark()
        await asyncio.sleep(self.args.seconds)
        self.mark()
        if self.profiler is not None:
            self.profiler.dump_stats(self.args.profile)

    def result(self, name: str, delivered_key: str = "delivered", **extra: Any) -> dict[str, Any]:
        a, b = self.marks
        wall = b["wall"] - a["wall"]
        lat = np.frombuffer(self.latencies, dtype=np.int64 if self.latencies.typecode == "q" else np.float64)
        lat = lat[a["lat"]:b["lat"]].astype(np.float64) * (self.unit_s * 1e6)  # µs
        delta = {k: b[k] - a[k] for k in b if k not in ("wall", "cpu", "run_wait", "sim_cpu", "lat")}
        out = {
            "contender": name,
            "seconds": wall,
            "messages": delta[delivered_key],
            "messages_per_s": delta[delivered_key] / wall,
            "frames_per_s": delta.get("frames", 0) / wall,
            "sim_sent_per_s": delta["sim_sent"] / wall,
            "cpu_pct": 100.0 * (b["cpu"] - a["cpu"]) / wall,
            "cpu_wait_pct": 100.0 * (b["run_wait"] - a["run_wait"]) / wall,
            "cpu_us_per_message": 1e6 * (b["cpu"] - a["cpu"]) / max(delta[delivered_key], 1),
            "sim_cpu_pct": 100.0 * (b["sim_cpu"] - a["sim_cpu"]) / wall if self.args.sim_pid else None,
            "window": delta,
            "latency_samples": int(lat.size),
        }
        if lat.size:
            p50, p99, p999 = np.percentile(lat, [50, 99, 99.9])
            out["latency_us"] = {"p50": p50, "p99": p99, "p99.9": p999, "max": float(lat.max()),
                                 "mean": float(lat.mean())}
        out.update(extra)
        return out


def emit(result: dict[str, Any]) -> None:
    """Print the result as the last line of stdout (the parent reads that line)."""
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()


def rest_json(endpoint: str, path: str) -> Any:
    """A blocking GET (outside any measured window)."""
    import urllib.request

    with urllib.request.urlopen(endpoint.rstrip("/") + path, timeout=10) as r:
        return json.loads(r.read())


def set_rate(endpoint: str, events_per_s: float | None) -> None:
    """Tell the source to flood (None) or to pace at ``events_per_s`` per symbol (a blocking POST)."""
    import urllib.request

    req = urllib.request.Request(endpoint.rstrip("/") + "/_e2e/rate", method="POST",
                                 data=json.dumps({"events_per_s": events_per_s}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()
