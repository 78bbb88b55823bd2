# SPDX-License-Identifier: MIT
"""ccxt's async Binance USD-M client, pointed at crossfury.sim, trades as it would on Binance."""

from __future__ import annotations

import asyncio

import pytest

from crossfury.sim import BinanceSim

ccxt = pytest.importorskip("ccxt.async_support", reason="ccxt is a test extra (pip install -e .[test])")

KEY, SECRET = "ccxt-key-7f", "ccxt-secret-2b"
SYMBOL = "BTC/USDT:USDT"


def test_ccxt_binanceusdm_trades_against_sim():
    async def body():
        async with BinanceSim("usdm", events_per_s=50, api_key=KEY, api_secret=SECRET) as sim:
            await asyncio.sleep(0.2)
            ex = ccxt.binanceusdm({"apiKey": KEY, "secret": SECRET,
                                   "options": {"fetchMarkets": {"types": ["linear"]}, "fetchCurrencies": False}})
            for name, url in list(ex.urls["api"].items()):
                if isinstance(url, str) and url.startswith("https://fapi.binance.com"):
                    ex.urls["api"][name] = url.replace("https://fapi.binance.com", sim.rest_url)
            try:
                await ex.load_markets()
                order = await ex.create_order(SYMBOL, "limit", "buy", 0.01, 60000)
                assert order["status"] == "open"
                assert [o["id"] for o in await ex.fetch_open_orders(SYMBOL)] == [order["id"]]
                assert (await ex.cancel_order(order["id"], SYMBOL))["status"] == "canceled"
                market = await ex.create_order(SYMBOL, "market", "buy", 0.01)
                assert market["status"] == "closed" and market["filled"] == pytest.approx(0.01)
                balance = await ex.fetch_balance()
                assert 0 < balance["USDT"]["total"] < 100000
                positions = await ex.fetch_positions([SYMBOL])
                assert [p["contracts"] for p in positions if p["contracts"]] == [pytest.approx(0.01)]
                bad = ccxt.binanceusdm({"apiKey": KEY, "secret": "not-the-secret", "urls": ex.urls,
                                        "options": {"fetchMarkets": {"types": ["linear"]}}})
                bad.markets, bad.markets_by_id = ex.markets, ex.markets_by_id
                with pytest.raises(ccxt.AuthenticationError):
                    await bad.fetch_balance()
                await bad.close()
            finally:
                await ex.close()
    asyncio.run(asyncio.wait_for(body(), 60))
