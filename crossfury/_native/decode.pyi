# SPDX-License-Identifier: MIT
from typing import Any, Iterable

import numpy as np

FIELD_NAMES: tuple[str, ...]

class Layout:
    keys: dict[str, int]
    event: str | None
    name: str
    def __init__(self, name: str, keys: dict[str, int], required: Iterable[int] = ..., event: str | None = ...,
                 envelope: str | None = ..., stream: str | None = ...) -> None: ...
    def key_of(self, field: int) -> str | None: ...

def decode(layout: Layout, msg: bytes | str, what: str = ...) -> tuple[dict[str, Any], np.ndarray, np.ndarray]: ...
def decimal_to_float(text: str | bytes, what: str = ...) -> float: ...
def parse_decimal(text: str | bytes) -> tuple[int, int]: ...
