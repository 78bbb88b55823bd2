# SPDX-License-Identifier: MIT
"""Write raw feed recordings in the hftbacktest collector format, disk and compression off the event loop.

One file per symbol per UTC day, ``<symbol lower case>_<YYYYMMDD>.gz``, each line ``<local_ts> <payload>\\n``
with ``local_ts`` in int nanoseconds; the day is the UTC day of ``local_ts``, so rotation at midnight follows
receive time and never splits or drops a line.

``Recorder.write`` only appends to a deque. One background thread drains it, formats and compresses the lines
(zlib releases the GIL while it compresses) and writes the files. Every ``flush_interval_s`` it ends the gzip
member of each file that received lines and writes that member with one ``write()``; it does not keep one
member open with ``Z_SYNC_FLUSH``. A hard kill therefore loses at most about one interval and leaves a file
made of complete members: it is valid gzip, reads to the end without a truncation warning, and a restart can
append new members to it. A sync-flushed single member would be cut mid-stream, and anything a restart
appended after it would be unreadable. Members cost 18 bytes and a fresh compression dictionary each.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import operator
import os
import re
import signal
import threading
import time
import weakref
import zlib
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Self

from crossfury.core.errors import RecorderError

log = logging.getLogger(__name__)

NS_PER_DAY = 86_400 * 1_000_000_000
DEFAULT_MAX_BACKLOG_BYTES = 256 * 1024 * 1024

_POLL_S = 0.05  # how long queued lines wait before the thread compresses them
_DRAIN_MAX_LINES = 8192  # per pass, so one pass's lines (about 2 MB) stay in cache
_CHUNK_BYTES = 1 << 20
_TAIL_WINDOW_BYTES = 64 * 1024
_TAIL_WINDOW_MAX_BYTES = 64 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b\x08"  # member header: magic and the deflate method
_SYMBOL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def day_of(local_ts: int) -> str:
    """Return the UTC day of a timestamp in int nanoseconds as ``YYYYMMDD``."""
    return _day_text(local_ts // NS_PER_DAY)


def recording_path(out_dir: str | Path, symbol: str, local_ts: int) -> Path:
    """Return the file that a line for ``symbol`` received at ``local_ts`` (int ns) is written to."""
    return Path(out_dir) / f"{_file_stem(symbol)}_{day_of(local_ts)}.gz"


def install_signal_handlers(loop: asyncio.AbstractEventLoop, on_stop: Callable[[], object]) -> None:
    """Call ``on_stop()`` on the loop at SIGINT or SIGTERM instead of letting the signal kill the process.

    ``on_stop`` typically sets an ``asyncio.Event`` the main task awaits before ``await recorder.aclose()``,
    which leaves every file a complete gzip stream. Unix only (``loop.add_signal_handler``).
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_stop)


def _day_text(day: int) -> str:
    return time.strftime("%Y%m%d", time.gmtime(day * 86_400))


def _file_stem(symbol: str) -> str:
    if not isinstance(symbol, str) or not _SYMBOL_RE.fullmatch(symbol):
        raise ValueError(f"symbol {symbol!r} cannot name a recording file: use letters, digits and . _ -")
    return symbol.lower()


def _as_bytes(payload: object) -> bytes:
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)  # copy now: the caller may reuse its buffer before the thread reads it
    raise TypeError(f"payload must be bytes or str, not {type(payload).__name__}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _member_end(data: bytes | memoryview) -> int | None:
    # Length of the complete gzip member at the start of data, None if it is cut short or not gzip.
    d = zlib.decompressobj(31)
    rest = data
    try:
        while True:
            d.decompress(rest, _CHUNK_BYTES)
            rest = d.unconsumed_tail
            if not rest:
                while not d.eof and d.decompress(b"", _CHUNK_BYTES):
                    pass
            if d.eof:
                return len(data) - len(d.unused_data)
            if not rest:
                return None
    except zlib.error:
        return None


def _scan_members(fd: int, size: int) -> int:
    # Offset after the last complete member, reading the whole file: for members too long for the tail window.
    end = offset = 0
    d = zlib.decompressobj(31)
    while offset < size:
        data = os.pread(fd, min(_CHUNK_BYTES, size - offset), offset)
        if not data:
            break
        offset += len(data)
        while data:
            try:
                d.decompress(data, _CHUNK_BYTES)
            except zlib.error:
                return end
            if d.eof:
                end = offset - len(d.unused_data)
                data = d.unused_data
                d = zlib.decompressobj(31)
            else:
                data = d.unconsumed_tail
    return end


def _complete_prefix(fd: int, size: int) -> int:
    # Offset after the last complete gzip member; size when the file is whole. Our members are short, so the
    # last member start is normally within the first tail window; the header bytes can also occur inside
    # compressed data, but such a false start fails to decompress or to reach a valid trailer.
    window = _TAIL_WINDOW_BYTES
    while True:
        start = max(0, size - window)
        raw = os.pread(fd, size - start, start)
        buf = memoryview(raw)
        pos = len(raw)
        while (pos := raw.rfind(_GZIP_MAGIC, 0, pos)) >= 0:
            n = _member_end(buf[pos:])
            if n is not None:
                return start + pos + n
        if start == 0:
            return 0
        if window >= _TAIL_WINDOW_MAX_BYTES:
            return _scan_members(fd, size)
        window *= 8


class _Abort(Exception):
    pass


class _File:
    __slots__ = ("comp", "day", "fd", "first_pending_ts", "lines_written", "out", "path", "pending_bytes",
                 "pending_lines", "stem")

    def __init__(self, path: Path, fd: int, stem: str, day: int):
        self.path = path
        self.fd = fd
        self.stem = stem
        self.day = day
        self.comp: zlib._Compress | None = None
        self.out: list[bytes] = []  # compressed bytes of the open member
        self.pending_lines = 0
        self.pending_bytes = 0
        self.first_pending_ts = 0
        self.lines_written = 0  # this session, in complete members on disk


def _close_at_exit(ref: weakref.ref) -> None:
    rec = ref()
    if rec is not None:
        try:
            rec.close()
        except RecorderError:
            pass  # already logged by the writer thread when it happened


class Recorder:
    """Record raw feed lines to gzip files in the hftbacktest collector format, off the event loop.

    Run one recorder per directory. Call ``write`` from one thread (the event loop's); it never blocks on
    disk or compression. ``close`` (or ``await aclose()``, or leaving a ``with`` / ``async with`` block)
    writes everything still queued and ends every file as a complete gzip stream. An existing file of the
    same name is appended to as new gzip members. When its end is damaged (a power cut or a kill in the
    middle of a write), lines appended after it would be unreadable, so it is renamed
    ``<symbol>_<YYYYMMDD>.damaged-<unix ns>.gz``, untouched and still readable up to the damage, and a new
    file is started.

    A failed disk write, or a backlog over ``max_backlog_bytes`` when the disk or compression cannot keep up,
    stops the recording: it is logged once, the files are closed readable up to their last complete member,
    and every later ``write`` and ``close`` raises ``RecorderError`` saying what was and was not recorded.

    Parameters
    ----------
    out_dir:
        Directory for the files; created if missing. ``RecorderError`` if it cannot be created or written.
    flush_interval_s:
        At most this much recorded data is lost to a hard kill.
    compress_level:
        zlib level; 6 is zlib's default and what gzip and the hftbacktest collector use.
    max_backlog_bytes:
        Payload bytes accepted but not yet compressed above which ``write`` raises ``RecorderError``.
    """

    def __init__(self, out_dir: str | Path, *, flush_interval_s: float = 1.0, compress_level: int = 6,
                 max_backlog_bytes: int = DEFAULT_MAX_BACKLOG_BYTES):
        if not flush_interval_s > 0 or flush_interval_s == float("inf"):
            raise ValueError(f"flush_interval_s must be a positive finite number, got {flush_interval_s!r}")
        if not 0 <= compress_level <= 9:
            raise ValueError(f"compress_level must be 0..9, got {compress_level!r}")
        if not max_backlog_bytes > 0:
            raise ValueError(f"max_backlog_bytes must be positive, got {max_backlog_bytes!r}")
        self._dir = Path(out_dir)
        self._check_dir()
        self._flush_interval_s = float(flush_interval_s)
        self._level = compress_level
        self._max_backlog_bytes = max_backlog_bytes

        self._queue: deque[tuple[str, int, bytes | str]] = deque()
        self._stems: dict[str, str] = {}
        # Single-writer counters, so no lock: the producer owns the first two, the thread the rest.
        self._accepted_lines = 0
        self._accepted_bytes = 0
        self._drained_bytes = 0
        self._lines_written = 0
        self._bytes_written = 0
        self._compressed_bytes = 0
        self._paths: list[str] = []
        self._refuse: str | None = None  # why write() refuses: closed or failed
        self._failure: str | None = None
        self._failure_exc: BaseException | None = None

        self._files: dict[tuple[str, int], _File] = {}
        self._latest_day: dict[str, int] = {}
        self._max_day = -1 << 62
        self._appendable: set[Path] = set()  # files this session ended cleanly, no need to check again
        self._day_texts: dict[int, str] = {}

        self._closed = False
        self._close_lock = threading.Lock()
        self._stop = threading.Event()
        self._atexit = functools.partial(_close_at_exit, weakref.ref(self))
        atexit.register(self._atexit)
        # Daemon, so a forgotten recorder never hangs interpreter exit; the atexit hook still closes it.
        self._thread = threading.Thread(target=self._run, name=f"crossfury-recorder:{self._dir}", daemon=True)
        self._thread.start()

    def _check_dir(self) -> None:
        d = self._dir
        if d.exists() and not d.is_dir():
            raise RecorderError(f"recording directory {d} is not a directory")
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecorderError(f"cannot create recording directory {d}: {exc.strerror or exc}") from exc
        probe = d / f".crossfury-probe-{os.getpid()}-{id(self)}"
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            os.unlink(probe)
        except OSError as exc:
            raise RecorderError(f"recording directory {d} is not writable: {exc.strerror or exc}") from exc

    # -- the event loop side ------------------------------------------------------------------------------

    def write(self, symbol: str, local_ts: int, payload: bytes | str) -> None:
        """Queue one line ``<local_ts> <payload>`` for ``symbol``'s file of the UTC day of ``local_ts``.

        A ``str`` payload is stored as UTF-8. Newlines and carriage returns in the payload are stored as
        spaces, since a line must stay one line: in JSON they can only be whitespace between tokens
        (inside strings they are escaped), so the text still decodes to the same value.

        Raises
        ------
        RecorderError
            The recording has failed or the recorder is closed; the message says what was recorded.
        ValueError, TypeError
            ``symbol`` cannot name a file, ``local_ts`` is not an integer, ``payload`` is not text or bytes.
        """
        if self._refuse is not None:
            raise RecorderError(self._refuse) from self._failure_exc
        stem = self._stems.get(symbol)
        if stem is None:
            stem = self._stems[symbol] = _file_stem(symbol)
        if payload.__class__ is not bytes and payload.__class__ is not str:
            payload = _as_bytes(payload)
        if local_ts.__class__ is not int:
            local_ts = operator.index(local_ts)  # accepts numpy integers, refuses floats
        n = len(payload)
        if self._accepted_bytes + n - self._drained_bytes > self._max_backlog_bytes:
            self._overflow(symbol, local_ts, n)
        self._accepted_bytes += n
        self._queue.append((stem, local_ts, payload))
        self._accepted_lines += 1

    def _overflow(self, symbol: str, local_ts: int, n: int) -> None:
        backlog = self._accepted_bytes - self._drained_bytes
        msg = (f"recording backlog of {backlog} bytes plus a {n}-byte line exceeds max_backlog_bytes "
               f"{self._max_backlog_bytes} (the disk or compression is slower than the feed): the line for "
               f"{symbol} at local_ts {local_ts} and every later line are not recorded; lines before it are")
        self._failure = self._refuse = msg
        log.error("%s", msg)
        raise RecorderError(msg)

    def stats(self) -> dict:
        """Return counters: lines and bytes accepted and written, files, backlog and the error if any.

        ``lines`` counts lines accepted by ``write``; ``lines_written`` and ``bytes`` (uncompressed, as
        stored) count what is in complete gzip members on disk, which a hard kill cannot lose.
        """
        return {
            "lines": self._accepted_lines,
            "lines_written": self._lines_written,
            "bytes": self._bytes_written,
            "compressed_bytes": self._compressed_bytes,
            "files": list(self._paths),
            "backlog_bytes": self._accepted_bytes - self._drained_bytes,
            "errors": 0 if self._failure is None else 1,
            "error": self._failure,
        }

    def close(self) -> None:
        """Write every queued line, end each file as a complete gzip stream and stop the thread.

        Blocks while the backlog is compressed; from a coroutine use ``await aclose()``. Safe to call again.

        Raises
        ------
        RecorderError
            The recording failed earlier (at every call): what is on disk is readable, but incomplete.
        """
        with self._close_lock:
            if not self._closed:
                self._closed = True
                if self._refuse is None:
                    self._refuse = f"recorder for {self._dir} is closed"
                self._stop.set()
                self._thread.join()
                atexit.unregister(self._atexit)
        if self._failure is not None:
            raise RecorderError(self._failure) from self._failure_exc

    async def aclose(self) -> None:
        """Close in a worker thread, so the event loop keeps running while the backlog is written."""
        await asyncio.to_thread(self.close)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._close_after(exc)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await asyncio.to_thread(self._close_after, exc)

    def _close_after(self, exc: BaseException | None) -> None:
        try:
            self.close()
        except RecorderError:
            if not isinstance(exc, RecorderError):  # else the block is already raising this failure
                raise

    # -- the writer thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        interval_s = self._flush_interval_s
        next_flush = time.monotonic() + interval_s
        try:
            while True:
                # Read before draining: every line queued before close() set the event is then drained.
                stopping = self._stop.is_set()
                more = self._drain()
                if stopping and not more:
                    for key in list(self._files):
                        self._close_file(key)
                    return
                now = time.monotonic()
                if now >= next_flush:
                    self._flush_all()
                    next_flush = now + interval_s
                if not more:
                    self._stop.wait(min(_POLL_S, max(0.0, next_flush - now)))
        except _Abort:
            return
        except Exception as exc:  # noqa: BLE001 - a bug here must stop the recording loudly, never silently
            try:
                self._fail(f"recorder thread failed: {exc!r}", exc, None)
            except _Abort:
                pass

    def _drain(self) -> bool:
        queue = self._queue
        n = min(len(queue), _DRAIN_MAX_LINES)
        if not n:
            return False
        popleft = queue.popleft
        groups: dict[tuple[str, int], list[bytes]] = {}
        firsts: dict[tuple[str, int], int] = {}
        latest = self._latest_day
        nbytes = 0
        for _ in range(n):
            stem, ts, payload = popleft()
            nbytes += len(payload)
            if payload.__class__ is str:
                # A str with lone surrogates cannot be UTF-8; backslashreplace writes them as JSON \uXXXX.
                payload = payload.encode("utf-8", "backslashreplace")
            if 10 in payload or 13 in payload:  # an int needle is a plain memchr, a bytes one is slower
                payload = payload.replace(b"\n", b" ").replace(b"\r", b" ")
            key = (stem, ts // NS_PER_DAY)
            lines = groups.get(key)
            if lines is None:
                lines = groups[key] = []
                firsts[key] = ts
                if key[1] > latest.get(stem, key[1] - 1):
                    latest[stem] = key[1]
            lines.append(b"%d %s\n" % (ts, payload))
        for key, lines in groups.items():
            f = self._files.get(key)
            if f is None:
                f = self._files[key] = self._open(*key)
            chunk = b"".join(lines)
            if f.comp is None:
                f.comp = zlib.compressobj(self._level, zlib.DEFLATED, 31)  # wbits 31: gzip header and trailer
                f.first_pending_ts = firsts[key]
            out = f.comp.compress(chunk)
            if out:
                f.out.append(out)
            f.pending_lines += len(lines)
            f.pending_bytes += len(chunk)
        self._drained_bytes += nbytes
        self._max_day = max(self._max_day, *(day for _, day in groups))
        # A symbol's earlier day is finished once a later day's line for it has arrived; a late line for that
        # day reopens its file and appends a member, so it is never lost.
        for key, f in list(self._files.items()):
            if f.day < latest[f.stem]:
                self._close_file(key)
        return bool(queue)

    def _open(self, stem: str, day: int) -> _File:
        text = self._day_texts.get(day)
        if text is None:
            text = self._day_texts[day] = _day_text(day)
        path = self._dir / f"{stem}_{text}.gz"
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, 0o644)
            size = os.fstat(fd).st_size
            if size and path not in self._appendable:
                good = _complete_prefix(fd, size)
                if good != size:
                    os.close(fd)
                    aside = path.with_name(f"{stem}_{text}.damaged-{time.time_ns()}.gz")
                    os.rename(path, aside)
                    log.warning("%s ends with %d bytes that are not a complete gzip member (a kill or a "
                                "power cut while writing); renamed it %s, readable up to the damage, and "
                                "started a new file", path, size - good, aside.name)
                    fd = os.open(path, flags, 0o644)
        except OSError as exc:
            self._fail(f"cannot open recording file {path}: {exc}", exc, None)
        if str(path) not in self._paths:
            self._paths.append(str(path))
        return _File(path, fd, stem, day)

    def _end_member(self, f: _File) -> OSError | None:
        # Write the open member in one write(), so a kill leaves whole members; undo a partial write.
        data = f.comp.flush(zlib.Z_FINISH)
        f.out.append(data)
        blob = b"".join(f.out)
        f.out.clear()
        f.comp = None
        try:
            before = os.fstat(f.fd).st_size
        except OSError as exc:
            return exc
        try:
            _write_all(f.fd, blob)
        except OSError as exc:
            try:
                os.ftruncate(f.fd, before)
            except OSError:
                pass  # a device such as /dev/full; a regular file was cut back to its last whole member
            return exc
        f.lines_written += f.pending_lines
        self._lines_written += f.pending_lines
        self._bytes_written += f.pending_bytes
        self._compressed_bytes += len(blob)
        f.pending_lines = f.pending_bytes = 0
        return None

    def _flush_all(self) -> None:
        for key, f in list(self._files.items()):
            if f.pending_lines:
                exc = self._end_member(f)
                if exc is not None:
                    self._fail_write(f, exc)
            if f.day < self._max_day:  # idle since midnight: nothing more is expected for that day
                self._close_file(key)

    def _close_file(self, key: tuple[str, int]) -> None:
        f = self._files.pop(key)
        if f.pending_lines:
            exc = self._end_member(f)
            if exc is not None:
                self._files[key] = f  # so the failure handling closes it
                self._fail_write(f, exc)
        os.close(f.fd)
        self._appendable.add(f.path)

    def _fail_write(self, f: _File, exc: OSError) -> None:
        self._fail(f"recording to {f.path} failed after {f.lines_written} lines were written to it ({exc}); "
                   f"the file is readable up to those lines, and its next {f.pending_lines} lines (from "
                   f"local_ts {f.first_pending_ts}) and every line received after them are not recorded",
                   exc, f)

    def _fail(self, msg: str, exc: BaseException, broken: _File | None) -> None:
        self._failure_exc = exc
        self._failure = msg
        self._refuse = msg
        log.error("%s", msg)
        # End the other files cleanly: their lines were accepted before the failure.
        for f in self._files.values():
            if f is not broken and f.pending_lines and f.comp is not None:
                err = self._end_member(f)
                if err is not None:
                    log.debug("%s: also failed while stopping: %s", f.path, err)
            try:
                os.close(f.fd)
            except OSError:
                pass
        self._files.clear()
        self._queue.clear()
        raise _Abort
