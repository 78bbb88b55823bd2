# SPDX-License-Identifier: MIT
"""The hftbacktest 2.4 event format: the row dtype and the event flags, as in ``hftbacktest.types``.

A row's ``ev`` is one event kind (low bits) ORed with flags: EXCH_EVENT and LOCAL_EVENT say which
processor sees the row (at ``exch_ts`` or ``local_ts``), BUY_EVENT and SELL_EVENT give the book side of a
depth event or the initiator of a trade. Defined here, not imported, so crossfury needs no hftbacktest.
"""

import numpy as np

#: One event row, 64 bytes, 8-byte aligned fields.
EVENT_DTYPE = np.dtype(
    [
        ("ev", "<u8"),
        ("exch_ts", "<i8"),
        ("local_ts", "<i8"),
        ("px", "<f8"),
        ("qty", "<f8"),
        ("order_id", "<u8"),
        ("ival", "<i8"),
        ("fval", "<f8"),
    ],
    align=True,
)

DEPTH_EVENT = 1  #: a book level changed; qty 0 removes it
TRADE_EVENT = 2  #: a public trade
DEPTH_CLEAR_EVENT = 3  #: the book is cleared (with a side flag: that side up to px)
DEPTH_SNAPSHOT_EVENT = 4  #: a level of a book snapshot
DEPTH_BBO_EVENT = 5  #: a best bid or best ask
ADD_ORDER_EVENT = 10  #: L3: an order was added to the book
CANCEL_ORDER_EVENT = 11  #: L3: an order was cancelled
MODIFY_ORDER_EVENT = 12  #: L3: an order was modified
FILL_EVENT = 13  #: L3: an order was filled

EXCH_EVENT = 1 << 31  #: the exchange processor handles the row at exch_ts
LOCAL_EVENT = 1 << 30  #: the local processor handles the row at local_ts
BUY_EVENT = 1 << 29  #: bid side of a depth event; buyer-initiated trade
SELL_EVENT = 1 << 28  #: ask side of a depth event; seller-initiated trade

#: Run a backtest to the end of its data (the largest int64).
UNTIL_END_OF_DATA = (1 << 63) - 1

__all__ = [
    "ADD_ORDER_EVENT",
    "BUY_EVENT",
    "CANCEL_ORDER_EVENT",
    "DEPTH_BBO_EVENT",
    "DEPTH_CLEAR_EVENT",
    "DEPTH_EVENT",
    "DEPTH_SNAPSHOT_EVENT",
    "EVENT_DTYPE",
    "EXCH_EVENT",
    "FILL_EVENT",
    "LOCAL_EVENT",
    "MODIFY_ORDER_EVENT",
    "SELL_EVENT",
    "TRADE_EVENT",
    "UNTIL_END_OF_DATA",
]
