# SPDX-License-Identifier: MIT
"""Test-side helpers for talking to crossfury.sim with aiohttp's own client (never crossfury's connector)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp

MAX_MSGS = 20_000


def run(body: Callable[[], Awaitable[Any]], timeout_s: float = 15.0) -> Any:
    """Run an async test body with a hard time limit."""
    return asyncio.run(asyncio.wait_for(body(), timeout=timeout_s))


async def recv(ws: aiohttp.ClientWebSocketResponse, timeout_s: float = 5.0) -> aiohttp.WSMessage:
    return await ws.receive(timeout=timeout_s)


async def recv_json(ws: aiohttp.ClientWebSocketResponse, timeout_s: float = 5.0) -> Any:
    msg = await recv(ws, timeout_s)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


def data_of(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["data"] if "stream" in obj and "data" in obj else obj


async def next_depth(ws: aiohttp.ClientWebSocketResponse, timeout_s: float = 5.0) -> dict[str, Any]:
    """Return the next diff-depth event, skipping acks and other streams."""
    for _ in range(MAX_MSGS):
        obj = data_of(await recv_json(ws, timeout_s))
        if isinstance(obj, dict) and obj.get("e") == "depthUpdate":
            return obj
    raise AssertionError("no depth event")


async def wait_closed(ws: aiohttp.ClientWebSocketResponse, timeout_s: float = 5.0) -> aiohttp.WSMessage:
    """Read until the server closes the connection; return the closing message."""
    for _ in range(MAX_MSGS):
        msg = await recv(ws, timeout_s)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING,
                        aiohttp.WSMsgType.ERROR):
            return msg
    raise AssertionError("connection stayed open")


class MiniBook:
    """A deliberately tiny client book: Decimal price -> wire quantity text."""

    def __init__(self, snapshot: dict[str, Any]):
        self.last_id = snapshot["lastUpdateId"]
        self.bids = {Decimal(p): q for p, q in snapshot["bids"]}
        self.asks = {Decimal(p): q for p, q in snapshot["asks"]}
        self.price_text = {Decimal(p): p for p, _ in snapshot["bids"] + snapshot["asks"]}

    def apply(self, ev: dict[str, Any]) -> None:
        for side, levels in ((self.bids, ev["b"]), (self.asks, ev["a"])):
            for p, q in levels:
                key = Decimal(p)
                self.price_text[key] = p
                if Decimal(q) == 0:
                    side.pop(key, None)
                else:
                    side[key] = q
        self.last_id = ev["u"]

    def levels(self, depth: int | None = None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        bids = [(self.price_text[p], self.bids[p]) for p in sorted(self.bids, reverse=True)[:depth]]
        asks = [(self.price_text[p], self.asks[p]) for p in sorted(self.asks)[:depth]]
        return bids, asks
