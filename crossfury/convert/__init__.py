# SPDX-License-Identifier: MIT
"""Tardis CSV and collector-format recordings -> hftbacktest event arrays and .npz files, in C.

The events are hftbacktest 2.4.4's own, field for field: the rows its converters build
(``hftbacktest.data.utils.tardis.convert``, ``binancefutures.convert``), corrected for negative latency
(``correct_local_timestamp``), split into exchange and local events ordered by their own clocks
(``correct_event_order``) and checked (``validate_event_order``). The differences, where hftbacktest is
wrong or crashes, are listed in the README ("Converters"). Parsing, ordering and checking run in C
(csrc/convert); gzip input is inflated in a background thread; output streams into the .npz.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from crossfury._native import convert as _native
from crossfury.convert import layouts
from crossfury.convert._io import INFLATE, Blocks, NpzWriter, first_line, is_gzip, write_npz
from crossfury.core.errors import ConvertError
from crossfury.events.hbt import EVENT_DTYPE

__all__ = [
    "SNAPSHOT_MODES",
    "Report",
    "argsort",
    "argsort_threads",
    "convert_recording",
    "convert_tardis",
    "correct_event_order",
    "correct_local_timestamp",
    "load_npz",
    "recording",
    "tardis",
    "validate_event_order",
    "write_npz",
]

log = logging.getLogger(__name__)

SNAPSHOT_MODES = ("process", "ignore_sod", "ignore")
PARALLEL_SORT_ROWS = 1 << 20
#: Fewer keys are sorted on one thread: starting threads costs about 0.1 ms, what one thread takes for some
#: 200k keys nearly in order (512k: 0.31 ms on one, 0.29 on two). Jittered keys gain from 32k on, but their
#: count alone does not tell them apart.
PARALLEL_ARGSORT_ROWS = 1 << 19
#: Threads one argsort uses by default, at most: a cap (measured here on two cores only), since memory
#: bandwidth rather than cores bounds the sort of keys nearly in order.
ARGSORT_THREADS = 4
CHUNK_ROWS = 1 << 14  # rows merged, checked and deflated per piece (1 MB)
MERGE_STEP_ROWS = 1 << 16  # array output: rows merged per call (4 MB), each into pages faulted in
PREFAULT_STEP = 4 << 20  # bytes of output faulted in per call
_MAX_REPORTED = 20
_KIND_NAMES = {_native.TRADES: "trades", _native.BOOK: "incremental_book_L2"}
_STATUS_NAMES = {-1: "bad number", -2: "number out of range", -8: "not valid JSON or wrong shape",
                 -9: "wrong type", -10: "missing field", -11: "duplicate field", -12: "nested too deep"}

#: (bytes read, bytes in all) as a conversion goes.
Progress = Callable[[int, int], None]


@dataclass
class Report:
    """What a conversion read, skipped and wrote."""

    files: list[str]
    kinds: dict[str, str] = field(default_factory=dict)
    rows: int = 0                    # event rows built, before ordering
    out_rows: int = 0                # rows written: each row once per processor, or once with both flags
    local_offset_ns: int = 0         # added to every local_ts (negative latency was found)
    malformed: int = 0               # rows or lines refused and skipped
    problems: list[str] = field(default_factory=list)  # the first refused rows, "file:line: what"
    truncated: list[str] = field(default_factory=list)  # damaged gzip files, read up to their last full line
    dropped_snapshot_rows: int = 0   # Tardis snapshot rows at the end of a file (no update row after them)
    counts: dict = field(default_factory=dict)  # recordings: lines by kind, acks, errors, sync outcomes
    seconds: dict = field(default_factory=dict)
    inflate: str = INFLATE

    def as_dict(self) -> dict:
        return asdict(self)


# -- the ordering pipeline (hftbacktest.data.validation) -----------------------------------------------


def argsort(keys: np.ndarray, threads: int | None = None) -> np.ndarray:
    """Return the stable argsort of int64 keys (the permutation of ``np.argsort(keys, kind="stable")``).

    ``threads`` share the work, the GIL released (at most ``_native.MAX_THREADS`` are used); the result is the
    same for any count. None: ``argsort_threads(len(keys))``.
    """
    if threads is None:
        threads = argsort_threads(len(keys))
    elif threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    return _native.argsort(keys, threads)


def argsort_threads(n_keys: int) -> int:
    """Threads ``argsort`` uses by default for n_keys keys: one below ``PARALLEL_ARGSORT_ROWS``, else the
    usable cores, at most ``ARGSORT_THREADS``."""
    return 1 if n_keys < PARALLEL_ARGSORT_ROWS else min(_usable_cores(), ARGSORT_THREADS)


def _usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def correct_local_timestamp(data: np.ndarray, base_latency: int = 0) -> np.ndarray:
    """Shift local_ts in place when any feed latency (local_ts - exch_ts) is negative, and return data.

    As hftbacktest does: every local_ts gains -min(latency) + base_latency, and nothing changes (base_latency
    included) when no latency is negative. Integer nanoseconds, exact.
    """
    offset = _native.local_offset(data, int(base_latency))
    if offset:
        log.info("local_timestamp is ahead of exch_timestamp by %d ns", offset - int(base_latency))
        _native.shift_local(data, offset)
    return data


def correct_event_order(data: np.ndarray, sorted_exch_index: np.ndarray, sorted_local_index: np.ndarray) -> np.ndarray:
    """Return each row once as an exchange event and once as a local event, each stream in its own time order.

    hftbacktest's correct_event_order: rows whose two walks meet (equal timestamps and payload) come once with
    both flags. Where hftbacktest asserts (equal timestamps, different rows), the exchange side is written
    first and the walk goes on.
    """
    merger = _native.Merger(np.ascontiguousarray(data), sorted_exch_index, sorted_local_index)
    return _merged_array(merger)


def validate_event_order(data: np.ndarray) -> None:
    """Raise ValueError when exchange events are out of exch_ts order or local events out of local_ts order."""
    _native.validate(np.ascontiguousarray(data))


def load_npz(path: str | Path) -> np.ndarray:
    """Load the event array of an .npz written by a converter (or by hftbacktest)."""
    with np.load(path) as f:
        return f["data"]


class _Room:
    """Memory for a merge's output (room for every row twice), and a helper thread for the other core that
    faults in its pages, in order, for the merge to write.

    A first write to a fresh page costs a page fault: 0.26 s for the 690 MB of a 5.4M-row Tardis merge here,
    four times the merge itself (0.06 s, streaming). Faulted in bulk (MADV_POPULATE_WRITE) the same pages
    cost 0.16 s, on another core, from the moment the sorts start. Where the merge catches up with the
    thread it waits rather than take faults itself: the two faulting at once contend in the kernel and both
    slow down (a merge with no head start: 0.19 s waiting, 0.35 s faulting). The thread stops when the merge
    ends: how many rows come out (each row once or twice) is not known before, and the merge never runs
    ahead of it, so it never runs far past the end.
    """

    def __init__(self, rows: int):
        self.size = 2 * rows * EVENT_DTYPE.itemsize
        self.memory = _native.Memory(self.size)  # plain pages: see Memory
        self._ready = 0  # bytes faulted in from the start
        self._helping = False  # the thread runs and will move _ready on
        self._stop = False
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()  # guards the start, and tells the merge when _ready moves

    @property
    def large(self) -> bool:
        """Far larger than any cache: worth a helper thread, and written past the cache."""
        return self.size >= 4 * PREFAULT_STEP

    def start(self) -> bool:
        """Start the helper thread (once; not for small outputs); return whether it runs."""
        with self._cond:
            if self._thread is None and not self._stop and self.large:
                self._helping = True
                self._thread = threading.Thread(target=self._run, name="crossfury-merge-helper", daemon=True)
                self._thread.start()
            return self._thread is not None

    def _run(self) -> None:
        at = 0
        try:
            while not self._stop and at < self.size:
                end = min(at + PREFAULT_STEP, self.size)
                if not self.memory.populate(at, end):  # an older kernel: the merge takes the faults
                    return
                at = end
                with self._cond:
                    self._ready = at
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._helping = False
                self._cond.notify_all()

    def wait_ready(self, end: int) -> None:
        """Wait until bytes [0, end) are faulted in, or the thread has stopped."""
        if self._ready >= end or not self._helping:
            return
        with self._cond:
            self._cond.wait_for(lambda: self._ready >= end or not self._helping)

    def close(self) -> None:
        """Stop the thread (the merge is done, or abandoned)."""
        with self._cond:
            self._stop = True
        if self._thread is not None:
            self._thread.join()


def _merged_array(merger, room: _Room | None = None) -> np.ndarray:
    # Each row comes out once or twice: room for twice the rows, of which the pages past the rows written
    # are given back by realloc; this saves a counting pass. The merge goes in steps, each into pages the
    # helper thread has faulted in.
    room = room if room is not None else _Room(merger.rows)
    room.start()
    written = 0
    step_bytes = MERGE_STEP_ROWS * EVENT_DTYPE.itemsize
    try:
        whole = np.frombuffer(room.memory, dtype=EVENT_DTYPE)
        while True:
            room.wait_ready(min(written * EVENT_DTYPE.itemsize + step_bytes, room.size))
            step = merger.next_chunk(MERGE_STEP_ROWS, whole[written:written + MERGE_STEP_ROWS], stream=room.large)
            if step is None:
                break
            written += len(step)
        del whole, step  # no view is left: the memory can shrink
    finally:
        room.close()
    room.memory.shrink(written * EVENT_DTYPE.itemsize)
    return np.frombuffer(room.memory, dtype=EVENT_DTYPE)


def _order(events, base_latency: int, report: Report, room: _Room | None = None):
    t = time.perf_counter()
    events.shrink()
    report.rows = len(events)
    # With an output room, one core faults in its pages from now on (the merge's pages cost more than both
    # sorts), and the sorts take the other cores, one after the other. Without (the npz path), the exchange
    # order is sorted on another core while this one shifts and sorts the local times. 5.4M Tardis rows on two
    # cores: sorts + merge 0.19-0.22 s with the helper started after the exchange sort, 0.17 s so.
    helping = room is not None and room.start()
    with ThreadPoolExecutor(1, thread_name_prefix="crossfury-sort") as pool:
        exch = None
        if helping:
            threads = min(argsort_threads(len(events)), max(1, _usable_cores() - 1))
        else:
            threads = argsort_threads(len(events))
            if len(events) >= PARALLEL_SORT_ROWS:  # the exchange order reads only exch_ts: no GIL held
                exch = pool.submit(events.argsort, "exch", threads)
        offset = events.local_offset(int(base_latency))
        if offset:
            log.info("local_timestamp is ahead of exch_timestamp by %d ns; local_ts shifted by %d ns",
                     offset - int(base_latency), offset)
            events.shift_local(offset)
        report.local_offset_ns = offset
        by_local = events.argsort("local", threads)
        by_exch = exch.result() if exch is not None else events.argsort("exch", threads)
    report.seconds["sort"] = time.perf_counter() - t
    return _native.Merger(events, by_exch, by_local, check=True)  # validate_event_order as rows are written


def _finish_array(merger, report: Report, room: _Room | None = None) -> np.ndarray:
    t = time.perf_counter()
    out = _merged_array(merger, room=room)
    report.out_rows = len(out)
    report.seconds["merge"] = time.perf_counter() - t
    return out


def _finish_array_of(events, base_latency: int, report: Report) -> np.ndarray:
    room = _Room(len(events))
    try:
        merger = _order(events, base_latency, report, room)
    except BaseException:
        room.close()
        raise
    return _finish_array(merger, report, room)


def _finish_npz(merger, output: str | Path, compress: str, report: Report) -> None:
    t = time.perf_counter()
    n = merger.count()
    writer = NpzWriter(output, n, compress)
    # Chunks come from a ring of buffers, each reused only after the writer is done with it: no fresh
    # memory (page faults) per chunk.
    ring = [np.empty(min(CHUNK_ROWS, max(n, 1)), dtype=EVENT_DTYPE) for _ in range(writer.max_in_flight + 1)]
    try:
        i = 0
        while (chunk := merger.next_chunk(CHUNK_ROWS, ring[i % len(ring)])) is not None:
            writer.write(chunk)
            i += 1
        writer.close()
    except BaseException:
        writer.abort()
        raise
    report.out_rows = n
    report.seconds["merge_write"] = time.perf_counter() - t


# -- reading files ---------------------------------------------------------------------------------------


class _Feeder:
    """Stream each file's blocks into a parser, carrying partial lines, reporting progress and problems."""

    def __init__(self, files: list[Path], report: Report, strict: bool, progress: Progress | None,
                 idle: Callable[[], bool] | None = None):
        self.files = files
        self.idle = idle
        self.report = report
        self.strict = strict
        self.progress = progress
        self.total = sum(f.stat().st_size for f in files)
        self.done = 0

    def run(self, path: Path, parser, skip_header: bool, describe) -> None:
        blocks = Blocks(path, idle=self.idle)
        tail = b""
        bad: list = []
        try:
            for block in blocks:
                if skip_header:
                    block = tail + block if tail else block
                    nl = block.find(b"\n")
                    if nl < 0:
                        tail = block
                        continue
                    block, tail, skip_header = memoryview(block)[nl + 1:], b"", False
                if tail:
                    # The line cut at the last block's end: joined up to this block's first line end (a
                    # short copy), then the block is read in place.
                    nl = block.find(b"\n")
                    if nl < 0:
                        tail += block
                        continue
                    head = tail + block[:nl + 1]
                    used = parser.feed(head, bad)
                    block = memoryview(block)[nl + 1:]
                    if used < len(head):  # not expected: a complete line always parses or is skipped
                        block = head[used:] + bytes(block)
                used = parser.feed(block, bad)
                tail = bytes(block[used:])
                if bad:
                    self._problems(path, bad, describe)
                if self.progress:
                    self.progress(self.done + blocks.read_bytes, self.total)
        finally:
            blocks.close()
        if blocks.truncated:
            self.report.truncated.append(str(path))
            log.warning("%s: damaged or truncated (%s); converted up to line %d, its last complete line",
                        path, blocks.error, parser.line)
        elif tail.strip():
            parser.feed(tail + b"\n", bad)
            self._problems(path, bad, describe)
        self.done += path.stat().st_size
        if self.progress:
            self.progress(self.done, self.total)

    def _problems(self, path: Path, bad: list, describe) -> None:
        for item in bad:
            self.report.malformed += 1
            text = f"{path}:{item[0]}: {describe(item)}"
            if self.strict:
                raise ConvertError(f"malformed row, stopped (--strict): {text}")
            if len(self.report.problems) < _MAX_REPORTED:
                self.report.problems.append(text)
                log.warning("skipped %s", text)
        bad.clear()


def _paths(files: Iterable[str | Path]) -> list[Path]:
    paths = [Path(f) for f in ([files] if isinstance(files, (str, Path)) else files)]
    if not paths:
        raise ConvertError("no input file given")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ConvertError(f"no such file: {', '.join(missing)}")
    return paths


# -- Tardis ----------------------------------------------------------------------------------------------

_TARDIS_HEADERS = ("exchange,symbol,timestamp,local_timestamp,id,side,price,amount (trades)",
                   "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount (incremental_book_L2)")


def _tardis_files(files: Iterable[str | Path]) -> list[tuple[Path, int]]:
    """Each file with its kind, from its header; trades files first (each group in the order given)."""
    out = []
    for path in _paths(files):
        header = first_line(path)
        kind = _native.tardis_header(header)
        if kind == _native.BOOK_TICKER:
            raise ConvertError(f"{path}: a Tardis book_ticker file; only trades and incremental_book_L2 convert "
                               f"(hftbacktest merges book tickers with tick and lot sizes in convert_fuse)")
        if kind not in _KIND_NAMES:
            shown = header[:200].decode("utf-8", "replace")
            raise ConvertError(f"{path}: unknown header {shown!r}; expected one of: {'; '.join(_TARDIS_HEADERS)}")
        out.append((path, kind))
    # At equal timestamps a trade must come before the depth update it caused (hftbacktest asks callers to
    # list trades files first; the stable sorts keep that order).
    return sorted(out, key=lambda pk: pk[1] != _native.TRADES)


def _text_size(path: Path) -> int:
    """The bytes of text in a file: a gzip file's trailer gives its (last member's) size mod 4 GiB."""
    size = path.stat().st_size
    if not is_gzip(path) or size < 18:
        return size
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return int.from_bytes(f.read(4), "little")


class _RowFaults:
    """Faults in the pages of the rows just ahead of the parser, from the inflate thread while its queue is
    full: the parser's first touches of fresh rows cost it ~0.1 s on 5.4M Tardis rows, and the inflate
    thread would wait anyway (Tardis warm read 0.33 -> 0.26 s with every page faulted beforehand). The
    rows get room for the whole input first (address space only; a Tardis row is 30 bytes of text or more),
    so they do not move while this works; if they do, faulting in pages changes no data either way."""

    STEP_ROWS = 1 << 14  # 640 kB of rows a call
    LEAD_ROWS = 1 << 18  # at most 10 MB ahead of the parser
    MAX_ROOM_ROWS = 1 << 27  # 5 GB of address space at most, asked for up front

    def __init__(self, events, text_bytes: int):
        self.events = events
        self.done = 0
        try:
            events.reserve_rows(min(text_bytes // 30, self.MAX_ROOM_ROWS) + 1024)
        except MemoryError:  # the system will not give that much address space: the rows grow as they come
            pass

    def __call__(self) -> bool:
        written = len(self.events)
        start = max(self.done, written)
        if start >= written + self.LEAD_ROWS:
            return False
        end = start + self.STEP_ROWS
        if not self.events.populate(start, end):
            self.done = 1 << 62  # the kernel cannot (before Linux 5.14): stop asking
            return False
        self.done = end
        return True


def _read_tardis(files, snapshot_mode: str, strict: bool, progress: Progress | None, report: Report):
    if snapshot_mode not in SNAPSHOT_MODES:
        raise ConvertError(f"snapshot mode must be one of {', '.join(SNAPSHOT_MODES)}, not {snapshot_mode!r}")
    ordered = _tardis_files(files)
    report.files = [str(p) for p, _ in ordered]
    report.kinds = {str(p): _KIND_NAMES[k] for p, k in ordered}
    t = time.perf_counter()
    events = _native.Events()
    faults = _RowFaults(events, sum(_text_size(p) for p, _ in ordered))
    feeder = _Feeder([p for p, _ in ordered], report, strict, progress, idle=faults)
    columns = ("exchange", "symbol", "timestamp", "local_timestamp", "is_snapshot/id", "side", "price", "amount")

    def describe(item):
        _line, column = item
        return "wrong number of columns" if column < 0 else f"bad {columns[column]} value"

    for path, kind in ordered:
        parser = _native.TardisParser(events, kind, _native.SNAPSHOT_MODES[snapshot_mode])
        feeder.run(path, parser, True, describe)
        pending = parser.pending_snapshot_rows
        if pending:
            report.dropped_snapshot_rows += pending
            log.warning("%s: %d snapshot rows end the file with no update row after them: dropped, as "
                        "hftbacktest does", path, pending)
    report.seconds["read"] = time.perf_counter() - t
    return events


def tardis(files: Iterable[str | Path] | str | Path, *, snapshot_mode: str = "process", base_latency: int = 0,
           strict: bool = False, progress: Progress | None = None, report: Report | None = None) -> np.ndarray:
    """Convert Tardis ``trades`` and ``incremental_book_L2`` CSV files (plain or gzip) to hftbacktest events.

    Files are told apart by their header line. The result equals hftbacktest 2.4.4's
    ``tardis.convert(files, snapshot_mode=..., base_latency=...)`` row for row where that works (trades files
    listed first). A malformed row is skipped and reported (``strict`` makes it a ConvertError).
    """
    report = report if report is not None else Report([])
    events = _read_tardis(files, snapshot_mode, strict, progress, report)
    return _finish_array_of(events, base_latency, report)


def convert_tardis(files: Iterable[str | Path] | str | Path, output: str | Path, *, snapshot_mode: str = "process",
                   base_latency: int = 0, strict: bool = False, compress: str = "fast",
                   progress: Progress | None = None) -> Report:
    """Convert Tardis CSV files into an .npz (see ``tardis``), streaming the output; return the report."""
    report = Report([])
    events = _read_tardis(files, snapshot_mode, strict, progress, report)
    _finish_npz(_order(events, base_latency, report), output, compress, report)
    return report


# -- recordings ------------------------------------------------------------------------------------------


def _recording_parser(events, *, with_bbo: bool, with_mark_price: bool, sync: bool, agg_trades: bool | None):
    flags = 0
    if with_bbo:
        flags |= _native.FLAG_BBO
    if with_mark_price:
        flags |= _native.FLAG_MARK
    if agg_trades if agg_trades is not None else sync:
        flags |= _native.FLAG_AGG_TRADES
    if sync:
        flags |= _native.FLAG_SYNC
    return _native.RecordingParser(events, layouts.DEPTH, layouts.SNAPSHOT, layouts.TRADE, layouts.AGG_TRADE,
                                   layouts.BOOK_TICKER,
                                   layouts.MARK_PRICE, flags)


def _read_recording(files, options: dict, strict: bool, progress: Progress | None, report: Report):
    paths = _paths(files)
    report.files = [str(p) for p in paths]
    report.kinds = {str(p): "recording" for p in paths}
    t = time.perf_counter()
    events = _native.Events()
    parser = _recording_parser(events, **options)
    feeder = _Feeder(paths, report, strict, progress)

    def describe(item):
        _line, status, offset = item
        if status == -8 and offset == 0:
            return "no receive timestamp, or not a JSON message"
        return f"{_STATUS_NAMES.get(status, f'status {status}')} at byte {offset}"

    for path in paths:
        parser.start_file()
        feeder.run(path, parser, False, describe)
    counts = parser.counts()
    report.counts = counts
    if counts["other_symbols"]:
        log.warning("the recording holds more than one symbol: %d messages name another than %s, the first; "
                    "they are converted together (a backtest asset is one symbol: convert each symbol's files "
                    "on their own)", counts["other_symbols"], counts["symbol"])
    if counts["acks"] or counts["errors"]:
        log.info("skipped %d subscription acks and %d error bodies", counts["acks"], counts["errors"])
    if options.get("sync") and counts["held"]:
        log.warning("%d depth updates held at the end with no snapshot to bridge them: not written",
                    counts["held"])
    report.seconds["read"] = time.perf_counter() - t
    return events


def recording(files: Iterable[str | Path] | str | Path, *, base_latency: int = 0, with_bbo: bool = False,
              with_mark_price: bool = False, sync: bool = False, agg_trades: bool | None = None,
              strict: bool = False, progress: Progress | None = None, report: Report | None = None) -> np.ndarray:
    """Convert recordings in the collector format (hftbacktest's and ``crossfury record``'s) to events.

    By default (compat) the result equals hftbacktest 2.4.4's ``binancefutures.convert(file, opt=...)`` where
    that works: ``with_bbo`` is its opt "t" (kinds 103, 104), ``with_mark_price`` its opt "m" (100-102).
    ``sync`` applies the exchange's update-id rules to depth updates instead (see csrc/convert/recording.h),
    and counts aggregate trades as trades (``agg_trades`` sets that alone; hftbacktest skips them). Files
    given in order continue one another.
    """
    report = report if report is not None else Report([])
    options = dict(with_bbo=with_bbo, with_mark_price=with_mark_price, sync=sync, agg_trades=agg_trades)
    events = _read_recording(files, options, strict, progress, report)
    return _finish_array_of(events, base_latency, report)


def convert_recording(files: Iterable[str | Path] | str | Path, output: str | Path, *, base_latency: int = 0,
                      with_bbo: bool = False, with_mark_price: bool = False, sync: bool = False,
                      agg_trades: bool | None = None, strict: bool = False, compress: str = "fast",
                      progress: Progress | None = None) -> Report:
    """Convert recordings into an .npz (see ``recording``), streaming the output; return the report."""
    report = Report([])
    options = dict(with_bbo=with_bbo, with_mark_price=with_mark_price, sync=sync, agg_trades=agg_trades)
    events = _read_recording(files, options, strict, progress, report)
    _finish_npz(_order(events, base_latency, report), output, compress, report)
    return report


def recording_rows(files: Iterable[str | Path] | str | Path, **options) -> tuple[np.ndarray, Report]:
    """The event rows of recordings before ordering (what ``--to-tardis`` writes out), and the report."""
    report = Report([])
    strict = options.pop("strict", False)
    opts = dict(with_bbo=False, with_mark_price=False, sync=False, agg_trades=None)
    opts.update(options)
    events = _read_recording(files, opts, strict, None, report)
    return events.events(), report
