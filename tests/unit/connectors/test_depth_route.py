# SPDX-License-Identifier: MIT
"""The connector's native depth path (crossfury._native.route) driven through the native listener, no socket.

Frames are Binance USD-M combined-stream depth messages (protocols/binance.md §3), made by hand.
"""

from __future__ import annotations

import json
import types

import pytest
from picows.picows import WSMsgType, _make_test_ws_frame

from crossfury._native.frames import FrameListener
from crossfury._native.route import DepthRoute, DepthRouter
from crossfury.book import SyncedBook, SyncStatus
from crossfury.core.errors import DecodeError
from crossfury.events import BookSnapshot, Exchange, MarketType
from crossfury.exchanges.binance.hooks import STREAM_PREFIX

STREAM = "btcusdt@depth@100ms"
SNAPSHOT = {"lastUpdateId": 100, "bids": [["100.00", "1.000"], ["99.90", "2.000"], ["99.80", "3.000"]],
            "asks": [["100.10", "1.500"], ["100.20", "2.500"]]}
LEVELS = 2


def depth(first_id: int, last_id: int, prev_id: int, bids, asks, stream: str = STREAM, exch_ms: int = 1_700_000_000_123
          ) -> bytes:
    data = {"e": "depthUpdate", "E": exch_ms, "T": exch_ms - 3, "s": "BTCUSDT", "U": first_id, "u": last_id,
            "pu": prev_id, "b": bids, "a": asks}
    return json.dumps({"stream": stream, "data": data}, separators=(",", ":")).encode()


# A bridging event (U <= 100 <= u), then one that continues it (pu == previous u).
BRIDGE = depth(95, 105, 94, [["100.00", "1.100"]], [["100.10", "0"]], exch_ms=1_700_000_000_200)
NEXT = depth(106, 110, 105, [["100.05", "0.500"]], [["100.30", "4.000"]], exch_ms=1_700_000_000_300)


class Harness:
    """One book behind a DepthRoute, a DepthRouter and a FrameListener, recording every hand-back."""

    def __init__(self, snapshot: bool = True, direct: bool = True):
        self.book = SyncedBook("prev-id", "0.01", "0.001")
        if snapshot:
            self.book.on_snapshot(SNAPSHOT)
        self.owner = types.SimpleNamespace(local_ts=0)
        self.delivered: list[BookSnapshot] = []
        self.targets = [self.delivered.append]
        self.statuses: list[tuple[SyncStatus, int]] = []
        self.malformed: list[Exception] = []
        self.failed_targets: list = []
        self.python_path: list[tuple[bytes, int]] = []
        self.handler_errors = 0
        self.route = DepthRoute(self.book, self.owner, self.targets, LEVELS, BookSnapshot, Exchange.BINANCE,
                                MarketType.PERPETUAL, "BTC-USDT-PERP", 1_000_000,
                                lambda status, ts: self.statuses.append((status, ts)), self.malformed.append,
                                self.failed_targets.append)
        self.raw_sinks: list = []
        self.router = DepthRouter(STREAM_PREFIX, {STREAM.encode(): self.route}, self.raw_sinks)
        self.router.direct = direct
        self.clock = iter(range(10_000, 10_000_000, 1000))
        self.listener = FrameListener(lambda p, ts: self.python_path.append((p, ts)), None, self._handler_failed,
                                      None, lambda: next(self.clock), self.router)

    def _handler_failed(self) -> None:
        self.handler_errors += 1

    def frame(self, payload: bytes) -> None:
        self.listener.on_ws_frame(None, _make_test_ws_frame(WSMsgType.TEXT, payload, True, False))

    def expected(self, local_ts: int) -> BookSnapshot:
        # What the connector's Python depth handler built before the native path: the book's public readers.
        bids, asks = self.book.top_levels(LEVELS)
        return BookSnapshot(exchange=Exchange.BINANCE, market=MarketType.PERPETUAL,
                            exch_ts=self.book.last_exch_ts * 1_000_000, local_ts=local_ts, symbol="BTC-USDT-PERP",
                            bids=bids, asks=asks, last_id=self.book.last_id)


def test_depth_router_feeds_the_book_and_delivers_its_top_in_one_call_per_frame():
    h = Harness()

    h.frame(BRIDGE)
    first = h.expected(10_000)
    h.frame(NEXT)

    assert h.delivered == [first, h.expected(11_000)]
    assert h.delivered[-1].bids == ((100.05, 0.5), (100.0, 1.1)) and h.delivered[-1].asks == ((100.2, 2.5), (100.3, 4.0))
    assert h.delivered[-1].last_id == 110 and h.delivered[-1].exch_ts == 1_700_000_000_300 * 1_000_000
    assert h.owner.local_ts == 11_000
    assert h.route.frames == 2 and h.listener.messages == 2
    assert h.python_path == [] and h.statuses == [] and h.malformed == []


def test_native_and_python_paths_deliver_equal_messages():
    native, python = Harness(), Harness(direct=False)

    for payload in (BRIDGE, NEXT):
        native.frame(payload)
        python.frame(payload)
    for payload, local_ts in python.python_path:  # what the connector's receive() does with a depth stream
        python.route(payload, local_ts)

    assert native.delivered == python.delivered and len(native.delivered) == 2
    assert native.route.frames == 2 and python.route.frames == 0


def _respell(payload: bytes, how: str) -> bytes:
    head, _, data = payload[:-1].partition(b',"data":')
    if how == "member after data":
        return head + b',"data":' + data + b',"x":{"y":[1]}}'
    if how == "spaces":
        return head + b', "data": ' + data + b' }\n'
    return b'{"data":' + data + b',' + head[1:] + b"}"  # stream after data: the router leaves it to Python


@pytest.mark.parametrize("how", ["member after data", "spaces", "stream last"])
def test_other_spellings_of_the_envelope_deliver_what_the_compact_one_does(how):
    compact, other = Harness(), Harness()

    for payload in (BRIDGE, NEXT):
        compact.frame(payload)
        other.frame(_respell(payload, how))
    for payload, local_ts in other.python_path:
        other.route(payload, local_ts)

    assert other.delivered == compact.delivered and len(compact.delivered) == 2
    assert other.malformed == [] and other.statuses == []
    assert other.route.frames == (0 if how == "stream last" else 2)


@pytest.mark.parametrize("payload, why", [
    (BRIDGE[BRIDGE.index(b'"data":') + 7:-1], "no combined-stream envelope"),
    (depth(95, 105, 94, [], [], stream="ethusdt@depth@100ms"), "a stream with no route"),
    (b'{"stream":"btcusdt@depth@100', "a stream name with no end"),
    (b'{"result":null,"id":1}', "a control reply"),
])
def test_depth_router_leaves_other_frames_to_the_python_path(payload, why):
    h = Harness()

    h.frame(payload)

    assert h.python_path == [(payload, 10_000)], why
    assert h.route.frames == 0 and h.delivered == []


def test_depth_router_steps_aside_while_a_rotation_or_a_raw_sink_needs_the_bytes():
    h = Harness()
    h.router.direct = False
    h.frame(BRIDGE)
    h.router.direct = True
    h.raw_sinks.append(lambda *a: None)
    h.frame(NEXT)

    assert [p for p, _ in h.python_path] == [BRIDGE, NEXT]
    assert h.route.frames == 0 and h.book.last_id == 100


def test_depth_route_hands_other_statuses_and_refused_messages_back():
    h = Harness(snapshot=False)

    h.frame(BRIDGE)                     # no snapshot yet: buffered
    h.book.on_snapshot(SNAPSHOT)        # bridges the buffered event
    h.frame(b'{"stream":"' + STREAM.encode() + b'","data":{"e":"depthUpdate","U":1,"u":}}')  # malformed
    h.frame(depth(120, 130, 119, [["100.00", "1"]], []))  # pu 119 != 105: a gap

    assert h.statuses == [(SyncStatus.BUFFERED, 10_000), (SyncStatus.GAP, 12_000)]
    assert len(h.malformed) == 1 and isinstance(h.malformed[0], DecodeError)
    assert h.delivered == [] and not h.book.synced
    assert h.route.frames == 3 and h.handler_errors == 0


def test_depth_route_isolates_a_failing_consumer():
    h = Harness()

    def broken(msg) -> None:
        raise RuntimeError("consumer bug")

    h.targets.insert(0, broken)
    h.frame(BRIDGE)

    assert h.failed_targets == [broken]
    assert len(h.delivered) == 1 and h.handler_errors == 0


def test_depth_route_with_no_consumer_applies_without_building_a_message():
    h = Harness()
    h.targets.clear()

    h.frame(BRIDGE)

    assert h.book.last_id == 105 and h.owner.local_ts == 10_000 and h.delivered == []


def test_depth_route_on_a_closed_book_is_a_counted_handler_error():
    h = Harness()
    h.book.close()

    h.frame(BRIDGE)

    assert h.handler_errors == 1 and h.delivered == []


def test_depth_route_refuses_more_levels_than_top_levels_allows():
    with pytest.raises(ValueError, match="0..64"):
        DepthRoute(SyncedBook("prev-id"), None, [], 65, BookSnapshot, Exchange.BINANCE, MarketType.PERPETUAL, "X", 1,
                   None, None, None)


def test_depth_router_needs_a_stream_prefix():
    with pytest.raises(ValueError, match="stream_prefix"):
        DepthRouter(b"", {}, [])


def test_depth_route_reuses_a_side_whose_top_did_not_change_and_rebuilds_it_when_it_did():
    h = Harness()
    h.frame(BRIDGE)
    h.frame(depth(106, 107, 105, [["99.80", "3.500"]], []))   # below the top 2 bids; asks unchanged too
    h.frame(depth(108, 109, 107, [], [["100.20", "2.600"]]))  # the second ask changes

    first, deep, top = h.delivered
    assert deep.bids is first.bids and deep.asks is first.asks
    assert top.bids is first.bids and top.asks is not first.asks
    assert top.asks == ((100.2, 2.6),)
    assert (top.bids, top.asks) == h.book.top_levels(LEVELS)


def test_depth_route_keeps_the_tuples_of_unchanged_levels_when_the_top_moves():
    h = Harness()
    h.frame(BRIDGE)  # bids 100.00 x 1.1, 99.90 x 2; asks 100.20 x 2.5 (100.10 removed)
    h.frame(depth(106, 107, 105, [["100.00", "0"]], [["100.15", "1"]]))  # best bid gone; an ask ahead
    h.frame(depth(108, 109, 107, [["99.90", "2.500"]], []))  # same price, new quantity

    first, moved, requantified = h.delivered
    assert moved.bids == ((99.9, 2.0), (99.8, 3.0)) and moved.asks == ((100.15, 1.0), (100.2, 2.5))
    assert moved.bids[0] is first.bids[1] and moved.asks[1] is first.asks[0]
    assert requantified.bids == ((99.9, 2.5), (99.8, 3.0)) and requantified.bids[1] is moved.bids[1]
    assert (requantified.bids, requantified.asks) == h.book.top_levels(LEVELS)


def test_depth_route_rebuilds_a_side_when_an_inferred_grid_grows():
    h = Harness()
    h.book = SyncedBook("prev-id")  # no tick or lot size: the grid follows the decimals seen
    h.book.on_snapshot({"lastUpdateId": 100, "bids": [["100.1", "1"], ["100.0", "1"]], "asks": [["100.2", "1"]]})
    h.route = DepthRoute(h.book, h.owner, h.targets, LEVELS, BookSnapshot, Exchange.BINANCE, MarketType.PERPETUAL,
                         "BTC-USDT-PERP", 1_000_000, None, None, None)
    h.listener.router = DepthRouter(STREAM_PREFIX, {STREAM.encode(): h.route}, [])

    h.frame(depth(95, 105, 94, [["100.1", "2"]], []))
    h.frame(depth(106, 107, 105, [["98.05", "1"]], []))  # a deep level with two decimals: every tick count x10

    first, grown = h.delivered
    assert grown.bids == first.bids == ((100.1, 2.0), (100.0, 1.0)) and grown.asks == first.asks == ((100.2, 1.0),)
    assert grown.bids is not first.bids and grown.asks is not first.asks  # same values, other ticks: rebuilt
    assert (grown.bids, grown.asks) == h.book.top_levels(LEVELS)
