# SPDX-License-Identifier: MIT
import gzip
import json
from pathlib import Path

import pytest

from crossfury.cli import main
from crossfury.recorder.synthetic import write_synthetic_recording
from crossfury.replay import replay

# (files, symbol, bookTicker checks): every recording with a snapshot, each day pair continuing one book.
RECORDINGS = [
    (["usdm/btcusdt_20230404.dat.gz", "usdm/btcusdt_20230405.dat.gz"], "BTCUSDT", 1565),
    (["usdm/btcusdt_20240718.gz", "usdm/btcusdt_20240719.gz"], "BTCUSDT", 625),
    (["spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz"], "BTCUSDT", 1072),
    (["cm/btcusd_perp_20240808.gz", "cm/btcusd_perp_20240809.gz"], "BTCUSD_PERP", 1885),
]


@pytest.mark.parametrize("files,symbol,checks", RECORDINGS, ids=lambda v: v[0] if isinstance(v, list) else None)
def test_replay_real_recordings_have_no_gap_and_match_every_book_ticker(shared_data, files, symbol, checks):
    result = replay([shared_data / "hftbacktest" / f for f in files])

    r = result[symbol]
    assert r["state"] == "synced"
    assert r["gaps"] == 0 and r["resyncs"] == 0
    assert r["bbo_checks"] == checks
    assert r["bbo_mismatches"] == 0
    assert r["applied"] > 1000
    assert r["best_bid"][0] < r["best_ask"][0]


def test_replay_recording_without_snapshot_never_syncs(shared_data):
    r = replay([shared_data / "hftbacktest/spot/btcusdt_20230405.dat.gz"])["BTCUSDT"]

    assert r["state"] == "waiting"
    assert r["applied"] == 0
    assert r["best_bid"] is None and r["best_ask"] is None


def _rewrite(src: Path, dst: Path, edit) -> Path:
    with gzip.open(src, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    with gzip.open(dst, "wb") as f:
        f.writelines(edit(lines))
    return dst


def test_replay_removed_depth_line_reports_gap_and_no_valid_top(shared_data, tmp_path):
    src = shared_data / "hftbacktest/usdm/btcusdt_20240718.gz"

    def drop_one_depth_after_sync(lines):
        depth = [i for i, line in enumerate(lines) if b"@depth" in line[:80]]
        victim = depth[len(depth) // 2]
        return lines[:victim] + lines[victim + 1:]

    r = replay([_rewrite(src, tmp_path / "btcusdt_20240718.gz", drop_one_depth_after_sync)])["BTCUSDT"]

    assert r["gaps"] == 1
    assert r["resyncs"] == 1
    assert r["state"] == "resyncing"
    assert r["best_bid"] is None and r["best_ask"] is None
    assert r["bbo_mismatches"] == 0


def test_replay_malformed_lines_are_counted_and_skipped(shared_data, tmp_path):
    src = shared_data / "hftbacktest/usdm/btcusdt_20240718.gz"

    def damage(lines):
        depth = [i for i, line in enumerate(lines) if b"@depth" in line[:80]]
        i = depth[len(depth) // 2]
        truncated = lines[i][: len(lines[i]) // 2] + b"\n"  # the same depth message cut in half
        junk = b"1721347100000000000 \x00\xff\xfe binary junk\n"
        return lines[:i] + [truncated, junk, b"not even a timestamp\n"] + lines[i:]

    clean = replay([src])["BTCUSDT"]
    r = replay([_rewrite(src, tmp_path / "btcusdt_20240718.gz", damage)])["BTCUSDT"]

    assert r["malformed"] == 1  # the truncated depth message; the junk lines name no symbol
    assert r["gaps"] == 0 and r["state"] == "synced"
    assert r["applied"] == clean["applied"]
    assert r["best_bid"] == clean["best_bid"] and r["best_ask"] == clean["best_ask"]


def test_replay_truncated_gzip_reads_complete_lines(shared_data, tmp_path):
    src = shared_data / "hftbacktest/usdm/btcusdt_20240718.gz"
    data = src.read_bytes()
    cut = tmp_path / "btcusdt_20240718.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])

    from crossfury.replay import Replay

    run = Replay()
    r = run.run([cut])["BTCUSDT"].as_dict()

    assert run.reader.truncated == [str(cut)]
    assert r["applied"] > 100 and r["gaps"] == 0 and r["bbo_mismatches"] == 0


@pytest.mark.parametrize("futures", [True, False], ids=["prev-id", "range"])
def test_replay_synthetic_recording_syncs_and_matches(tmp_path, futures):
    path = write_synthetic_recording(tmp_path / "x_20240101.gz", events=600, futures=futures, seed=3)

    r = replay([path])["BTCUSDT"]

    assert r["state"] == "synced" and r["gaps"] == 0
    assert r["bbo_checks"] >= 590 and r["bbo_mismatches"] == 0


def test_replay_microsecond_timestamps_are_read(tmp_path):
    src = write_synthetic_recording(tmp_path / "ns.gz", events=50)
    us = _rewrite(src, tmp_path / "us.gz",
                  lambda lines: [line.split(b" ", 1)[0][:-3] + b" " + line.split(b" ", 1)[1] for line in lines])

    assert replay([us]) == replay([src])


def test_cli_replay_json_keys(tmp_path, capsys):
    path = write_synthetic_recording(tmp_path / "btcusdt_20240101.gz", events=100)

    assert main(["replay", "--json", str(path)]) == 0

    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"BTCUSDT"}
    assert {"lines", "applied", "stale", "gaps", "resyncs", "bbo_checks", "bbo_mismatches", "best_bid", "best_ask",
            "state"} <= set(out["BTCUSDT"])


def test_cli_replay_without_files_uses_builtin_recording(capsys):
    assert main(["replay"]) == 0

    out = capsys.readouterr().out
    assert "BTCUSDT" in out and "synced" in out


def test_cli_replay_missing_file_is_an_error(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "nope.gz")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert "crossfury" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["replay", "--help"])
    assert "--json" in capsys.readouterr().out
