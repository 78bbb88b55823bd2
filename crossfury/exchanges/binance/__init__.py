# SPDX-License-Identifier: MIT
"""Binance: spot, USD-M and COIN-M futures, Portfolio Margin."""
