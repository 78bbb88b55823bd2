# SPDX-License-Identifier: MIT
"""Recording the simulator's feed: replayable with 0 gaps, rotated at midnight without a lost line, and the
``crossfury record`` command stopping cleanly on SIGINT."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crossfury.core.errors import RecorderError
from crossfury.record import record
from crossfury.recorder.format import RecordingReader
from crossfury.replay import Replay
from crossfury.sim import BinanceSim

NS = 1_000_000_000


def run(body, timeout_s: float = 30.0):
    return asyncio.run(asyncio.wait_for(body(), timeout=timeout_s))


def _files_by_symbol(files: list[str]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for f in sorted(files):
        out.setdefault(Path(f).name.rsplit("_", 1)[0], []).append(Path(f))
    return out


@pytest.mark.parametrize("market", ["usdm", "spot"])
def test_a_recording_of_the_simulator_replays_with_no_gap(tmp_path, market):
    async def body():
        async with BinanceSim(market, events_per_s=200) as sim:
            return await record(f"binance-{market}", ["BTCUSDT", "ETHUSDT"], tmp_path, endpoint=sim.rest_url,
                                duration_s=2.0)

    summary = run(body)
    by_symbol = _files_by_symbol(summary["files"])
    assert set(by_symbol) == {"btcusdt", "ethusdt"}
    assert summary["gaps"] == 0
    for sym, files in by_symbol.items():
        rep = Replay().run(files)[sym.upper()].as_dict()
        assert rep["state"] == "synced" and rep["gaps"] == 0 and rep["snapshots"] == 1, rep
        assert rep["applied"] > 100
        assert rep["bbo_checks"] > 50 and rep["bbo_mismatches"] == 0, rep


def test_recorder_rotates_at_a_simulated_midnight_without_losing_a_line(tmp_path):
    now = time.time_ns()
    midnight = (now // (86_400 * NS) + 1) * 86_400 * NS
    offset = midnight - NS - now  # our clock reads one second before midnight UTC

    async def body():
        async with BinanceSim("usdm", events_per_s=300) as sim:
            return await record("binance-usdm", ["BTCUSDT"], tmp_path, endpoint=sim.rest_url, duration_s=2.5,
                                clock_ns=lambda: time.time_ns() + offset)

    summary = run(body)
    day = dt.datetime.fromtimestamp((midnight - NS) / NS, dt.timezone.utc).strftime("%Y%m%d")
    next_day = dt.datetime.fromtimestamp(midnight / NS, dt.timezone.utc).strftime("%Y%m%d")
    files = sorted(Path(f) for f in summary["files"])
    assert [f.name for f in files] == [f"btcusdt_{day}.gz", f"btcusdt_{next_day}.gz"]
    reader = RecordingReader(files)
    lines = list(reader)
    assert len(lines) == summary["lines"] and not reader.truncated and reader.malformed == 0
    assert all(line.local_ts < midnight for line in RecordingReader(files[:1]))
    assert all(line.local_ts >= midnight for line in RecordingReader(files[1:]))
    assert [line.local_ts for line in lines] == sorted(line.local_ts for line in lines)
    rep = Replay().run(files)["BTCUSDT"].as_dict()  # the next-day file continues the book: no new snapshot
    assert rep["gaps"] == 0 and rep["state"] == "synced" and rep["snapshots"] == 1


def test_record_refuses_an_unusable_directory_before_connecting(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")

    async def body():
        await record("binance-usdm", ["BTCUSDT"], not_a_dir, endpoint="http://127.0.0.1:9", duration_s=1)

    with pytest.raises(RecorderError, match="not a directory"):
        run(body)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_crossfury_record_stops_cleanly_on_sigint(tmp_path):
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    sim = subprocess.Popen([sys.executable, "-m", "crossfury.cli", "sim", "--exchange", "binance-usdm", "--port",
                            str(port), "--events-per-s", "200"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=env)
    try:
        assert b"127.0.0.1" in sim.stdout.readline()  # it prints its URLs once listening
        rec = subprocess.Popen([sys.executable, "-m", "crossfury.cli", "record", "--symbols", "btcusdt,ethusdt",
                                "--out", str(tmp_path), "--endpoint", f"http://127.0.0.1:{port}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 20
        while len(list(tmp_path.glob("*.gz"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        rec.send_signal(signal.SIGINT)
        out, err = rec.communicate(timeout=20)
        assert rec.returncode == 0, err.decode()
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait(timeout=20)
    files = sorted(tmp_path.glob("*.gz"))
    assert [f.name.split("_")[0] for f in files] == ["btcusdt", "ethusdt"]
    for f in files:
        data = gzip.decompress(f.read_bytes())  # complete gzip: no truncation after a clean stop
        assert data.endswith(b"\n") and data.count(b"\n") > 50
    assert b'"lines"' in out


def test_crossfury_record_exits_1_with_a_clear_error_for_an_unusable_directory(tmp_path, capsys):
    from crossfury.cli import main

    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    assert main(["record", "--symbols", "btcusdt", "--out", str(not_a_dir), "--endpoint",
                 "http://127.0.0.1:9"]) == 1
    assert "not a directory" in capsys.readouterr().err
