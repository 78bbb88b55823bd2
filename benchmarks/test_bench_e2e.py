# SPDX-License-Identifier: MIT
"""Checks of the end-to-end benchmark's own machinery (never its timings).

Run ``pytest benchmarks/test_bench_e2e.py``: the pre-generated lap must chain its update ids across laps and
come back to its starting book, its ready frames must be exactly those messages with each lap's ids, and a short run of bench_e2e.py must pass its correctness checks (about 20 s).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from _e2e_sim import _IDS, ID_BASE, EncodedLaps, Lap

HERE = Path(__file__).resolve().parent


def _ids(lap: Lap, k: int, lap_no: int = 0) -> tuple[int, int, int]:
    tmpl, first, last, prev = lap.templates[k]
    off = lap_no * lap.shift
    m = _IDS.search(tmpl % (first + off, last + off, prev + off))
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


@pytest.mark.parametrize("merge", [1, 3])
def test_lap_chains_ids_and_restores_its_book(merge: int) -> None:
    lap = Lap("BTCUSDT", seed=7, events=300, merge=merge, every=50)
    n = len(lap.templates)
    assert n == 301  # the messages and the restoring event
    for k in range(1, n):
        assert _ids(lap, k)[2] == _ids(lap, k - 1)[1]  # pu == previous u
    assert _ids(lap, 0, lap_no=1)[2] == _ids(lap, n - 1)[1]  # and across a lap boundary
    last_id, bids, asks = lap.checkpoints[n - 1]
    first_id, *_ = lap.checkpoints[0]
    assert last_id == lap.start_id + lap.shift and _ids(lap, 0)[2] == lap.start_id
    assert first_id == _ids(lap, 0)[1]
    for k, (cp_id, _, _) in lap.checkpoints.items():
        assert cp_id == _ids(lap, k)[1]
    assert max(bids) < min(asks)


def _unframe(data: bytes) -> list[bytes]:
    """The payloads of concatenated unmasked server text frames (RFC 6455 5.2)."""
    out, at = [], 0
    while at < len(data):
        assert data[at] == 0x81 and data[at + 1] < 0x80  # FIN + text, not masked
        n, at = data[at + 1], at + 2
        if n == 126:
            n, at = int.from_bytes(data[at:at + 2], "big"), at + 2
        elif n == 127:
            n, at = int.from_bytes(data[at:at + 8], "big"), at + 8
        out.append(data[at:at + n])
        at += n
    return out


@pytest.mark.parametrize("combined", [True, False])
def test_encoded_laps_are_the_messages_with_each_laps_ids(combined: bool) -> None:
    laps = [Lap("BTCUSDT", seed=7, events=200, every=50), Lap("ETHUSDT", seed=7, events=200, every=50)]
    names = ("btcusdt@depth@100ms", "ethusdt@depth")
    enc = EncodedLaps(laps, names, combined)
    n = len(laps[0].templates)
    assert len(enc.ends) == n and enc.frames_per_group == 2
    for lap_no in (0, 1, 5):
        data = enc.lap(lap_no)
        payloads = _unframe(data)
        assert len(payloads) == 2 * n
        assert len(_unframe(data[enc.ends[9]:enc.ends[19]])) == 20  # groups end on frame boundaries
        for k in range(n):
            for i, (lap, name) in enumerate(zip(laps, names)):
                tmpl, first, last, prev = lap.templates[k]
                off = ID_BASE + lap_no * lap.shift
                want = tmpl % (first + off, last + off, prev + off)
                if combined:
                    want = b'{"stream":"' + name.encode() + b'","data":' + want + b"}"
                assert payloads[2 * k + i] == want
    only_eth = EncodedLaps(laps, (None, "ethusdt@depth"), False)
    assert len(_unframe(only_eth.lap(2))) == n


@pytest.mark.skipif(not all(importlib.util.find_spec(m) for m in ("cryptofeed", "uvloop")),
                    reason="needs the bench extra (cryptofeed) and uvloop")
def test_short_run_passes_its_checks() -> None:
    cmd = [sys.executable, str(HERE / "bench_e2e.py"), "--seconds", "0.5", "--warmup", "0.2", "--source", "pregen",
           "--contenders", "crossfury,cryptofeed", "--cycle", "1000", "--json"]
    out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = json.loads(out.stdout[out.stdout.index('{\n "command"'):out.stdout.rindex("}") + 1])
    for r in report["results"]:
        assert r["messages"] > 0
        assert r["window"]["gaps"] == 0
        assert all(c["ok"] for c in r["checks"].values())
