# SPDX-License-Identifier: MIT
"""Converters to hftbacktest events: crossfury against hftbacktest 2.4.4's own, on the same files, in one run.

Run ``python benchmarks/bench_convert.py [--quick] [--repeat N] [--json OUT]`` (needs hftbacktest 2.4.4, a test
dependency, and the shared data set: the recording input replays a real USD-M capture). Inputs are generated
once into ``--cache`` (``_convert_inputs``): a 5M-row Tardis ``incremental_book_L2`` file plus its trades file,
and a 1M-line collector-format recording. For each input:

fresh  what a user feels: the whole process, wall clock, from exec to exit. crossfury's CLI
       (``crossfury convert ...``) against a new ``python -c`` that runs hftbacktest's converter with
       ``output_filename`` (``np.savez_compressed``), as its docs show. hftbacktest's numba functions are
       compiled in that process on its first run (an empty ``NUMBA_CACHE_DIR``: "JIT cold") and loaded from
       numba's on-disk cache on later runs ("numba cache warm"); both are shown. Best of ``--repeat``.
warm   the second and later calls in one process of the array-returning API (``crossfury.convert.tardis``,
       ``recording`` against ``tardis.convert``, ``binancefutures.convert``), no file written. Best of
       ``--repeat``.
memory the peak resident set size of the fresh process (``/usr/bin/time -f %M``).
sort   the stable argsort of the int64 timestamp columns the converters order (the rows before ordering, real
       timestamps for the recording): ``crossfury.convert.argsort`` against ``np.argsort(kind="stable")``,
       in this process, best of 15 (a sort takes milliseconds, so a few runs are all noise): wall clock with
       its default threads (the usable cores, at most ``convert.ARGSORT_THREADS``) and on one thread, and
       the CPU time (``time.process_time``, all threads) of the default run, so the table shows what the
       threads bought and what they cost.

Checks, or the script exits 1: both converters' .npz files hold the same array, bit for bit, and each argsort
equals numpy's. Each contender runs alone in its own subprocess; wall-clock figures on a shared machine are
indicative.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _convert_inputs
import numpy as np

HERE = Path(__file__).resolve().parent

# hftbacktest, as its documentation converts (the npz written by np.savez_compressed).
_HBT_FRESH = {
    "tardis": "from hftbacktest.data.utils import tardis\n"
              "tardis.convert({files!r}, output_filename={out!r})\n",
    "recording": "from hftbacktest.data.utils import binancefutures\n"
                 "binancefutures.convert({file!r}, output_filename={out!r})\n",
}


def _crossfury_cli() -> list[str]:
    script = Path(sys.executable).with_name("crossfury")
    return [str(script)] if script.exists() else [sys.executable, "-m", "crossfury"]


def run_fresh(cmd: list[str], env: dict | None = None) -> dict:
    """Wall time and peak RSS of one child process.

    The child is started through /usr/bin/time (or a small Python parent) because Linux carries a process's
    RSS high-water mark across fork and exec: a child forked from this process would report at least this
    process's own size.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        if Path("/usr/bin/time").exists():
            wrapped = ["/usr/bin/time", "-f", "%M", "-o", rss_file.name, *cmd]
        else:
            wrapped = [sys.executable, "-c", _RSS_PARENT, rss_file.name, *cmd]
        t = time.perf_counter()
        proc = subprocess.run(wrapped, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        wall = time.perf_counter() - t
        if proc.returncode:
            err = proc.stderr.decode(errors="replace")
            raise SystemExit(f"bench_convert: {' '.join(cmd[:4])}... failed ({proc.returncode}):\n{err[-2000:]}")
        rss_kb = int(rss_file.read().split()[-1])
    return {"s": wall, "rss_mb": rss_kb / 1024}


_RSS_PARENT = ("import os, subprocess, sys\n"
               "p = subprocess.Popen(sys.argv[2:])\n"
               "_, status, usage = os.wait4(p.pid, 0)\n"
               "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
               "sys.exit(os.waitstatus_to_exitcode(status))\n")


def fresh_runs(kind: str, files: list[str], work: Path, repeat: int) -> dict:
    """crossfury's CLI and hftbacktest's converter, each in a new process, alternating; best of repeat."""
    ours_out, theirs_out = work / f"crossfury_{kind}.npz", work / f"hftbacktest_{kind}.npz"
    ours_cmd = [*_crossfury_cli(), "convert", kind, *files, "-o", str(ours_out), "--quiet"]
    code = _HBT_FRESH[kind].format(files=files, file=files[0], out=str(theirs_out))
    theirs_cmd = [sys.executable, "-c", code]
    numba_cache = Path(tempfile.mkdtemp(prefix="numba-", dir=work))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(numba_cache))  # empty: the first run compiles
    ours, cold, cached = [], [], []
    for i in range(repeat):
        ours.append(run_fresh(ours_cmd))
        (cold if i == 0 else cached).append(run_fresh(theirs_cmd, env))
    if not cached:  # one run asked for: still show the cached-JIT figure
        cached.append(run_fresh(theirs_cmd, env))
    shutil.rmtree(numba_cache, ignore_errors=True)
    same = _same_npz(ours_out, theirs_out)
    sizes = ours_out.stat().st_size, theirs_out.stat().st_size
    ours_out.unlink()
    theirs_out.unlink()

    def best(runs: list[dict]) -> dict:
        return min(runs, key=lambda r: r["s"])

    return {"crossfury": best(ours), "hbt_cold": best(cold), "hbt_cached": best(cached),
            "rss_mb": (max(r["rss_mb"] for r in ours), max(r["rss_mb"] for r in cold + cached)),
            "npz_mb": (sizes[0] / 1e6, sizes[1] / 1e6), "identical": same}


def _same_npz(a: Path, b: Path) -> bool:
    with np.load(a) as fa, np.load(b) as fb:
        x, y = fa["data"], fb["data"]
        return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


# -- warm: one subprocess per contender calls the API repeat + 1 times and reports each call's seconds.


def warm_calls(contender: str, kind: str, files: list[str], calls: int) -> list[float]:
    if contender == "crossfury":
        from crossfury import convert

        run = (lambda: convert.tardis(files)) if kind == "tardis" else (lambda: convert.recording(files))
    else:
        from hftbacktest.data.utils import binancefutures, tardis

        run = (lambda: tardis.convert(files)) if kind == "tardis" else (lambda: binancefutures.convert(files[0]))
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # hftbacktest prints its progress
            data = run()
        times.append(time.perf_counter() - t)
        del data
    return times


def warm_runs(kind: str, files: list[str], repeat: int) -> dict:
    out = {}
    for contender in ("crossfury", "hftbacktest"):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--warm", contender, "--kind", kind,
               "--calls", str(repeat + 1), *files]
        res = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if res.returncode:
            raise SystemExit(f"bench_convert: warm {contender} {kind} failed:\n{res.stderr[-2000:]}")
        times = json.loads(res.stdout.strip().splitlines()[-1])
        out[contender] = {"first_s": times[0], "s": min(times[1:])}
    return out


# -- sort: the rows each converter orders, before ordering.


SORT_RUNS = 15


def sort_runs(kind: str, files: list[str]) -> list[dict]:
    from crossfury import convert
    from crossfury.convert import Report, _read_recording, _read_tardis

    if kind == "tardis":
        events = _read_tardis(files, "process", False, None, Report([]))
    else:
        options = {"with_bbo": False, "with_mark_price": False, "sync": False, "agg_trades": None}
        events = _read_recording(files, options, False, None, Report([]))
    rows = events.array()
    out = []
    threads = convert.argsort_threads(len(rows))
    contenders = {"numpy": lambda keys: np.argsort(keys, kind="stable"), "crossfury": convert.argsort,
                  "one_thread": lambda keys: convert.argsort(keys, threads=1)}
    for column in ("exch_ts", "local_ts"):
        keys = np.ascontiguousarray(rows[column])
        ref = np.argsort(keys, kind="stable")
        wall = {name: [] for name in contenders}
        cpu = {name: [] for name in contenders}
        for _ in range(SORT_RUNS):
            for name, sort in contenders.items():
                t, c = time.perf_counter(), time.process_time()
                got = sort(keys)
                wall[name].append(time.perf_counter() - t)
                cpu[name].append(time.process_time() - c)
                if not np.array_equal(ref, got):
                    raise SystemExit(f"bench_convert: {name} argsort of {kind} {column} differs from numpy's")
                del got
        descents = int(np.count_nonzero(keys[1:] < keys[:-1]))
        out.append({"column": column, "rows": len(keys), "descents": descents, "threads": threads,
                    "crossfury_s": min(wall["crossfury"]), "crossfury_cpu_s": min(cpu["crossfury"]),
                    "one_thread_s": min(wall["one_thread"]), "numpy_s": min(wall["numpy"]),
                    "numpy_cpu_s": min(cpu["numpy"])})
        del ref, keys
    del rows, events
    return out


# -- report


def _s(x: float) -> str:
    return f"{x:.2f} s" if x >= 0.1 else f"{x * 1000:.1f} ms"


def _x(ours: float, theirs: float) -> str:
    return f"{theirs / ours:.1f}x"


def table(results: dict) -> tuple[str, list[dict]]:
    lines = ["| input | measure | crossfury | hftbacktest 2.4.4 | ratio | goal |", "|---|---|---:|---:|---:|---|"]
    goals = []

    def goal(name: str, ratio: float, want: float, shown: str = "") -> str:
        met = ratio >= want if not shown else ratio <= want  # shown: a ceiling, written as shown
        goals.append({"goal": name, "ratio": ratio, "met": met})
        return f"{'<= ' + shown if shown else f'>= {want:g}x'}: {'met' if met else '**not met**'}"

    for kind, label, fresh_goal in (("tardis", "Tardis", 10), ("recording", "recording", 10)):
        r = results[kind]
        f, w = r["fresh"], r["warm"]
        name = r["label"]
        ours = f["crossfury"]["s"]
        lines.append(f"| {name} | fresh process, JIT cold | {_s(ours)} | {_s(f['hbt_cold']['s'])} | "
                     f"{_x(ours, f['hbt_cold']['s'])} | |")
        lines.append(f"| | fresh process, numba cache warm | {_s(ours)} | {_s(f['hbt_cached']['s'])} | "
                     f"{_x(ours, f['hbt_cached']['s'])} | "
                     f"{goal(f'{label} fresh', f['hbt_cached']['s'] / ours, fresh_goal)} |")
        warm_ratio = w["hftbacktest"]["s"] / w["crossfury"]["s"]
        warm_goal = goal(f"{label} warm", warm_ratio, 4 if kind == "tardis" else 10)
        lines.append(f"| | warm, in process (array) | {_s(w['crossfury']['s'])} | {_s(w['hftbacktest']['s'])} | "
                     f"{warm_ratio:.1f}x | {warm_goal} |")
        rss = f["rss_mb"]
        lines.append(f"| | peak RSS, fresh process | {rss[0]:,.0f} MB | {rss[1]:,.0f} MB | {rss[0] / rss[1]:.2f} | "
                     f"{goal(f'{label} memory', rss[0] / rss[1], 1 / 3, '1/3')} |")
        lines.append(f"| | npz size (level 1 / savez_compressed) | {f['npz_mb'][0]:,.0f} MB | {f['npz_mb'][1]:,.0f} MB "
                     f"| | |")
        for s in r["sort"]:
            ratio = s["numpy_s"] / s["crossfury_s"]
            lines.append(f"| | argsort {s['column']} ({s['rows']:,} rows, {s['descents']:,} descent{'' if s['descents'] == 1 else 's'}) vs "
                         f"`np.argsort(kind=\"stable\")`, {s['threads']} thread{'' if s['threads'] == 1 else 's'} "
                         f"(1 thread: {_s(s['one_thread_s'])}, {s['numpy_s'] / s['one_thread_s']:.1f}x; CPU time "
                         f"{_s(s['crossfury_cpu_s'])} vs {_s(s['numpy_cpu_s'])}, {s['numpy_cpu_s'] / s['crossfury_cpu_s']:.1f}x) "
                         f"| {_s(s['crossfury_s'])} | {_s(s['numpy_s'])} | "
                         f"{ratio:.1f}x | {goal(label + ' sort ' + s['column'], ratio, 2)} |")
    return "\n".join(lines), goals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500k book rows and 100k recording lines")
    parser.add_argument("--repeat", type=int, default=2, help="fresh runs, and warm calls after the first")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "crossfury-bench-convert",
                        help="where the generated inputs are kept between runs")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--warm", choices=["crossfury", "hftbacktest"], help=argparse.SUPPRESS)
    parser.add_argument("--kind", choices=["tardis", "recording"], help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=3, help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warm:
        print(json.dumps(warm_calls(args.warm, args.kind, args.files, args.calls)))
        return

    t0 = time.perf_counter()
    book_rows, lines = (500_000, 100_000) if args.quick else (_convert_inputs.TARDIS_BOOK_ROWS,
                                                              _convert_inputs.RECORDING_LINES)
    meta = _convert_inputs.ensure(args.cache, book_rows, lines)
    files = meta["files"]
    rows = meta["rows"]
    inputs = {
        "tardis": ([files["trades"], files["book"]],
                   (f"Tardis: {rows['book']:,} book + {rows['trades']:,} trade rows "
                    f"({sum(Path(p).stat().st_size for p in (files['book'], files['trades'])) / 1e6:.0f} MB gz)")),
        "recording": ([files["recording"]],
                      (f"recording: {rows['recording_lines']:,} lines "
                       f"({Path(files['recording']).stat().st_size / 1e6:.0f} MB gz)")),
    }
    results: dict = {"python": platform.python_version(), "cores": os.cpu_count(), "repeat": args.repeat}
    work = Path(tempfile.mkdtemp(prefix="bench-convert-", dir=args.cache))
    try:
        for kind, (paths, label) in inputs.items():
            results[kind] = {"label": label, "fresh": fresh_runs(kind, paths, work, args.repeat),
                             "warm": warm_runs(kind, paths, args.repeat), "sort": sort_runs(kind, paths)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text, goals = table(results)
    results["goals"] = goals
    results["seconds"] = time.perf_counter() - t0
    print(f"Python {results['python']}, {platform.processor() or platform.machine()}, {results['cores']} cores; "
          f"best of {args.repeat}; {results['seconds']:.0f} s in all\n")
    print(text)
    same = {kind: results[kind]["fresh"]["identical"] for kind in inputs}
    print("\nchecked: " + ", ".join(f"{k} npz {'identical' if v else 'DIFFERENT'}" for k, v in same.items())
          + "; every argsort equal to numpy's")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if not all(same.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
