# SPDX-License-Identifier: MIT
"""Compare immutable record types for the normalised messages: construction and attribute read cost.

Run ``python benchmarks/bench_messages.py`` for a table of nanoseconds per operation, all candidates
measured in the same run, or ``pytest benchmarks/bench_messages.py`` for pytest-benchmark. Each candidate
is a Trade with the nine fields of ``crossfury.events.Trade``.
"""

from __future__ import annotations

import timeit
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec

from crossfury.events import Exchange, MarketType, Side, Trade

_FIELDS = ("exchange", "market", "symbol", "exch_ts", "local_ts", "px", "qty", "side", "trade_id")
_VALUES = (
    Exchange.BINANCE,
    MarketType.SPOT,
    "BTC-USDT",
    1_700_000_000_000_000_000,
    1_700_000_000_000_500_000,
    43_000.5,
    0.25,
    Side.BUY,
    "123456789",
)
_KWARGS = dict(zip(_FIELDS, _VALUES))


class StructGcOff(msgspec.Struct, frozen=True, gc=False):
    exchange: Exchange
    market: MarketType
    symbol: str
    exch_ts: int
    local_ts: int
    px: float
    qty: float
    side: Side
    trade_id: str


class StructGcOn(msgspec.Struct, frozen=True):
    exchange: Exchange
    market: MarketType
    symbol: str
    exch_ts: int
    local_ts: int
    px: float
    qty: float
    side: Side
    trade_id: str


class TupleTrade(NamedTuple):
    exchange: Exchange
    market: MarketType
    symbol: str
    exch_ts: int
    local_ts: int
    px: float
    qty: float
    side: Side
    trade_id: str


@dataclass(frozen=True, slots=True)
class DataclassTrade:
    exchange: Exchange
    market: MarketType
    symbol: str
    exch_ts: int
    local_ts: int
    px: float
    qty: float
    side: Side
    trade_id: str


class SlotsTrade:
    # Immutability costs a __setattr__ override, so __init__ must go through object.__setattr__.
    __slots__ = _FIELDS

    def __init__(self, exchange, market, symbol, exch_ts, local_ts, px, qty, side, trade_id):
        setattr_ = object.__setattr__
        setattr_(self, "exchange", exchange)
        setattr_(self, "market", market)
        setattr_(self, "symbol", symbol)
        setattr_(self, "exch_ts", exch_ts)
        setattr_(self, "local_ts", local_ts)
        setattr_(self, "px", px)
        setattr_(self, "qty", qty)
        setattr_(self, "side", side)
        setattr_(self, "trade_id", trade_id)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"SlotsTrade is immutable: cannot set {name}")


#: name -> (class, accepts positional arguments)
CANDIDATES: dict[str, tuple[type, bool]] = {
    "crossfury.events.Trade (chosen)": (Trade, False),
    "msgspec.Struct frozen gc=False": (StructGcOff, True),
    "msgspec.Struct frozen gc=True": (StructGcOn, True),
    "typing.NamedTuple": (TupleTrade, True),
    "dataclass frozen slots": (DataclassTrade, True),
    "__slots__ class frozen": (SlotsTrade, True),
}


def _ns_per_op(stmt: str, namespace: dict[str, Any], number: int) -> float:
    # Bind everything to locals in setup so the statement pays no global lookups.
    setup = f"c = cls; o = obj; {', '.join(_FIELDS)} = args"
    timer = timeit.Timer(stmt, setup=setup, globals=namespace)
    return min(timer.repeat(repeat=7, number=number)) / number * 1e9


def measure(number: int = 200_000) -> list[tuple[str, float, float | None, float]]:
    """Measure every candidate: (name, keyword construct ns, positional construct ns, attribute read ns)."""
    kw_stmt = f"c({', '.join(f'{f}={f}' for f in _FIELDS)})"
    pos_stmt = f"c({', '.join(_FIELDS)})"
    rows = []
    for name, (cls, positional) in CANDIDATES.items():
        ns = {"cls": cls, "args": _VALUES, "obj": cls(**_KWARGS)}
        overhead_ns = _ns_per_op("pass", ns, number)
        kw_ns = _ns_per_op(kw_stmt, ns, number) - overhead_ns
        pos_ns = _ns_per_op(pos_stmt, ns, number) - overhead_ns if positional else None
        read_ns = _ns_per_op("o.px", ns, number) - overhead_ns
        rows.append((name, kw_ns, pos_ns, read_ns))
    return rows


def main() -> None:
    """Print the comparison table."""
    header = f"{'candidate':34} {'construct kw':>13} {'construct pos':>14} {'read attr':>10}   (ns/op)"
    print(header)
    print("-" * len(header))
    for name, kw_ns, pos_ns, read_ns in measure():
        pos = f"{pos_ns:14.1f}" if pos_ns is not None else f"{'-':>14}"
        print(f"{name:34} {kw_ns:13.1f} {pos} {read_ns:10.1f}")


def pytest_generate_tests(metafunc: Any) -> None:
    if "candidate" in metafunc.fixturenames:
        metafunc.parametrize("candidate", list(CANDIDATES))


def test_construct_keywords(benchmark: Any, candidate: str) -> None:
    cls, _ = CANDIDATES[candidate]
    trade = benchmark(cls, **_KWARGS)
    assert (trade.px, trade.trade_id) == (43_000.5, "123456789")


def test_read_attribute(benchmark: Any, candidate: str) -> None:
    cls, _ = CANDIDATES[candidate]
    trade = cls(**_KWARGS)
    assert benchmark(lambda: trade.px) == 43_000.5


if __name__ == "__main__":
    main()
