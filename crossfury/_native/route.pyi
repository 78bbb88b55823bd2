# SPDX-License-Identifier: MIT
from collections.abc import Callable
from typing import Any

from crossfury._native.book import NativeBook
from crossfury._native.frames import FrameRouter
from crossfury._native.status import SyncStatus
from crossfury.events import BookSnapshot, Exchange, MarketType, Message

class DepthRoute:
    frames: int
    def __init__(self, book: NativeBook, owner: Any, targets: list[Callable[[Message], Any]], levels: int,
                 message: type[BookSnapshot], exchange: Exchange, market: MarketType, symbol: str,
                 time_scale_ns: int,
                 on_status: Callable[[SyncStatus, int], Any], on_malformed: Callable[[Exception], Any],
                 on_callback_error: Callable[[Callable[[Message], Any]], Any]) -> None: ...
    def __call__(self, payload: bytes, local_ts: int) -> None: ...

class DepthRouter(FrameRouter):
    direct: bool
    def __init__(self, stream_prefix: bytes, routes: dict[bytes, DepthRoute],
                 raw_sinks: list[Any]) -> None: ...
