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


@pytest.mark.parametrize("stamp", ["9223372036854776", "9999999999999999", "922337203685477600"])
def test_tardis_times_past_int64_nanoseconds_are_refused_not_wrapped(tmp_path, stamp):
    # 16 digits of us reach past 2262-04-11, the last ns an int64 holds: such a row is malformed, whichever
    # column and whichever reader (the usual row's or field by field) meets it.
    f = tmp_path / "book.csv"
    f.write_text("exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
                 "binance,BTCUSDT,1720137600123000,1720137600125000,false,bid,100.5,1\n"
                 f"binance,BTCUSDT,{stamp},1720137600125000,false,bid,100.5,2\n"
                 f"binance,BTCUSDT,1720137600123000,{stamp},false,bid,100.5,3\n"
                 "binance,BTCUSDT,9223372036854775,9223372036854775,false,ask,101.5,4\n")
    report = convert.Report([])

    data = convert.tardis([f], report=report)

    assert report.malformed == 2
    assert [p.split(": ", 1)[0] for p in report.problems] == [f"{f}:3", f"{f}:4"]
    assert sorted(data["qty"].tolist()) == [1.0, 4.0]
    assert data["exch_ts"].max() == 9223372036854775 * 1000  # the last one that fits is kept


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


def _variant_rows(kind: int, rng) -> tuple[bytes, list]:
    """Rows mixing the usual form (read straight through) with every other form the parser takes (read
    field by field), and what each must give: (ev, exch_ts, local_ts, px, qty), "skip" for a snapshot row
    (snapshot mode "ignore"), or None for a row refused."""
    from crossfury._native import convert as native

    book = kind == native.BOOK
    prefixes = ["binance-futures,BTCUSDT,", "binance-futures,BTCUSDT,", "bitmex,XBTUSD,", '"okex",BTC-USDT,',
                "binance-futures,BTCUSDTX,", "b,S,"]
    numbers = ["75065.5", "0.205", "7", "0", "-0", "-1.5", "1e-3", "0.00000001", "123456789.12345678",
               "1234567.5", '"7541.8"', "+2.5", "12345678901234567890.5", "abc", ""]
    sides = ["bid", "ask", "buy", "sell", "middle"] if book else ["buy", "sell", "unknown", ""]
    flags = ["false", "false", "true", "False", "TRUE", "", "yes"]
    side_bits = {"bid": 1 << 29, "buy": 1 << 29, "ask": 1 << 28, "sell": 1 << 28}
    lines, expected = [], []
    for _ in range(4000):
        exch_us = int(rng.integers(1, 9 * 10**15)) if rng.random() < 0.2 else 1575158400000000 + int(rng.integers(10**9))
        local_us = exch_us + int(rng.integers(0, 10**6))
        px, qty = rng.choice(numbers, p=None if rng.random() < 0.3 else [0.5] + [0.5 / 14] * 14, size=2)
        side = sides[int(rng.integers(len(sides)))] if rng.random() < 0.3 else sides[int(rng.integers(2))]
        flag = flags[int(rng.integers(len(flags)))] if rng.random() < 0.2 else "false"
        trade_id = "".join(map(str, rng.integers(0, 10, size=int(rng.integers(1, 40))))) if rng.random() < 0.9 else "t-1"
        middle = flag if book else trade_id
        prefix = prefixes[int(rng.integers(len(prefixes)))] if rng.random() < 0.1 else prefixes[0]
        end = "\r\n" if rng.random() < 0.05 else "\n"
        lines.append(f"{prefix}{exch_us},{local_us},{middle},{side},{px},{qty}{end}")

        def number(text):
            try:
                return float(text.strip('"')) if text.strip('"') and "_" not in text else None
            except ValueError:
                return None

        ok = (number(px) is not None and number(qty) is not None and len(str(exch_us)) <= 16
              and len(str(local_us)) <= 16)
        if book:
            ok = ok and side in side_bits and flag in ("false", "False", "true", "TRUE", "")
            if ok and flag in ("true", "TRUE"):
                expected.append("skip")
                continue
        expected.append((side_bits.get(side, 0) | (1 if book else 2), exch_us * 1000, local_us * 1000,
                         number(px), number(qty)) if ok else None)
    return "".join(lines).encode(), expected


@pytest.mark.parametrize("kind_name", ["BOOK", "TRADES"])
def test_tardis_rows_read_straight_through_equal_field_by_field(kind_name):
    # The usual row is read straight through (csrc/convert/tardis.c fast_row), any other form field by field:
    # the values, refusals and line numbers must not depend on which path read a row, nor on block ends.
    from crossfury._native import convert as native

    kind = getattr(native, kind_name)
    rng = np.random.default_rng(11)
    text, expected = _variant_rows(kind, rng)
    events = native.Events()
    parser = native.TardisParser(events, kind, native.SNAPSHOT_MODES["ignore"])
    bad, tail, pos = [], b"", 0
    while pos < len(text):
        step = int(rng.integers(1, 3000))
        block = tail + text[pos:pos + step]
        pos += step
        tail = block[parser.feed(block, bad):]
    assert tail == b""

    rows = events.array()
    want = [e for e in expected if e not in (None, "skip")]
    assert [line for line, _ in bad] == [i + 2 for i, e in enumerate(expected) if e is None]  # header: line 1
    assert len(rows) == len(want) > 2500
    assert rows["ev"].tolist() == [e[0] for e in want]
    assert rows["exch_ts"].tolist() == [e[1] for e in want]
    assert rows["local_ts"].tolist() == [e[2] for e in want]
    assert rows["px"].tobytes() == np.array([e[3] for e in want]).tobytes()  # bit for bit: -0.0 too
    assert rows["qty"].tobytes() == np.array([e[4] for e in want]).tobytes()


@pytest.mark.parametrize("base_latency", [0, 1000])
def test_tardis_local_offset_taken_while_reading_equals_a_pass_over_the_rows(generated, base_latency):
    # The rows' smallest latency is taken as they are read (crossfury._native.convert.Events.added); it must
    # give the offset of a pass over all the rows (hftbacktest's correct_local_timestamp).
    from crossfury.convert import Report, _read_tardis

    book, trades = generated
    events = _read_tardis([trades, book], "process", False, None, Report([]))
    taken = events.local_offset(base_latency)
    rows = events.array()
    latency = rows["local_ts"] - rows["exch_ts"]
    events.shift_local(0)  # the smallest latency taken while reading is dropped: a pass over the rows measures it

    assert latency.min() < 0
    assert taken == events.local_offset(base_latency) == base_latency - int(latency.min())
