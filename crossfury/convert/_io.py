# SPDX-License-Identifier: MIT
"""Input blocks (gzip inflated in a background thread) and the .npz writer (streamed, then renamed)."""

from __future__ import annotations

import logging
import os
import queue
import struct
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from crossfury.events.hbt import EVENT_DTYPE

try:  # ISA-L deflates event rows at level 1 about 6x faster than zlib here (777 vs 131 MB/s), and inflates faster
    from isal import isal_zlib as _zlib

    INFLATE = "isal"
except ImportError:  # pragma: no cover - isal is a dependency; zlib is the fallback
    _zlib = zlib
    INFLATE = "zlib"

log = logging.getLogger(__name__)

RAW_BLOCK = 1 << 17  # compressed bytes per read: about 1 MB of text out, read while still in cache (Tardis
# 5.4M rows: 0.33 -> 0.31 s to read, against 256 kB; 64 kB: 0.34)
PLAIN_BLOCK = 8 << 20
DEFLATE_THREADS = 2  # npz output: ISA-L level 1 deflates about 0.8 GB/s per core here
_GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str | Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


class Blocks:
    """The bytes of a plain or gzip file (told by its magic bytes), as blocks, read ahead in a thread.

    A truncated or damaged gzip file yields everything inflated before the damage and sets ``truncated``
    (with ``error``); the caller drops the last, incomplete line. Concatenated gzip members are read on.
    ``read_bytes`` counts the file bytes consumed, for progress.
    """

    def __init__(self, path: str | Path, prefetch: int = 3, idle: Callable[[], bool] | None = None):
        """``idle`` is called in the reading thread while the reader is ahead (its queue full), until it
        returns False: the place for work that would otherwise wait."""
        self.path = Path(path)
        self._idle = idle
        self.truncated = False
        self.error = ""
        self.read_bytes = 0
        self._q: queue.Queue = queue.Queue(maxsize=prefetch)
        self._stop = False
        self._thread = threading.Thread(target=self._produce, name="crossfury-inflate", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            with open(self.path, "rb") as f:
                if f.read(2) == _GZIP_MAGIC:
                    f.seek(0)
                    self._inflate(f)
                else:
                    f.seek(0)
                    while not self._stop:
                        block = f.read(PLAIN_BLOCK)
                        if not block:
                            break
                        self.read_bytes += len(block)
                        self._put(block)
        except (zlib.error, _zlib.error, OSError) as exc:
            self.truncated = True
            self.error = str(exc)
        finally:
            self._q.put(None)

    def _inflate(self, f) -> None:
        d = _zlib.decompressobj(31)
        in_member = False
        while not self._stop:
            raw = f.read(RAW_BLOCK)
            if not raw:
                break
            self.read_bytes += len(raw)
            while raw:
                if not in_member:
                    if raw.strip(b"\x00") == b"":  # zero padding after the last member
                        raw = b""
                        break
                    d = _zlib.decompressobj(31)
                    in_member = True
                out = d.decompress(raw)
                if out:
                    self._put(out)
                if d.eof:
                    in_member = False
                    raw = d.unused_data
                else:
                    raw = b""
        if in_member and not self._stop:
            out = d.flush()
            if out:
                self._q.put(out)
            self.truncated = True
            self.error = "compressed stream ends before its end marker"

    def _put(self, block: bytes) -> None:
        while self._idle is not None:
            try:
                self._q.put_nowait(block)
                return
            except queue.Full:
                if not self._idle():
                    break
        self._q.put(block)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            block = self._q.get()
            if block is None:
                return
            yield block

    def close(self) -> None:
        self._stop = True
        while self._thread.is_alive():
            try:
                self._q.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()


def first_line(path: str | Path, limit: int = 1 << 16) -> bytes:
    """The first line of a plain or gzip file (without its line end), reading at most limit bytes of text."""
    with open(path, "rb") as f:
        head = f.read(limit)
    if head[:2] == _GZIP_MAGIC:
        d = _zlib.decompressobj(31)
        try:
            head = d.decompress(head, limit) if _zlib is zlib else d.decompress(head)[:limit]
        except (zlib.error, _zlib.error):
            head = b""
    return head.split(b"\n", 1)[0].rstrip(b"\r")


# -- npz output ------------------------------------------------------------------------------------------


def npy_header(n_rows: int) -> bytes:
    """npy 1.0 header of a (n_rows,) event array, padded so the data starts at a multiple of 64 bytes."""
    descr = np.lib.format.dtype_to_descr(EVENT_DTYPE)
    text = "{'descr': %r, 'fortran_order': False, 'shape': (%d,), }" % (descr, n_rows)
    total = 10 + len(text) + 1
    text += " " * ((-total) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


class NpzWriter:
    """Write one array, member ``data.npy``, into an .npz (a zip) as it is produced, under a temporary name
    renamed into place on success, so a failed run never leaves a half-written file.

    compress: "none" stores the member (its data then starts at a 64-byte file offset: mmap-able), "fast"
    deflates at level 1 (ISA-L when installed), "zlib" at zlib's default level 6 (numpy's savez_compressed).
    Each written piece is deflated on its own in a thread pool (one thread per core, up to DEFLATE_THREADS),
    overlapped with the caller, and ends with a full flush, so the pieces concatenate into one valid deflate
    stream (pigz's scheme; a reset dictionary every few MB costs well under 1% of the size).
    """

    def __init__(self, path: str | Path, n_rows: int, compress: str = "fast"):
        if compress not in ("none", "fast", "zlib"):
            raise ValueError(f"compress must be none, fast or zlib, not {compress!r}")
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.compress = compress
        self.n_rows = n_rows
        self.crc = 0
        self.size = 0
        self.csize = 0
        self._f = open(self.tmp, "wb")
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque = deque()
        self.max_in_flight = 0  # pieces write() may still hold when it returns
        try:
            self._local_header()
            if compress != "none":
                self._level, self._deflater = (1, _zlib) if compress == "fast" else (6, zlib)
                threads = max(1, min(DEFLATE_THREADS, os.cpu_count() or 1))
                self.max_in_flight = 2 * threads + 1  # bounds the memory held by pieces in flight
                self._pool = ThreadPoolExecutor(threads, thread_name_prefix="crossfury-deflate")
            self._put(npy_header(n_rows))
        except BaseException:
            self.abort()
            raise

    _NAME = b"data.npy"

    def _local_header(self) -> None:
        # Sizes go in a zip64 extra field (patched at the end), so any size fits; padding in a second extra
        # field puts the data at a 64-byte offset.
        method = 0 if self.compress == "none" else 8
        fixed = 30 + len(self._NAME) + 20
        pad = (-(fixed + 4)) % 64
        extra = struct.pack("<HHQQ", 1, 16, 0, 0) + struct.pack("<HH", 0xCAFE, pad) + b"\x00" * pad
        self._method = method
        self._header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0x21, 0, 0xFFFFFFFF,
                                   0xFFFFFFFF, len(self._NAME), len(extra)) + self._NAME + extra
        self._f.write(self._header)
        self.data_offset = len(self._header)

    def _deflate(self, view: memoryview) -> bytes:
        d = self._deflater.compressobj(self._level, zlib.DEFLATED, -15)
        return d.compress(view) + d.flush(zlib.Z_FULL_FLUSH)

    def _put(self, chunk) -> None:
        view = memoryview(chunk).cast("B")
        if self._pool is None:
            self._f.write(view)
            self._account(view, len(view))
            return
        self._pending.append((view, self._pool.submit(self._deflate, view)))
        while len(self._pending) > self.max_in_flight:
            self._write_next()

    def _write_next(self) -> None:
        view, future = self._pending.popleft()
        out = future.result()
        self._f.write(out)
        self._account(view, len(out))

    def _account(self, view: memoryview, written: int) -> None:
        self.crc = _zlib.crc32(view, self.crc)
        self.size += len(view)
        self.csize += written

    def write(self, rows: np.ndarray) -> None:
        """Append rows of the event dtype. The writer may still read them until max_in_flight more writes
        have returned: do not modify them before."""
        if len(rows):
            self._put(np.ascontiguousarray(rows).view(np.uint8))

    def close(self) -> Path:
        """Finish the zip and rename it into place."""
        try:
            if self._pool is not None:
                while self._pending:
                    self._write_next()
                tail = self._deflater.compressobj(self._level, zlib.DEFLATED, -15).flush()  # the final block
                self._f.write(tail)
                self.csize += len(tail)
                self._pool.shutdown()
                self._pool = None
            expected = len(npy_header(self.n_rows)) + self.n_rows * EVENT_DTYPE.itemsize
            if self.size != expected:
                raise ValueError(f"npz member holds {self.size} bytes, expected {expected}")
            self._finish()
            self._f.close()
            os.replace(self.tmp, self.path)
            return self.path
        except BaseException:
            self.abort()
            raise

    def _finish(self) -> None:
        f = self._f
        end = f.tell()
        f.seek(14)
        f.write(struct.pack("<I", self.crc))
        f.seek(30 + len(self._NAME) + 4)
        f.write(struct.pack("<QQ", self.size, self.csize))
        f.seek(end)
        central_offset = end
        extra = struct.pack("<HHQQ", 1, 16, self.size, self.csize)
        central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, self._method, 0, 0x21, self.crc,
                              0xFFFFFFFF, 0xFFFFFFFF, len(self._NAME), len(extra), 0, 0, 0, 0o100644 << 16,
                              0) + self._NAME + extra
        f.write(central)
        end64 = f.tell()
        f.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 1, 1, len(central), central_offset))
        f.write(struct.pack("<IIQI", 0x07064B50, 0, end64, 1))
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), 0xFFFFFFFF, 0))

    def abort(self) -> None:
        """Stop and remove the temporary file."""
        if self._pool is not None:
            for _, future in self._pending:
                future.cancel()
            self._pending.clear()
            self._pool.shutdown()
            self._pool = None
        try:
            self._f.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def write_npz(path: str | Path, data: np.ndarray, compress: str = "fast",
              on_rows: Callable[[int], None] | None = None) -> Path:
    """Write an event array as an .npz that numpy and hftbacktest load (member data.npy)."""
    data = np.ascontiguousarray(data)
    if data.dtype != EVENT_DTYPE:
        raise TypeError(f"expected the hftbacktest event dtype, got {data.dtype}")
    w = NpzWriter(path, len(data), compress)
    step = 1 << 16
    for i in range(0, len(data), step):
        w.write(data[i:i + step])
        if on_rows:
            on_rows(min(i + step, len(data)))
    return w.close()
