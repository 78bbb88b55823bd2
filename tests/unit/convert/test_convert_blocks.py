# SPDX-License-Identifier: MIT
"""Lines cut at block boundaries: tiny read blocks give the same events as whole-file blocks."""

import gzip
import shutil

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
