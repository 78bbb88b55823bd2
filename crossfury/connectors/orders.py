# SPDX-License-Identifier: MIT
"""The order manager: every order's state from submission to final, keyed by client order id.

Updates come from three places (the REST reply, the user stream, reconciliation) in any order and possibly
twice. An update is applied only when it moves the order forward: more filled quantity, or the same filled
quantity with a later state (new < partially filled < final), or a later amendment. Fills are kept once per
(order id, trade id), so a fill seen on the stream and again in the REST trade list counts once.
"""

from __future__ import annotations

from crossfury.events import Fill, OrderStatus, OrderUpdate

_RANK = {OrderStatus.NEW: 0, OrderStatus.PARTIALLY_FILLED: 1, OrderStatus.FILLED: 2, OrderStatus.CANCELED: 2,
         OrderStatus.REJECTED: 2, OrderStatus.EXPIRED: 2}


class OrderManager:
    """Track orders by client order id; apply updates and fills idempotently."""

    def __init__(self) -> None:
        self.orders: dict[str, OrderUpdate] = {}
        self._fills: dict[str, dict[str, Fill]] = {}  # client order id -> trade id -> fill
        self._by_order_id: dict[str, str] = {}
        self.stale = 0       # updates ignored as older than the state held
        self.duplicates = 0  # fills seen before

    def apply(self, update: OrderUpdate) -> bool:
        """Apply an order update; return True when it changed the order's state (then pass it on)."""
        cid = update.client_order_id
        cur = self.orders.get(cid)
        if cur is not None and cur.order_id and update.order_id and cur.order_id != update.order_id:
            if not cur.status.is_final:  # a different order under a reused id while ours is live: keep ours
                self.stale += 1
                return False
        elif cur is not None and (cur == update or self._older(update, cur)):
            self.stale += 1
            return False
        self.orders[cid] = update
        if update.order_id:
            self._by_order_id[update.order_id] = cid
        return True

    @staticmethod
    def _older(update: OrderUpdate, cur: OrderUpdate) -> bool:
        if cur.status.is_final:
            return True  # a final state never changes
        if update.filled_qty != cur.filled_qty:
            return update.filled_qty < cur.filled_qty
        rank, cur_rank = _RANK[update.status], _RANK[cur.status]
        if rank != cur_rank:
            return rank < cur_rank
        # Same fill and state: an amendment (new px/qty) is newer when its exchange time is not older.
        return update.exch_ts < cur.exch_ts or (update.px == cur.px and update.qty == cur.qty)

    def add_fill(self, fill: Fill) -> bool:
        """Record a fill; return False when it was already recorded."""
        cid = fill.client_order_id or self._by_order_id.get(fill.order_id, "")
        fills = self._fills.setdefault(cid, {})
        if fill.trade_id in fills:
            self.duplicates += 1
            return False
        fills[fill.trade_id] = fill
        return True

    def get(self, client_order_id: str) -> OrderUpdate | None:
        """Return the latest state of an order, or None if unknown."""
        return self.orders.get(client_order_id)

    def client_id_of(self, order_id: str) -> str | None:
        """Return the client order id of an exchange order id seen before."""
        return self._by_order_id.get(order_id)

    def fills(self, client_order_id: str) -> list[Fill]:
        """Return the fills of an order in arrival order."""
        return list(self._fills.get(client_order_id, {}).values())

    def filled_qty(self, client_order_id: str) -> float:
        """Return the quantity filled per the fills recorded (compare with the order's ``filled_qty``)."""
        return sum(f.qty for f in self._fills.get(client_order_id, {}).values())

    def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Return the orders not in a final state (of a symbol)."""
        return [o for o in self.orders.values() if not o.status.is_final and (symbol is None or o.symbol == symbol)]
