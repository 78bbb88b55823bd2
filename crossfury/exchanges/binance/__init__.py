# SPDX-License-Identifier: MIT
"""Binance: spot, USD-M and COIN-M futures, Portfolio Margin.

The specs live in ``crossfury.exchanges.binance.spec`` (SPOT, USDM, COINM); this package init stays empty
because ``crossfury.book`` reads the layouts beside it at import time.
"""
