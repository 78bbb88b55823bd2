# SPDX-License-Identifier: MIT
from collections.abc import Callable
from typing import Any

from picows import WSFrame, WSListener, WSTransport

class FrameRouter: ...

class FrameListener(WSListener):
    messages: int
    last_message_ns: int
    router: FrameRouter | None
    def __init__(self, on_message: Callable[[bytes, int], Any],
                 on_other_frame: Callable[[WSTransport, WSFrame], Any], on_error: Callable[[], Any], on_disconnected: Callable[[], Any],
                 clock_ns: Callable[[], int] = ..., router: FrameRouter | None = ...) -> None: ...
    def deliver(self, payload: bytes) -> None: ...
