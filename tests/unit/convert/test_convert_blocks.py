# SPDX-License-Identifier: MIT
"""Lines cut at block boundaries: tiny read blocks give the same events as whole-file blocks."""

import gzip
import shutil
import time

import pytest

from crossfury import convert
from crossfury.convert import _io
from crossfury.convert.synthetic import write_recording, write_tardis


@pytest.fixture
def tiny_blocks(monkeypatch):
    def use():
        # 7 and 13 bytes: every line (and the Tardis header) spans several blocks, cut at every offset.
        monkeypatch.setattr(_io, "RAW_BLOCK", 7)
        monkeypatch.setattr(_io, "PLAIN_BLOCK", 13)

    return use


@pytest.mark.parametrize("gz", [True, False])
def test_tardis_lines_across_blocks(tmp_path, tiny_blocks, gz):
    book, trades = tmp_path / "b.csv.gz", tmp_path / "t.csv.gz"
    write_tardis(book, trades, 3000, seed=5, snapshot_every=1000)
    files = [trades, book]
    if not gz:
        files = []
        for f in (trades, book):
            plain = f.with_suffix("")
            with gzip.open(f, "rb") as src, open(plain, "wb") as dst:
                shutil.copyfileobj(src, dst)
            files.append(plain)
    whole = convert.tardis(files)

    tiny_blocks()
    report = convert.Report([])
    cut = convert.tardis(files, report=report)

    assert len(whole) > 3000 and report.malformed == 0
    assert cut.tobytes() == whole.tobytes()


def test_recording_lines_across_blocks(tmp_path, tiny_blocks):
    rec = tmp_path / "r.gz"
    write_recording(rec, 2000, seed=3)
    whole = convert.recording([rec], with_bbo=True)

    tiny_blocks()
    report = convert.Report([])
    cut = convert.recording([rec], with_bbo=True, report=report)

    assert len(whole) > 2000 and report.malformed == 0
    assert cut.tobytes() == whole.tobytes()


def test_idle_work_runs_while_the_reader_is_ahead_and_blocks_are_unchanged(tmp_path, monkeypatch):
    monkeypatch.setattr(_io, "RAW_BLOCK", 64)
    f = tmp_path / "t.gz"
    text = b"".join(b"line %d of some text\n" % i for i in range(5000))
    f.write_bytes(gzip.compress(text))
    calls = []

    def idle() -> bool:  # work three times, then nothing left to do
        calls.append(1)
        return len(calls) <= 3

    blocks = _io.Blocks(f, prefetch=1, idle=idle)
    time.sleep(0.2)  # the reader fills its queue and turns to the idle work
    try:
        assert b"".join(blocks) == text
    finally:
        blocks.close()
    assert len(calls) >= 4  # called until it said there was nothing left, then again when full once more


def test_tardis_rows_are_faulted_in_ahead_of_the_parser_without_changing_them(tmp_path, monkeypatch):
    from crossfury._native import convert as native
    from crossfury.convert import _RowFaults, _text_size

    book, trades = tmp_path / "b.csv.gz", tmp_path / "t.csv.gz"
    write_tardis(book, trades, 20_000, seed=7, snapshot_every=5000)
    assert _text_size(book) == len(gzip.decompress(book.read_bytes()))
    events = native.Events()
    faults = _RowFaults(events, _text_size(book))
    assert faults() and faults.done == _RowFaults.STEP_ROWS  # the kernel can (Linux 5.14+)
    while faults():
        pass
    assert faults.done >= _RowFaults.LEAD_ROWS  # stops at the lead ahead of the (empty) rows
    assert len(events) == 0
    # The events converted with the rows faulted in ahead equal those converted without.
    got = convert.tardis([trades, book])
    monkeypatch.setattr(_RowFaults, "__call__", lambda self: False)
    plain = convert.tardis([trades, book])
    assert got.tobytes() == plain.tobytes()


def test_tardis_converts_when_the_room_for_its_rows_is_refused(tmp_path, monkeypatch):
    from crossfury import convert as c

    book, trades = tmp_path / "b.csv.gz", tmp_path / "t.csv.gz"
    write_tardis(book, trades, 5000, seed=3, snapshot_every=2000)
    expected = convert.tardis([trades, book])

    # Room for 2^40 rows (44 TB of address space): the system refuses, the rows grow as they come.
    monkeypatch.setattr(c._RowFaults, "MAX_ROOM_ROWS", 1 << 40)
    monkeypatch.setattr(c, "_text_size", lambda path: 30 << 40)
    assert convert.tardis([trades, book]).tobytes() == expected.tobytes()
