# SPDX-License-Identifier: MIT
"""The .npz writer: loadable by numpy, member data.npy with the data 64-byte aligned, atomic."""

import zipfile

import numpy as np
import pytest

from crossfury import convert
from crossfury.convert._io import NpzWriter
from crossfury.convert.synthetic import write_recording
from crossfury.events.hbt import EVENT_DTYPE


def sample(n=1000):
    data = np.zeros(n, dtype=EVENT_DTYPE)
    data["exch_ts"] = np.arange(n)
    data["px"] = np.linspace(1, 2, n)
    return data


@pytest.mark.parametrize("compress", ["none", "fast", "zlib"])
def test_npz_round_trips_through_numpy(tmp_path, compress):
    data = sample(200_000)
    path = tmp_path / "x.npz"

    convert.write_npz(path, data, compress=compress)

    with zipfile.ZipFile(path) as z:
        assert z.namelist() == ["data.npy"]
        assert z.testzip() is None
    loaded = convert.load_npz(path)
    assert loaded.dtype == EVENT_DTYPE and loaded.tobytes() == data.tobytes()


def test_npz_stored_member_data_is_64_byte_aligned(tmp_path):
    path = tmp_path / "x.npz"
    convert.write_npz(path, sample(), compress="none")

    with zipfile.ZipFile(path) as z:
        info = z.getinfo("data.npy")
        with z.open(info) as f:
            version = np.lib.format.read_magic(f)
            np.lib.format._read_array_header(f, version)
            npy_header_len = f.tell()
    raw = path.read_bytes()
    name_len, extra_len = np.frombuffer(raw[26:30], "<u2")
    member_start = 30 + name_len + extra_len
    assert member_start % 64 == 0 and npy_header_len % 64 == 0
    assert raw[member_start + npy_header_len:member_start + npy_header_len + 64 * 1000] == sample().tobytes()


def test_npz_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "x.npz"
    w = NpzWriter(path, 10, "fast")
    w.write(sample(5))

    with pytest.raises(ValueError, match="expected"):
        w.close()  # 5 rows written, 10 announced
    assert list(tmp_path.iterdir()) == []


def test_convert_recording_streams_the_same_events_into_the_npz(tmp_path):
    rec = tmp_path / "r.gz"
    write_recording(rec, 3000, seed=9)
    out = tmp_path / "out.npz"

    report = convert.convert_recording([rec], out, with_bbo=True)

    loaded = convert.load_npz(out)
    assert report.out_rows == len(loaded)
    assert loaded.tobytes() == convert.recording([rec], with_bbo=True).tobytes()
