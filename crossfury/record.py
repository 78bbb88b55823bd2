# SPDX-License-Identifier: MIT
"""Record an exchange's raw feed: a connector's raw messages and snapshot bodies into the recorder's files.

The connector keeps the books in sync (so a resync fetches and records a new snapshot, exactly what a
replay needs); the recorder writes every routed message and snapshot body with its receive time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from crossfury.connectors import Connector, create_connector
from crossfury.core.errors import CrossfuryError
from crossfury.events import Channel
from crossfury.recorder.writer import Recorder, install_signal_handlers

log = logging.getLogger(__name__)

DEFAULT_CHANNELS = (Channel.BOOK, Channel.TRADES, Channel.BBO)


async def record(exchange: str, symbols: Iterable[str], out_dir: str | Path, *, endpoint: str | None = None,
                 channels: Iterable[Channel | str] = DEFAULT_CHANNELS, duration_s: float | None = None,
                 stop: asyncio.Event | None = None, connector: Connector | None = None,
                 **connector_options: Any) -> dict[str, Any]:
    """Record until ``duration_s`` passes, ``stop`` is set, or SIGINT/SIGTERM; return a summary.

    Raises ``RecorderError`` when the disk fails (files stay readable up to the last flushed block).
    """
    stop = stop or asyncio.Event()
    recorder = Recorder(out_dir)
    conn = connector or create_connector(exchange, endpoint=endpoint, **connector_options)
    install_signal_handlers(asyncio.get_running_loop(), stop.set)
    failure: BaseException | None = None

    def sink(symbol: str, local_ts: int, payload: bytes) -> None:
        nonlocal failure
        if failure is None:
            try:
                recorder.write(symbol, local_ts, payload)
            except CrossfuryError as exc:  # disk full, unwritable: stop everything, loudly
                failure = exc
                stop.set()

    conn.add_raw_sink(sink)
    try:
        async with conn:
            await conn.subscribe(list(symbols), list(channels))
            try:
                await asyncio.wait_for(stop.wait(), duration_s)
            except TimeoutError:
                pass
            health = conn.health()
    finally:
        conn.remove_raw_sink(sink)
        try:
            recorder.close()
        except CrossfuryError as exc:
            failure = failure or exc
    if failure is not None:
        raise failure
    stats = recorder.stats()
    return {"out_dir": str(out_dir), "files": [str(f) for f in stats["files"]], "lines": stats["lines"],
            "bytes": stats["bytes"], "gaps": health["gaps"], "reconnects": health["reconnects"]}
