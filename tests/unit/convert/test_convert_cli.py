# SPDX-License-Identifier: MIT
"""``crossfury convert`` and ``crossfury stats`` through the crossfury command line (crossfury.cli.main)."""

import gzip
import json

import pytest

from crossfury import convert
from crossfury.cli import main
from crossfury.convert.synthetic import write_recording, write_tardis


def run(argv):
    return main(argv)


def test_cli_convert_tardis_writes_the_npz_and_reports(tmp_path, capsys):
    book, trades = tmp_path / "b.csv.gz", tmp_path / "t.csv.gz"
    write_tardis(book, trades, 3000, seed=21, snapshot_every=1000)
    out = tmp_path / "out.npz"

    rc = run(["convert", "tardis", str(book), str(trades), "-o", str(out), "--json", "--quiet"])

    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["out_rows"] == len(convert.load_npz(out)) > 0
    assert list(report["kinds"].values()) == ["trades", "incremental_book_L2"]


def test_cli_convert_tardis_bad_header_exits_1_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "x.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    out = tmp_path / "out.npz"

    rc = run(["convert", "tardis", str(bad), "-o", str(out)])

    assert rc == 1 and "unknown header" in capsys.readouterr().err
    assert not out.exists()


def test_cli_convert_recording_strict_stops_on_a_malformed_line(tmp_path, capsys):
    rec = tmp_path / "r.gz"
    write_recording(rec, 200, seed=22)
    with gzip.open(rec, "ab") as f:
        f.write(b"garbage\n")
    out = tmp_path / "out.npz"

    assert run(["convert", "recording", str(rec), "-o", str(out), "--quiet"]) == 0
    assert "malformed" in capsys.readouterr().err
    assert run(["convert", "recording", str(rec), "-o", str(tmp_path / "strict.npz"), "--strict"]) == 1
    assert f"{rec}:" in capsys.readouterr().err and not (tmp_path / "strict.npz").exists()


def test_cli_recording_to_tardis_round_trips_through_the_tardis_converter(tmp_path, capsys):
    rec = tmp_path / "btcusdt_20240719.gz"
    write_recording(rec, 2000, seed=23)

    assert run(["convert", "recording", str(rec), "--to-tardis", str(tmp_path / "csv")]) == 0

    files = sorted((tmp_path / "csv").iterdir())
    assert [f.name.split("_", 3)[-1] for f in files] == ["incremental_book_L2.csv.gz", "trades.csv.gz"]
    exch = lambda d: d[d["ev"] & (1 << 31) != 0]
    via_tardis = exch(convert.tardis(files))
    direct = exch(convert.recording(rec))
    kinds = lambda d: sorted((d["ev"] & 0xFF).tolist())
    assert kinds(via_tardis) == kinds(direct)  # same events; times rounded to µs
    assert sorted(via_tardis["px"].tolist()) == sorted(direct["px"].tolist())


def test_cli_stats_prints_counts_and_book_check(tmp_path, capsys):
    rec = tmp_path / "r.gz"
    write_recording(rec, 2000, seed=24, gap_at=60)
    out = tmp_path / "r.npz"
    convert.convert_recording([rec], out, sync=True)

    rc = run(["stats", str(out), "--json"])

    result = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert result["events_by_kind"]["depth"] > 0 and result["events_by_kind"]["depth_clear"] == 5
    assert result["book"]["crossed"] == 0 and result["book"]["refused"] == 0 and result["book"]["clears"] == 5
    assert set(result["latency_us"]) == {"p0", "p1", "p50", "p90", "p99", "p99.9", "p100"}


def test_cli_stats_unreadable_file_exits_1(tmp_path, capsys):
    bad = tmp_path / "x.npz"
    bad.write_bytes(b"nope")

    assert run(["stats", str(bad)]) == 1
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["convert", "recording", "f.gz"]])
def test_cli_recording_needs_an_output(argv, tmp_path, capsys):
    rec = tmp_path / "f.gz"
    write_recording(rec, 10, seed=25)
    assert run(["convert", "recording", str(rec)]) == 2
