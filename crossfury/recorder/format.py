# SPDX-License-Identifier: MIT
"""Read recordings in the hftbacktest collector format.

Each line is ``<local receive timestamp> <raw message text>``; the text is a WebSocket message (often a
combined-stream envelope) or a REST body such as a depth snapshot. Files are gzip-compressed and rotate at
UTC midnight; timestamps are nanoseconds in newer files and microseconds in older ones.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)

# Receive times since 2001 in ns are above 1e18, in us above 1e15, in ms above 1e12.
_NS_FLOOR = 10**17
_US_FLOOR = 10**14


def to_ns(ts: int) -> int:
    """Return an epoch timestamp in nanoseconds, whether it was given in ns, us or ms."""
    if ts >= _NS_FLOOR:
        return ts
    if ts >= _US_FLOOR:
        return ts * 1_000
    return ts * 1_000_000


class RecordingLine(NamedTuple):
    local_ts: int  # ns
    payload: bytes
    line_no: int


@dataclass
class RecordingReader:
    """Iterate the lines of recording files in order, counting what could not be read.

    A malformed line (no timestamp, junk) is counted and skipped. A truncated gzip file (a hard kill while
    recording) yields every complete line before the damage, then stops with ``truncated`` set.
    """

    paths: list[Path]
    lines: int = 0
    malformed: int = 0
    truncated: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[RecordingLine]:
        for path in self.paths:
            yield from self._read(Path(path))

    def _read(self, path: Path) -> Iterator[RecordingLine]:
        opener = gzip.open if path.suffix in (".gz", ".gzip") else open
        line_no = 0
        try:
            with opener(path, "rb") as f:
                for raw in f:
                    line_no += 1
                    ts_text, sep, payload = raw.rstrip(b"\r\n").partition(b" ")
                    if not sep or not ts_text.isdigit() or len(ts_text) > 19:
                        self.malformed += 1
                        if raw.strip():
                            log.debug("%s:%d: no timestamp, skipped", path, line_no)
                        continue
                    self.lines += 1
                    yield RecordingLine(to_ns(int(ts_text)), payload, line_no)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            self.truncated.append(str(path))
            log.warning("%s: damaged or truncated after line %d (%s); read up to there", path, line_no, exc)
