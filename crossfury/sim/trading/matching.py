# SPDX-License-Identifier: MIT
"""The matching engine of the simulated account: order checks, price-time matching against the simulated
public book, maker fills when the market trades or quotes through a resting order, and the balance and
position accounting of every fill (protocols/binance.md section 8).

A part of ``SimTrading``: it uses the account's state (``free``, ``locked``, ``positions``, ``orders``,
``resting``, ``fills``) and announces changes through the user-stream side (``_emit_order``, ``_emit_account``).
"""

from __future__ import annotations

import asyncio
import secrets as _random
from decimal import Decimal

from crossfury.sim.market import SymbolState, parse_units
from crossfury.sim.trading.common import (
    _FEES,
    _FINAL,
    _ZERO,
    ApiError,
    SimFill,
    SimOrder,
    _now_ms,
    _scope,
)


class MatchingEngine:
    """Order validation, matching and fill accounting (mixed into ``SimTrading``)."""

    # -- parameters -----------------------------------------------------------------------------------

    def _state(self, params: dict[str, str]) -> SymbolState:
        symbol = params.get("symbol")
        if not symbol:
            raise ApiError(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        st = self.sim.market.symbols.get(symbol)
        if st is None:
            raise ApiError(400, -1121, "Invalid symbol.")
        return st

    @staticmethod
    def _required(params: dict[str, str], name: str) -> str:
        value = params.get(name)
        if not value:
            raise ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        return value

    def _units(self, st: SymbolState, text: str, what: str) -> int:
        spec = st.spec
        decimals, step = ((spec.price_decimals, spec.tick_units) if what == "price"
                          else (spec.qty_decimals, spec.step_units))
        try:
            units = parse_units(text, decimals)
        except ValueError:
            raise ApiError(400, -1111, "Precision is over the maximum defined for this asset.") from None
        if units <= 0:
            raise ApiError(400, -4003 if self.futures else -1013,
                           "Quantity less than or equal to zero." if what == "quantity" else "Price less than or equal to zero.")
        if units % step:
            name = "PRICE_FILTER" if what == "price" else "LOT_SIZE"
            raise ApiError(400, -1013, f"Filter failure: {name}")
        return units

    def _find(self, params: dict[str, str], st: SymbolState, api: str, code: int, msg: str) -> SimOrder:
        oid, cid = params.get("orderId"), params.get("origClientOrderId")
        order = None
        if oid:
            order = self.orders.get(int(oid)) if oid.isdigit() else None
        elif cid:
            order = self.by_client.get((st.spec.symbol, cid))
        else:
            raise ApiError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        if order is None or order.symbol != st.spec.symbol or _scope(order.api) != _scope(api):
            raise ApiError(400, code, msg)
        return order

    # -- matching -------------------------------------------------------------------------------------

    def _walk(self, st: SymbolState, buy: bool, limit_px: int, qty: int) -> list[tuple[int, int]]:
        book = st.asks if buy else st.bids
        out, left = [], qty
        for px in sorted(book, reverse=not buy):
            if left <= 0 or (limit_px and (px > limit_px if buy else px < limit_px)):
                break
            take = min(left, book[px])
            out.append((px, take))
            left -= take
        return out

    def _take(self, st: SymbolState, order: SimOrder, levels: list[tuple[int, int]]) -> list[SimFill]:
        market, now = self.sim.market, _now_ms()
        fills = []
        book = st.asks if order.is_buy else st.bids
        self._matching_own = True
        try:
            for px, qty in levels:
                market.add_trade(st, px, qty, not order.is_buy, now, now + 1)
                market.set_level(st, not order.is_buy, px, book.get(px, 0) - qty)
                fills.append(self._fill(st, order, px, qty, maker=False, now=now))
        finally:
            self._matching_own = False
        if levels:
            self._flush(st, now)
        return fills

    def _flush(self, st: SymbolState, now: int) -> None:
        market = self.sim.market
        n = max(1, len(st.pend_b) + len(st.pend_a))
        last = st.last_update_id
        if market.futures:  # the depth event ids follow the feed's rules (binance.md 5.1, 5.2)
            market.flush_event(st, last + 1, last + n, last, now + 1, now)
        else:
            market.flush_event(st, last + 1, last + n, last, now, now)
        if not self.sim.generating:  # nobody else publishes these
            out = market.take()
            if out:
                asyncio.ensure_future(self.sim.hub.publish(out))

    def _trade_through(self, st: SymbolState, px: int, qty: int, taker_sells: bool) -> None:
        # A public taker reached our price: our resting orders on that side fill first, best price then time.
        book = self.resting.get(st.spec.symbol, [])
        left = qty
        for order in sorted((o for o in book if o.is_buy == taker_sells),
                            key=lambda o: (-o.px if o.is_buy else o.px, o.seq)):
            if left <= 0 or (px > order.px if order.is_buy else px < order.px):
                break
            take = min(left, order.remaining)
            left -= take
            self._maker_fill(st, order, take)

    def _cross_resting(self, st: SymbolState) -> None:
        # The public book moved through a resting order's price: it fills as a maker against those levels.
        bb, ba = st.best_bid(), st.best_ask()
        for order in sorted(self.resting.get(st.spec.symbol, []), key=lambda o: o.seq):
            if order.is_buy and ba is not None and ba <= order.px:
                self._maker_fill(st, order, min(order.remaining, sum(q for p, q in st.asks.items() if p <= order.px)))
            elif not order.is_buy and bb is not None and bb >= order.px:
                self._maker_fill(st, order, min(order.remaining, sum(q for p, q in st.bids.items() if p >= order.px)))

    def _maker_fill(self, st: SymbolState, order: SimOrder, qty: int) -> None:
        if qty <= 0 or order.status in _FINAL:
            return
        fill = self._fill(st, order, order.px, qty, maker=True, now=_now_ms())
        self._after_fills(st, order, [fill])

    def _fill(self, st: SymbolState, order: SimOrder, px: int, qty: int, maker: bool, now: int) -> SimFill:
        spec = st.spec
        p, q = Decimal(px).scaleb(-spec.price_decimals), Decimal(qty).scaleb(-spec.qty_decimals)
        rate = _FEES[self.kind][0 if maker else 1]
        sign = Decimal(1 if order.is_buy else -1)
        realized = _ZERO
        order.filled += qty
        order.update_ms = now
        if self.kind == "spot":
            order.quote += p * q
            cost = p * q
            if order.is_buy:
                fee, fee_asset = q * rate, spec.base
                if order.locked:  # a limit buy holds price x qty; a better fill price returns the rest
                    release = Decimal(order.px).scaleb(-spec.price_decimals) * q
                    self.locked[spec.quote] -= release
                    order.locked -= release
                    self.free[spec.quote] = self.free.get(spec.quote, _ZERO) + release - cost
                else:
                    self.free[spec.quote] = self.free.get(spec.quote, _ZERO) - cost
                self.free[spec.base] = self.free.get(spec.base, _ZERO) + q - fee
            else:
                fee, fee_asset = cost * rate, spec.quote
                if order.locked:
                    self.locked[spec.base] -= q
                    order.locked -= q
                else:
                    self.free[spec.base] = self.free.get(spec.base, _ZERO) - q
                self.free[spec.quote] = self.free.get(spec.quote, _ZERO) + cost - fee
        else:
            coinm = self.kind == "coinm"
            asset = spec.margin_asset or spec.quote
            # COIN-M contracts are worth contract_size quote each: value in the base asset is qty*size/px.
            value = q * spec.contract_size / p if coinm else p * q
            order.quote += value
            fee, fee_asset = value * rate, asset
            pos = self.positions.setdefault(spec.symbol, [_ZERO, _ZERO, _ZERO])
            amount, entry = pos[0], pos[1]
            if amount == 0 or (amount > 0) == (sign > 0):
                total = abs(amount) + q
                pos[1] = (entry * abs(amount) + p * q) / total if not coinm else \
                    total / (abs(amount) / entry + q / p) if entry else p
                pos[0] = amount + sign * q
            else:
                closing = min(q, abs(amount))
                direction = Decimal(1 if amount > 0 else -1)
                if coinm:
                    realized = closing * spec.contract_size * (1 / entry - 1 / p) * direction
                else:
                    realized = closing * (p - entry) * direction
                pos[0] = amount + sign * q
                if pos[0] == 0:
                    pos[1] = _ZERO
                elif (pos[0] > 0) != (amount > 0):
                    pos[1] = p
            pos[2] += realized
            self.free[asset] = self.free.get(asset, _ZERO) + realized - fee
        fill = SimFill(order, next(self._trade_ids), px, qty, fee, fee_asset, maker, realized, now)
        self.fills.append(fill)
        self.counters["fills"] += 1
        return fill

    def _after_fills(self, st: SymbolState, order: SimOrder, fills: list[SimFill]) -> None:
        if order.remaining <= 0:
            order.status = "FILLED"
            self._unrest(order)
        elif order.filled:
            order.status = "PARTIALLY_FILLED"
        for fill in fills:
            self._emit_order(order, "TRADE", fill)
        if fills:
            self._emit_account(order, st)

    def _rest(self, order: SimOrder) -> None:
        self.resting.setdefault(order.symbol, []).append(order)

    def _unrest(self, order: SimOrder) -> None:
        book = self.resting.get(order.symbol)
        if book and order in book:
            book.remove(order)

    def _release(self, order: SimOrder) -> None:
        if self.kind == "spot" and order.locked:
            spec = self.sim.market.symbols[order.symbol].spec
            asset = spec.quote if order.is_buy else spec.base
            self.locked[asset] -= order.locked
            self.free[asset] += order.locked
            order.locked = _ZERO

    def _mark(self, st: SymbolState) -> Decimal:
        bb, ba = st.best_bid(), st.best_ask()
        units = (bb + ba) // 2 if bb and ba else st.last_px
        return Decimal(units).scaleb(-st.spec.price_decimals)

    def _unrealized(self, symbol: str) -> Decimal:
        amount, entry, _ = self.positions.get(symbol, [_ZERO, _ZERO, _ZERO])
        if not amount:
            return _ZERO
        st = self.sim.market.symbols[symbol]
        mark = self._mark(st)
        if self.kind == "coinm":
            return amount * st.spec.contract_size * (1 / entry - 1 / mark)
        return amount * (mark - entry)

    # -- new and cancel -------------------------------------------------------------------------------

    def _new_order(self, params: dict[str, str], api: str) -> tuple[SimOrder, list[SimFill]]:
        st = self._state(params)
        symbol = st.spec.symbol
        side = self._required(params, "side")
        if side not in ("BUY", "SELL"):
            raise ApiError(400, -1117, "Invalid side.")
        otype = self._required(params, "type")
        allowed = ("LIMIT", "MARKET", "LIMIT_MAKER") if api == "spot" else ("LIMIT", "MARKET")
        if otype not in allowed:
            raise ApiError(400, -1116, "Invalid orderType.")
        qty = self._units(st, self._required(params, "quantity"), "quantity")
        px, tif = 0, params.get("timeInForce", "GTC" if otype != "MARKET" else "")
        if otype in ("LIMIT", "LIMIT_MAKER"):
            px = self._units(st, self._required(params, "price"), "price")
            if otype == "LIMIT":
                tif = self._required(params, "timeInForce")
            else:
                tif = "GTC"
            valid_tif = ("GTC", "IOC", "FOK") if api == "spot" else ("GTC", "IOC", "FOK", "GTX", "GTD")
            if tif not in valid_tif:
                raise ApiError(400, -1115, "Invalid timeInForce.")
        cid = params.get("newClientOrderId") or f"sim-{_random.token_hex(8)}"
        if len(cid) > (32 if api == "papi" else 36):
            raise ApiError(400, -1100, "Illegal characters found in parameter 'newClientOrderId'.")
        old = self.by_client.get((symbol, cid))
        if old is not None and old.status not in _FINAL:
            raise ApiError(400, -2010, "Duplicate order sent.") if api == "spot" else \
                ApiError(400, -4116, "ClientOrderId is duplicated.")
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        buy = side == "BUY"
        if reduce_only:
            if api == "spot":
                raise ApiError(400, -1104, "Not all sent parameters were read; read 13 parameter(s) but was sent 14.")
            amount = self.positions.get(symbol, [_ZERO])[0]
            if amount == 0 or (amount > 0) == buy:
                raise ApiError(400, -2022, "ReduceOnly Order is rejected.")
        levels = self._walk(st, buy, px, qty)
        crosses = bool(levels)
        if crosses and otype == "LIMIT_MAKER":
            raise ApiError(400, -2010, "Order would immediately match and take.")
        if crosses and tif == "GTX":
            raise ApiError(400, -5022, "Due to the order could not be executed as maker, the Post Only order will be "
                                       "rejected. The order will not be recorded in the order book.")
        available = sum(q for _, q in levels)
        if tif == "FOK" and available < qty and api != "spot":
            raise ApiError(400, -5021, "Due to the order could not be filled immediately, the FOK order has been "
                                       "rejected. The order will not be recorded in the order book.")
        now = _now_ms()
        order = SimOrder(api, symbol, next(self._order_ids), cid, side, otype, tif, px, qty, reduce_only, now,
                         next(self._seq), update_ms=now)
        if api == "spot":
            self._lock(st, order, levels)
        self.orders[order.order_id] = order
        self.by_client[(symbol, cid)] = order
        self.counters["orders"] += 1
        self._emit_order(order, "NEW")
        fills: list[SimFill] = []
        if tif == "FOK" and available < qty:  # spot FOK: accepted, then expired (binance.md 8.1)
            order.status = "EXPIRED"
            self._release(order)
            self._emit_order(order, "EXPIRED")
            return order, fills
        if crosses:
            fills = self._take(st, order, levels)
            self._after_fills(st, order, fills)
        if order.remaining > 0:
            if otype == "MARKET" or tif in ("IOC", "FOK"):
                order.status = "EXPIRED"
                self._release(order)
                self._emit_order(order, "EXPIRED")
            else:
                self._rest(order)
        return order, fills

    def _lock(self, st: SymbolState, order: SimOrder, levels: list[tuple[int, int]]) -> None:
        spec = st.spec
        if order.is_buy:
            if order.type == "MARKET":
                need = sum(Decimal(p).scaleb(-spec.price_decimals) * Decimal(q).scaleb(-spec.qty_decimals)
                           for p, q in levels)
                lock = False
            else:
                need = Decimal(order.px).scaleb(-spec.price_decimals) * Decimal(order.qty).scaleb(-spec.qty_decimals)
                lock = True
            asset = spec.quote
        else:
            need, asset, lock = Decimal(order.qty).scaleb(-spec.qty_decimals), spec.base, order.type != "MARKET"
        if self.free.get(asset, _ZERO) < need:
            raise ApiError(400, -2010, "Account has insufficient balance for requested action.")
        if lock:
            self.free[asset] -= need
            self.locked[asset] = self.locked.get(asset, _ZERO) + need
            order.locked = need

    def _cancel(self, order: SimOrder) -> None:
        if order.status in _FINAL:
            raise ApiError(400, -2011, "Unknown order sent.")
        order.status = "CANCELED"
        order.update_ms = _now_ms()
        self._unrest(order)
        self._release(order)
        self._emit_order(order, "CANCELED")
