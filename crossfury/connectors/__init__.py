# SPDX-License-Identifier: MIT
"""Exchange connectors: one async, push-based interface over every exchange spec.

>>> import crossfury.connectors as cc
>>> async def main():                                                   # doctest: +SKIP
...     async with cc.create_connector("binance-usdm") as conn:
...         await conn.subscribe(["BTC-USDT-PERP", "ETH-USDT-PERP"], ["book", "trades"])
...         async for msg in conn.messages():
...             print(msg.symbol, conn.order_book(msg.symbol, 1))
"""

from crossfury.connectors.base import Callback, ExchangeConnector, MessageStream, OrderBookView
from crossfury.connectors.connector import Connector, ConnectorConfig, RawSink, create_connector

__all__ = ["Callback", "Connector", "ConnectorConfig", "ExchangeConnector", "MessageStream", "OrderBookView",
           "RawSink", "create_connector"]
