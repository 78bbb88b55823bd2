# SPDX-License-Identifier: MIT
"""Tardis CSV -> events: field-for-field equal to hftbacktest 2.4.4's tardis.convert, and the documented
differences (later snapshots of any size, headers not paths, trades first, bad input)."""

import gzip
import shutil
import zlib

import numpy as np
import pytest
from convert_testing import same_events

from crossfury import convert
from crossfury.convert.synthetic import write_tardis
from crossfury.core.errors import ConvertError
from crossfury.events.hbt import DEPTH_SNAPSHOT_EVENT, EXCH_EVENT

LAB = "microstructure_alpha_execution_lab/tardis_binance_BTCUSDT_{}_2019-12-01_rows_1_{}.csv.gz"


def samples(shared_data):
    return {
        "binance": [shared_data / LAB.format("trades", 50), shared_data / LAB.format("incremental_book_L2", 2010)],
        "bitmex_trades": [shared_data / "nautilus_trader/tardis/bitmex_trades_XBTUSD.csv.gz"],
        "deribit_snapshot_only": [shared_data / "nautilus_trader/tardis/deribit_incremental_book_L2_BTC-PERPETUAL.csv.gz"],
    }


@pytest.mark.parametrize("mode", ["process", "ignore_sod", "ignore"])
@pytest.mark.parametrize("sample", ["binance", "bitmex_trades", "deribit_snapshot_only"])
def test_tardis_samples_equal_hftbacktest(shared_data, hbt, sample, mode):
    files = samples(shared_data)[sample]

    theirs = hbt.tardis.convert([str(f) for f in files], buffer_size=100_000, snapshot_mode=mode)
    ours = convert.tardis(files, snapshot_mode=mode)

    assert same_events(ours, theirs)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A book with a start-of-day snapshot, shrinking later snapshots, deletes, equal timestamps, negative
    latencies, and a trades file with unknown sides."""
    d = tmp_path_factory.mktemp("tardis")
    book, trades = d / "book.csv.gz", d / "trades.csv.gz"
    write_tardis(book, trades, 30_000, seed=7, snapshot_every=4000, negative_latency_every=40)
    return book, trades


@pytest.mark.parametrize("mode,base_latency", [("process", 0), ("process", 1000), ("ignore_sod", 0)])
def test_tardis_generated_equal_hftbacktest(hbt, generated, mode, base_latency):
    book, trades = generated

    theirs = hbt.tardis.convert([str(trades), str(book)], buffer_size=200_000, snapshot_mode=mode,
                                base_latency=base_latency)
    ours = convert.tardis([trades, book], snapshot_mode=mode, base_latency=base_latency)

    assert same_events(ours, theirs)


def test_tardis_trades_first_whatever_the_order_given(hbt, generated):
    book, trades = generated

    theirs = hbt.tardis.convert([str(trades), str(book)], buffer_size=200_000)
    ours = convert.tardis([book, trades])  # hftbacktest would put depth first at equal timestamps

    assert same_events(ours, theirs)


def test_tardis_growing_snapshots_are_kept_whole(hbt, tmp_path):
    # hftbacktest truncates every snapshot to the size of the smallest one before it (it re-slices its buffer).
    book = tmp_path / "grow.csv.gz"
    write_tardis(book, None, 8000, seed=8, snapshot_levels=10, snapshot_every=1500, growing_snapshots=True)
    with gzip.open(book, "rt") as f:
        rows = [line.split(",") for line in f][1:]
    snapshot_rows_followed = 0
    seen_update = False
    for row in reversed(rows):  # snapshot rows with an update row after them
        if row[4] == "false":
            seen_update = True
        elif seen_update:
            snapshot_rows_followed += 1

    theirs = hbt.tardis.convert([str(book)], buffer_size=100_000)
    ours = convert.tardis([book])

    def snapshot_rows(data):
        return ((data["ev"] & 0xFF) == DEPTH_SNAPSHOT_EVENT) & (data["ev"] & EXCH_EVENT != 0)

    assert snapshot_rows(ours).sum() == snapshot_rows_followed
    assert snapshot_rows(theirs).sum() < snapshot_rows_followed


def test_tardis_kind_from_header_not_path(generated, tmp_path):
    book, trades = generated
    misnamed_book = tmp_path / "trades_really_a_book.csv.gz"
    plain_trades = tmp_path / "something.csv"
    shutil.copy(book, misnamed_book)
    plain_trades.write_bytes(gzip.decompress(trades.read_bytes()))

    ours = convert.tardis([misnamed_book, plain_trades])

    assert same_events(ours, convert.tardis([trades, book]))


def test_tardis_unknown_header_fails_before_any_work(generated, tmp_path):
    _, trades = generated
    bad = tmp_path / "bad.csv"
    bad.write_text("exchange,symbol,timestamp,local_timestamp,price\nx,y,1,2,3\n")
    out = tmp_path / "out.npz"

    with pytest.raises(ConvertError, match="unknown header"):
        convert.convert_tardis([trades, bad], out)
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_tardis_book_ticker_is_refused_clearly(tmp_path):
    f = tmp_path / "bt.csv"
    f.write_text("exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\n")

    with pytest.raises(ConvertError, match="book_ticker"):
        convert.tardis([f])


def test_tardis_malformed_rows_reported_with_file_and_line(tmp_path):
    f = tmp_path / "book.csv"
    f.write_text("exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
                 "binance,BTCUSDT,1000,2000,false,bid,100.5,1\n"
                 "binance,BTCUSDT,1000,2000,false,bid,abc,1\n"
                 "binance,BTCUSDT,1000\n"
                 "binance,BTCUSDT,1001,2001,false,middle,100.5,1\n"
                 "binance,BTCUSDT,1002,2002,false,ask,101.5,0\n")
    report = convert.Report([])

    data = convert.tardis([f], report=report)

    assert report.malformed == 3
    assert [p.split(": ", 1)[0] for p in report.problems] == [f"{f}:3", f"{f}:4", f"{f}:5"]
    assert "price" in report.problems[0] and "columns" in report.problems[1] and "side" in report.problems[2]
    assert sorted(data["px"].tolist()) == [100.5, 101.5]
    with pytest.raises(ConvertError, match=":3: bad price"):
        convert.tardis([f], strict=True)


def test_tardis_truncated_gzip_converts_up_to_last_complete_line(generated, tmp_path):
    book, _ = generated
    blob = book.read_bytes()
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(blob[: len(blob) * 2 // 3])
    report = convert.Report([])

    data = convert.tardis([cut], report=report)

    assert report.truncated == [str(cut)] and report.malformed == 0
    assert len(data) > 0
    got = zlib.decompressobj(31).decompress(cut.read_bytes())  # all that inflates
    prefix = tmp_path / "prefix.csv"
    prefix.write_bytes(got[: got.rfind(b"\n") + 1])
    assert gzip.decompress(blob).startswith(prefix.read_bytes())
    assert same_events(data, convert.tardis([prefix]))


def test_tardis_numbers_parse_like_python_float():
    from crossfury._native.convert import parse_number

    for text in ["0.1", "7541.60", "-0.0", "0", "1e-5", "12345678901234567890.5", "3.14159265358979323846",
                 "0.00000001", "+2.5", "1E3"]:
        assert parse_number(text.encode()) == float(text)
        assert np.signbit(parse_number(text.encode())) == np.signbit(float(text))
    for junk in ["", "abc", "1.2.3", "0x10", " 1", "1 "]:
        assert parse_number(junk.encode()) is None
