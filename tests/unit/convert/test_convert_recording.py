# SPDX-License-Identifier: MIT
"""Recordings -> events: field-for-field equal to hftbacktest 2.4.4's binancefutures.convert, and the cases
where it crashes or is wrong (µs timestamps, spot, acks, raw streams, truncated files, sync mode)."""

import gzip
import json

import numpy as np
import pytest
from convert_testing import same_events

from crossfury import convert
from crossfury.convert.synthetic import write_recording
from crossfury.core.errors import ConvertError
from crossfury.events.hbt import DEPTH_CLEAR_EVENT, DEPTH_EVENT, DEPTH_SNAPSHOT_EVENT, TRADE_EVENT

REAL = ["cm/btcusd_perp_20240808.gz", "cm/btcusd_perp_20240809.gz", "usdm/btcusdt_20240718.gz",
        "usdm/btcusdt_20240719.gz"]


def kind(data):
    return data["ev"] & 0xFF


@pytest.mark.parametrize("opt", ["", "mt"])
@pytest.mark.parametrize("name", REAL)
def test_recording_real_files_equal_hftbacktest(shared_data, hbt, name, opt):
    path = shared_data / "hftbacktest" / name

    theirs = hbt.binancefutures.convert(str(path), opt=opt, buffer_size=2_000_000)
    ours = convert.recording(path, with_bbo="t" in opt, with_mark_price="m" in opt)

    assert same_events(ours, theirs)


def _rewrite(src, dst, line_map):
    with gzip.open(src, "rb") as f, gzip.open(dst, "wb") as g:
        for line in f:
            out = line_map(line)
            if out is not None:
                g.write(out)


def test_recording_microsecond_file_equals_hftbacktest_on_its_nanosecond_copy(shared_data, hbt, tmp_path):
    # hftbacktest reads the receive time as the first 19 bytes, so µs files crash it; converted to ns they
    # are the same data. This file has markPrice: T there is the next funding time (kept in compat mode).
    src = shared_data / "hftbacktest/usdm/btcusdt_20230404.dat.gz"
    ns = tmp_path / "ns.gz"
    _rewrite(src, ns, lambda line: b"%d%s" % (int(line[:16]) * 1000, line[16:]))

    theirs = hbt.binancefutures.convert(str(ns), opt="mt", buffer_size=1_000_000)
    ours = convert.recording(src, with_bbo=True, with_mark_price=True)

    assert same_events(ours, theirs)


def test_recording_raw_streams_equal_hftbacktest_uncombined(shared_data, hbt, tmp_path):
    # Raw (non-combined) streams: hftbacktest needs combined_stream=False and crashes on snapshot lines there.
    raw = tmp_path / "raw.gz"

    def unwrap(line):
        ts, _, body = line.partition(b" ")
        msg = json.loads(body)
        if "data" not in msg:
            return None
        return ts + b" " + json.dumps(msg["data"], separators=(",", ":")).encode() + b"\n"

    _rewrite(shared_data / "hftbacktest/usdm/btcusdt_20240718.gz", raw, unwrap)

    theirs = hbt.binancefutures.convert(str(raw), opt="t", combined_stream=False, buffer_size=1_000_000)
    ours = convert.recording(raw, with_bbo=True)

    assert same_events(ours, theirs)


def test_recording_synthetic_with_error_body_equals_hftbacktest(hbt, tmp_path):
    path = tmp_path / "syn.gz"
    write_recording(path, 4000, seed=3, acks=False)
    with gzip.open(path, "rb") as f:
        lines = f.readlines()
    lines.insert(20, b'1721347200099999999 {"code":-1003,"msg":"Too many requests"}\n')
    with gzip.open(path, "wb") as f:
        f.writelines(lines)

    theirs = hbt.binancefutures.convert(str(path), opt="mt", buffer_size=1_000_000)
    report = convert.Report([])
    ours = convert.recording(path, with_bbo=True, with_mark_price=True, report=report)

    assert same_events(ours, theirs)
    assert report.counts["errors"] == 1
    assert report.counts["not_market"] > 0  # INSURANCE_FUND trades skipped, as there


def test_recording_skips_acks_and_counts_them(tmp_path):
    path = tmp_path / "acks.gz"
    write_recording(path, 500, seed=4, acks=True)
    report = convert.Report([])

    data = convert.recording(path, report=report)

    assert report.counts["acks"] == 1 and report.counts["errors"] == 1
    assert report.malformed == 0 and len(data) > 0


def test_recording_spot_converts_with_event_time(shared_data):
    report = convert.Report([])

    data = convert.recording(shared_data / "hftbacktest/spot/btcusdt_20240808.gz", with_bbo=True, report=report)

    assert report.counts["trades"] == 9757 and report.counts["snapshots"] == 1 and report.malformed == 0
    depth = data[kind(data) == DEPTH_EVENT]
    assert len(depth) and (depth["exch_ts"] > 1_723_000_000_000_000_000).all()  # E in ns, not 0
    convert.validate_event_order(data)


def test_recording_truncated_gzip_converts_up_to_last_complete_line(shared_data, tmp_path):
    src = shared_data / "hftbacktest/usdm/btcusdt_20240718.gz"
    blob = src.read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(blob[: len(blob) // 2])
    report = convert.Report([])

    data = convert.recording(cut, report=report)

    assert report.truncated == [str(cut)]
    whole_lines = report.counts["lines"]
    prefix = tmp_path / "prefix.gz"
    with gzip.open(src, "rb") as f:
        lines = [next(f) for _ in range(whole_lines)]
    with gzip.open(prefix, "wb") as f:
        f.writelines(lines)
    assert same_events(data, convert.recording(prefix))


def test_recording_malformed_line_reported_with_line_number_and_strict_fails(tmp_path):
    path = tmp_path / "bad.gz"
    write_recording(path, 300, seed=5, acks=False)
    with gzip.open(path, "rb") as f:
        lines = f.readlines()
    lines[9] = lines[9][:-40] + b"\n"  # a message cut short
    lines[12] = b"not a timestamp\n"
    with gzip.open(path, "wb") as f:
        f.writelines(lines)
    report = convert.Report([])

    convert.recording(path, report=report)

    assert report.malformed == 2
    assert report.problems[0].startswith(f"{path}:10: ") and report.problems[1].startswith(f"{path}:13: ")
    with pytest.raises(ConvertError, match=":10: "):
        convert.recording(path, strict=True)


def test_recording_sync_mode_clears_on_gap_and_resnapshots(tmp_path):
    path = tmp_path / "gap.gz"
    write_recording(path, 3000, seed=6, gap_at=200, snapshot_at=10)
    report = convert.Report([])

    data = convert.recording(path, sync=True, report=report)

    c = report.counts
    assert c["gaps"] == 1 and c["snapshots"] == 2 and c["state"] == "synced"
    full_clears = data[(kind(data) == DEPTH_CLEAR_EVENT) & (data["ev"] & (3 << 28) == 0)]
    assert ((full_clears["ev"] >> 31) & 1).sum() == 1 and ((full_clears["ev"] >> 30) & 1).sum() == 1
    compat = convert.recording(path)
    assert len(data[kind(data) == DEPTH_EVENT]) < len(compat[kind(compat) == DEPTH_EVENT])


def test_recording_sync_mode_drops_updates_before_the_snapshot(shared_data):
    path = shared_data / "hftbacktest/usdm/btcusdt_20240718.gz"
    report = convert.Report([])

    data = convert.recording(path, sync=True, report=report)

    c = report.counts
    assert c["gaps"] == 0 and c["state"] == "synced" and c["stale"] >= 1
    snap = data[kind(data) == DEPTH_SNAPSHOT_EVENT]
    first_snapshot_local = snap["local_ts"].min()
    depth = data[(kind(data) == DEPTH_EVENT) & (data["ev"] & (1 << 30) != 0)]
    assert depth["local_ts"].min() >= first_snapshot_local


def test_recording_agg_trades_only_when_asked(tmp_path):
    path = tmp_path / "agg.gz"
    with gzip.open(path, "wt") as f:
        for i in range(3):
            f.write(f'{1721347200000000000 + i} {{"stream":"btcusdt@aggTrade","data":{{"e":"aggTrade","E":1721347200001,'
                    f'"a":{i},"s":"BTCUSDT","p":"65000.1","q":"0.010","f":1,"l":2,"T":1721347200000,"m":true}}}}\n')

    assert len(convert.recording(path)) == 0  # as hftbacktest: aggTrade is not read
    data = convert.recording(path, agg_trades=True)
    assert len(data) == 3 and (kind(data) == TRADE_EVENT).all()  # exch_ts == local_ts: one row, both flags
    assert (data["ev"] >> 30 == 3).all()
    assert np.array_equal(np.unique(data["px"]), [65000.1])


def test_recording_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConvertError, match="no such file"):
        convert.recording(tmp_path / "nope.gz")


def test_recording_of_several_symbols_is_converted_together_and_counted(tmp_path, caplog):
    # A backtest asset is one symbol: mixing symbols in one conversion is almost always a mistake, so it
    # is counted and warned about (the events are still those hftbacktest would build).
    btc, eth = tmp_path / "btc.gz", tmp_path / "eth.gz"
    write_recording(btc, 300, seed=5, acks=False)
    with gzip.open(btc, "rb") as f, gzip.open(eth, "wb") as g:
        for line in f:
            g.write(line.replace(b"BTCUSDT", b"ETHUSDT").replace(b"btcusdt", b"ethusdt"))
    report = convert.Report([])

    one = convert.recording([btc], report=report)
    assert report.counts["symbol"] == "BTCUSDT" and report.counts["other_symbols"] == 0

    report = convert.Report([])
    with caplog.at_level("WARNING", logger="crossfury.convert"):
        both = convert.recording([btc, eth], report=report)
    assert report.counts["other_symbols"] > 0
    assert len(both) > len(one)
    assert any("more than one symbol" in r.getMessage() for r in caplog.records)
