# SPDX-License-Identifier: MIT
"""The simulated account's records and shared helpers: orders, fills, Binance error replies, constants."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crossfury.core.errors import ConfigError

#: The funded starting balances of the simulated account, per market.
DEFAULT_BALANCES = {"spot": {"USDT": "100000", "BTC": "10", "ETH": "100", "SOL": "1000", "BNB": "100"},
                    "usdm": {"USDT": "100000", "USDC": "100000"},
                    "coinm": {"BTC": "10", "ETH": "100", "SOL": "1000", "BNB": "100"}}
_FEES = {"spot": (Decimal("0.001"), Decimal("0.001")), "usdm": (Decimal("0.0002"), Decimal("0.0004")),
         "coinm": (Decimal("0.0002"), Decimal("0.0004"))}  # (maker, taker)
_FINAL = ("FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH")
_ZERO = Decimal(0)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _num(d: Decimal) -> str:
    text = format(d.normalize(), "f") if d else "0"
    return text


class ApiError(Exception):
    """A Binance error reply: HTTP status, code and message."""

    def __init__(self, status: int, code: int, msg: str):
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


@dataclass
class SimOrder:
    """One order of the simulated account; prices and quantities in the symbol's wire units."""

    api: str  # spot, usdm, coinm, papi: which endpoints (and user stream) own it
    symbol: str
    order_id: int
    client_id: str
    side: str
    type: str
    tif: str
    px: int
    qty: int
    reduce_only: bool
    time_ms: int
    seq: int
    filled: int = 0
    quote: Decimal = _ZERO  # sum of px * qty of the fills (COIN-M: base value)
    status: str = "NEW"
    update_ms: int = 0
    locked: Decimal = _ZERO  # spot: what the order holds in balance

    @property
    def remaining(self) -> int:
        return self.qty - self.filled

    @property
    def is_buy(self) -> bool:
        return self.side == "BUY"


@dataclass
class SimFill:
    order: SimOrder
    trade_id: int
    px: int
    qty: int
    fee: Decimal
    fee_asset: str
    maker: bool
    realized: Decimal
    time_ms: int


def _load_public_key(pem: str):
    """Return the Ed25519 public key of a PEM block (SubjectPublicKeyInfo), or raise ConfigError."""
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
    except ImportError:
        raise ConfigError("an Ed25519 API key needs the 'cryptography' package: pip install crossfury[ed25519]") \
            from None
    try:
        key = load_pem_public_key(pem.strip().encode() + b"\n")
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the API public key is not a PEM public key ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError("the API public key must be an Ed25519 key")
    return key


def _scope(api: str) -> str:
    # PAPI UM orders and USD-M orders are separate books of orders on the same simulated account.
    return api
