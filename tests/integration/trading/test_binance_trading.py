# SPDX-License-Identifier: MIT
"""Binance trading against crossfury.sim over real sockets: orders, fills, user streams, faults, secrets."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any, Self

import pytest
from aio_testing import run, until

from crossfury.connectors import create_connector
from crossfury.core.errors import ConfigError, ExchangeError
from crossfury.events import Channel, Fill, OrderStatus, OrderUpdate, TimeInForce
from crossfury.sim import BinanceSim, add_arguments, build_sim

KEY, SECRET = "test-key-Zq81", "test-secret-Xv93kd"
MARKETS = {"usdm": ("binance-usdm", "BTC-USDT-PERP", 0.01), "coinm": ("binance-coinm", "BTC-USD-PERP", 1),
           "papi": ("binance-papi", "BTC-USDT-PERP", 0.01), "spot": ("binance-spot", "BTC-USDT", 0.01)}



class Session:
    """A sim plus a trading connector on it, collecting every private message."""

    def __init__(self, market: str, secret: str = SECRET, sim_config: dict[str, Any] | None = None,
                 sim_cli: list[str] | None = None, **config: Any):
        self.market = market
        self.secret = secret
        self.sim_config = sim_config or {}
        self.sim_cli = sim_cli  # build the sim from these 'crossfury sim' options instead
        self.exchange, self.symbol, self.qty = MARKETS[market]
        self.sim_kind = "usdm" if market == "papi" else market
        self.config = config
        self.messages: list[Any] = []

    async def __aenter__(self) -> Self:
        if self.sim_cli is not None:
            parser = argparse.ArgumentParser()
            add_arguments(parser)
            self.sim = build_sim(parser.parse_args(["--exchange", f"binance-{self.sim_kind}", "--api-key", KEY,
                                                    "--api-secret", SECRET, *self.sim_cli]))
            await self.sim.start()
        else:
            self.sim = await BinanceSim(self.sim_kind, events_per_s=50, api_key=KEY, api_secret=SECRET,
                                        **self.sim_config).start()
        self.conn = create_connector(self.exchange, endpoint=self.sim.rest_url, api_key=KEY, api_secret=self.secret,
                                     **self.config)
        self.conn.add_callback(self.messages.append, [Channel.ORDERS, Channel.FILLS, Channel.BALANCES,
                                                      Channel.POSITIONS])
        await self.conn.connect()
        await until(lambda: self.sim.market.symbols[self.native].best_ask() is not None, what="a book")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close()
        await self.sim.stop()

    @property
    def native(self) -> str:
        return self.conn.instrument(self.symbol).native

    def best(self) -> tuple[float, float]:
        st = self.sim.market.symbols[self.native]
        scale = 10 ** st.spec.price_decimals
        return st.best_bid() / scale, st.best_ask() / scale

    def fills(self, cid: str) -> list[Fill]:
        return [m for m in self.messages if isinstance(m, Fill) and m.client_order_id == cid]

    def updates(self, cid: str) -> list[OrderUpdate]:
        return [m for m in self.messages if isinstance(m, OrderUpdate) and m.client_order_id == cid]


@pytest.mark.parametrize("market", ["usdm", "coinm", "papi", "spot"])
def test_trading_place_modify_cancel_round_trip(market):
    async def body():
        async with Session(market) as s:
            bid, _ = s.best()
            px = round(bid * 0.9, 1 if market != "spot" else 2)
            placed = await s.conn.place_order(s.symbol, "buy", s.qty, px=px, client_order_id="rt-1")
            assert placed.status is OrderStatus.NEW and placed.client_order_id == "rt-1"
            assert [o.client_order_id for o in await s.conn.open_orders(s.symbol)] == ["rt-1"]
            if market != "spot":
                modified = await s.conn.modify_order(s.symbol, "rt-1", px=round(px * 0.99, 1))
                assert modified.px == pytest.approx(round(px * 0.99, 1)) and modified.status is OrderStatus.NEW
            else:
                with pytest.raises(ConfigError):
                    await s.conn.modify_order(s.symbol, "rt-1", px=px * 0.99)
            cancelled = await s.conn.cancel_order(s.symbol, "rt-1")
            assert cancelled.status is OrderStatus.CANCELED
            assert await s.conn.open_orders(s.symbol) == []
            await until(lambda: any(u.status is OrderStatus.CANCELED for u in s.updates("rt-1")),
                        what="the cancel on the user stream")
            with pytest.raises(ExchangeError) as err:
                await s.conn.cancel_order(s.symbol, "rt-1")
            assert err.value.code == -2011
    run(body)


@pytest.mark.parametrize("market", ["usdm", "coinm", "papi", "spot"])
def test_trading_fills_arrive_on_user_stream_and_match_rest(market):
    async def body():
        async with Session(market) as s:
            result = await s.conn.place_order(s.symbol, "buy", s.qty, order_type="market", client_order_id="mk-1")
            assert result.status is OrderStatus.FILLED
            await until(lambda: sum(f.qty for f in s.fills("mk-1")) >= s.qty, what="fills on the user stream")
            fills = s.fills("mk-1")
            assert sum(f.qty for f in fills) == pytest.approx(s.qty)
            assert all(not f.is_maker and f.fee > 0 for f in fills)
            rest = await s.conn.trader.trades(s.symbol)
            assert sorted(f.trade_id for f in rest if f.client_order_id == "mk-1") == sorted(f.trade_id for f in fills)
            assert s.conn.order("mk-1").status is OrderStatus.FILLED
            if market != "spot":
                positions = await s.conn.positions()
                assert [p.qty for p in positions if p.symbol == s.symbol] == [pytest.approx(s.qty)]
                await until(lambda: any(type(m).__name__ == "Position" for m in s.messages), what="position event")
            balances = await s.conn.balances()
            assert balances and all(b.free >= 0 for b in balances)
            account = await s.conn.account()
            assert isinstance(account, dict)
    run(body)


def test_trading_post_only_ioc_fok_reduce_only_usdm():
    async def body():
        async with Session("usdm") as s:
            bid, ask = s.best()
            with pytest.raises(ExchangeError) as err:
                await s.conn.place_order(s.symbol, "buy", 0.01, px=ask, time_in_force="post_only")
            assert err.value.code == -5022
            with pytest.raises(ExchangeError) as err:
                await s.conn.place_order(s.symbol, "buy", 100000, px=ask, time_in_force="fok")
            assert err.value.code == -5021
            with pytest.raises(ExchangeError) as err:
                await s.conn.place_order(s.symbol, "sell", 0.01, order_type="market", reduce_only=True)
            assert err.value.code == -2022
            ioc = await s.conn.place_order(s.symbol, "buy", 0.01, px=bid * 0.5, time_in_force="ioc")
            assert ioc.status is OrderStatus.EXPIRED and ioc.filled_qty == 0
            resting = await s.conn.place_order(s.symbol, "buy", 0.01, px=round(bid - 50, 1), time_in_force="post_only")
            assert resting.status is OrderStatus.NEW and resting.time_in_force is TimeInForce.POST_ONLY
            await s.conn.place_order(s.symbol, "buy", 0.02, order_type="market")
            closing = await s.conn.place_order(s.symbol, "sell", 0.01, order_type="market", reduce_only=True)
            assert closing.status is OrderStatus.FILLED and closing.reduce_only
            cancelled = await s.conn.cancel_all(s.symbol)
            assert [o.status for o in cancelled] == [OrderStatus.CANCELED]
    run(body)


def test_trading_partial_fill_then_rest():
    async def body():
        async with Session("usdm") as s:
            await s.sim.pause()
            st = s.sim.market.symbols[s.native]
            ba = st.best_ask()
            top_qty = st.asks[ba] / 10 ** st.spec.qty_decimals
            px = ba / 10 ** st.spec.price_decimals
            order = await s.conn.place_order(s.symbol, "buy", round(top_qty + 0.5, 3), px=px, client_order_id="pf-1")
            assert order.status is OrderStatus.PARTIALLY_FILLED
            assert order.filled_qty == pytest.approx(top_qty)
            await until(lambda: s.conn.order("pf-1").filled_qty == pytest.approx(top_qty) and s.fills("pf-1"),
                        what="the partial fill event")
            assert [o.client_order_id for o in await s.conn.open_orders(s.symbol)] == ["pf-1"]
    run(body)


@pytest.mark.parametrize("market", ["usdm", "coinm", "spot"])
def test_trading_dropped_user_event_recovered_by_reconciliation(market):
    async def body():
        # The fault comes from the command line: dropped from the first events anyone listens to.
        async with Session(market, sim_cli=["--events-per-s", "50", "--fault", "drop_user_events@0:count=3"]) as s:
            await until(lambda: s.sim.counters["faults"].get("drop_user_events"), what="the scheduled fault")
            await s.sim.pause()
            st = s.sim.market.symbols[s.native]
            qty = min(s.qty, st.asks[st.best_ask()] / 10 ** st.spec.qty_decimals)  # one level: one TRADE event
            # the next order's NEW, TRADE and account events are lost
            placed = await s.conn.place_order(s.symbol, "buy", qty, order_type="market", client_order_id="dr-1")
            assert placed.status is OrderStatus.FILLED
            await asyncio.sleep(0.2)
            assert s.fills("dr-1") == []  # the stream lost them
            s.sim.trading.disconnect_user_streams()
            assert s.sim.trading.counters["events_dropped"] == 3
            await until(lambda: s.conn.trader.reconciliations >= 1 and s.fills("dr-1"), what="reconciliation")
            assert sum(f.qty for f in s.fills("dr-1")) == pytest.approx(qty)
            await s.conn.reconcile()  # a second pass adds nothing: fills are counted once
            assert sum(f.qty for f in s.fills("dr-1")) == pytest.approx(qty)
            assert s.conn.trader.recovered_fills == len(s.fills("dr-1"))
    run(body)


@pytest.mark.parametrize("market", ["usdm", "coinm", "spot"])
def test_trading_timeout_after_accept_does_not_duplicate(market):
    async def body():
        async with Session(market, order_timeout_s=0.5) as s:
            s.sim.inject("timeout_after_accept", count=1, hang_s=5.0)  # as POST /_sim/fault does
            bid, _ = s.best()
            result = await s.conn.place_order(s.symbol, "buy", s.qty, px=round(bid * 0.9, 1), client_order_id="to-1")
            assert result.status is OrderStatus.NEW and result.client_order_id == "to-1"
            assert s.conn.trader.unknown_outcomes == 1
            assert s.sim.trading.counters["orders"] == 1
            assert len(await s.conn.open_orders(s.symbol)) == 1
    run(body)


def test_trading_bad_signature_and_key_give_clear_errors():
    async def body():
        sim = await BinanceSim("usdm", api_key=KEY, api_secret=SECRET).start()
        try:
            for key, secret, code in ((KEY, "wrong-secret", -1022), ("wrong-key", SECRET, -2015)):
                conn = create_connector("binance-usdm", endpoint=sim.rest_url, api_key=key, api_secret=secret,
                                        user_stream=False)
                await conn.connect()
                try:
                    with pytest.raises(ExchangeError) as err:
                        await conn.balances()
                    assert err.value.code == code
                    assert "secret" not in str(err.value).lower() or "wrong-secret" not in str(err.value)
                finally:
                    await conn.close()
        finally:
            await sim.stop()
    run(body)


def test_trading_listen_key_expiry_is_survived():
    async def body():
        async with Session("usdm") as s:
            first = s.conn.trader._listen_key
            assert s.sim.trading.expire_listen_key() == 1
            await until(lambda: s.conn.trader.stream_connects >= 2, what="a new user stream")
            assert s.conn.trader._listen_key != first
            await s.conn.place_order(s.symbol, "buy", 0.01, order_type="market", client_order_id="ex-1")
            await until(lambda: s.fills("ex-1"), what="fills on the new stream")
    run(body)


def test_trading_secrets_never_logged_or_shown(caplog):
    caplog.set_level(logging.DEBUG)

    async def body():
        async with Session("usdm", order_timeout_s=0.5) as s:
            s.sim.trading.timeout_after_accept(count=1, hang_s=3.0)
            bid, _ = s.best()
            await s.conn.place_order(s.symbol, "buy", 0.01, px=round(bid * 0.9, 1))
            s.sim.trading.expire_listen_key()
            await until(lambda: s.conn.trader.stream_connects >= 2, what="a new user stream")
            text = repr(s.conn.credentials) + repr(s.conn.trader.credentials) + str(s.conn.health())
            return text
    text = run(body)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records  # the faults did log
    for secret in (KEY, SECRET):
        assert secret not in logged and secret not in text


def test_trading_without_credentials_says_what_is_missing():
    async def body():
        sim = await BinanceSim("usdm").start()
        try:
            conn = create_connector("binance-usdm", endpoint=sim.rest_url)
            await conn.connect()
            with pytest.raises(ConfigError, match="credentials"):
                await conn.place_order("BTC-USDT-PERP", "buy", 0.01, px=1.0)
            await conn.close()
        finally:
            await sim.stop()
    run(body)


def _ed25519_pair() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    return (key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()).decode(),
            key.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo).decode())


@pytest.mark.parametrize("market", ["usdm", "spot"])
def test_trading_ed25519_key_end_to_end(market):
    """An Ed25519 account: REST orders and the user stream (spot: the WS-API subscription) signed with it."""
    pytest.importorskip("cryptography")
    private_pem, public_pem = _ed25519_pair()

    async def body():
        async with Session(market, secret=private_pem, sim_config={"api_public_key": public_pem}) as s:
            assert s.conn.trader.signer.kind == "ed25519"
            placed = await s.conn.place_order(s.symbol, "buy", s.qty, order_type="market", client_order_id="ed-1")
            assert placed.status is OrderStatus.FILLED
            await until(lambda: sum(f.qty for f in s.fills("ed-1")) >= s.qty, what="fills on the user stream")
            assert s.sim.trading.counters["auth_errors"] == 0
            other_private, _ = _ed25519_pair()  # a valid Ed25519 key, but not the registered one
            for secret in (other_private, SECRET):
                conn = create_connector(s.exchange, endpoint=s.sim.rest_url, api_key=KEY, api_secret=secret,
                                        user_stream=False)
                await conn.connect()
                try:
                    with pytest.raises(ExchangeError) as err:
                        await conn.balances()
                    assert err.value.code == -1022
                finally:
                    await conn.close()
    run(body)


def test_trading_bad_ed25519_key_fails_at_connect_with_a_clear_error():
    async def body():
        sim = await BinanceSim("usdm", api_key=KEY, api_secret=SECRET).start()
        try:
            bad = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
            conn = create_connector("binance-usdm", endpoint=sim.rest_url, api_key=KEY, api_secret=bad)
            with pytest.raises(ConfigError, match="PEM") as err:
                await conn.connect()
            assert "AAAA" not in str(err.value)
            await conn.close()
        finally:
            await sim.stop()
    run(body)


@pytest.mark.parametrize("market", ["usdm", "spot"])
def test_trading_resting_order_filled_by_market_flow_as_maker(market):
    """A post-only bid inside the spread is hit by the synthetic market's sellers; the maker fill arrives on
    the user stream and agrees with the REST order and trade views."""
    async def body():
        async with Session(market) as s:
            st = s.sim.market.symbols[s.native]
            tick = st.spec.tick_units
            bid_units = st.best_bid() + tick if st.best_ask() - st.best_bid() > tick else st.best_bid()
            px = bid_units / 10 ** st.spec.price_decimals
            placed = await s.conn.place_order(s.symbol, "buy", s.qty, px=px, time_in_force="post_only",
                                              client_order_id="mkr-1")
            assert placed.status is OrderStatus.NEW and placed.filled_qty == 0
            await until(lambda: s.fills("mkr-1"), timeout_s=20, what="a maker fill from the market's flow")
            fills = s.fills("mkr-1")
            assert all(f.is_maker and f.px == pytest.approx(px) for f in fills)
            await until(lambda: s.conn.order("mkr-1").filled_qty == pytest.approx(sum(f.qty for f in s.fills("mkr-1"))),
                        what="the order update of the fill")
            rest_order = await s.conn.trader.query_order(s.symbol, "mkr-1")
            rest_fills = [f for f in await s.conn.trader.trades(s.symbol) if f.client_order_id == "mkr-1"]
            stream_fills = s.fills("mkr-1")
            assert sorted(f.trade_id for f in rest_fills) == sorted(f.trade_id for f in stream_fills)
            assert all(f.is_maker for f in rest_fills)
            assert rest_order.filled_qty == pytest.approx(sum(f.qty for f in stream_fills))
            assert s.conn.order("mkr-1").status is rest_order.status
    run(body, timeout_s=40)


@pytest.mark.parametrize("hold_s", [0.0, 0.002])
def test_trading_user_events_are_not_held_past_the_hold_bound_by_a_slow_reply(hold_s):
    # An order's events arrive before its reply. By default they are handled on arrival; with a hold they
    # wait for the reply, but a slow reply (0.5 s here) must not hold them: the bound's timer releases them.
    async def body():
        async with Session("usdm", user_event_hold_s=hold_s) as s:
            s.sim.trading.delay_acks(0.5)
            result = await s.conn.place_order(s.symbol, "buy", s.qty, order_type="market", client_order_id="hd-1")
            assert result.status is OrderStatus.FILLED
            assert sum(f.qty for f in s.fills("hd-1")) == pytest.approx(s.qty)  # delivered before the reply
            assert [u.status for u in s.updates("hd-1")][-1] is OrderStatus.FILLED
    run(body)


@pytest.mark.parametrize("hold_s", [0.0, 0.002])
def test_trading_overlapping_orders_deliver_every_event_once_in_order(hold_s):
    async def body():
        async with Session("usdm", user_event_hold_s=hold_s) as s:
            cids = [f"ov-{i}" for i in range(40)]
            results = await asyncio.gather(*(s.conn.place_order(s.symbol, "buy" if i % 2 else "sell", s.qty,
                                                                order_type="market", client_order_id=cid)
                                             for i, cid in enumerate(cids)))
            assert all(r.status is OrderStatus.FILLED for r in results)
            await until(lambda: all(sum(f.qty for f in s.fills(c)) >= s.qty - 1e-9 for c in cids), what="every fill")
            await asyncio.sleep(0.05)  # anything still held would show up as a second fill
            assert all(sum(f.qty for f in s.fills(c)) == pytest.approx(s.qty) for c in cids)
            assert s.conn.trader.orders.duplicates == 0 and not s.conn.trader._held_events
            for c in cids:  # each order's updates only move forward, ending FILLED
                statuses = [u.status for u in s.updates(c)]
                assert statuses[-1] is OrderStatus.FILLED and statuses.count(OrderStatus.FILLED) == 1
    run(body)
