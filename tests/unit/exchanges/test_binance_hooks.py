# SPDX-License-Identifier: MIT
import gzip

import pytest

from crossfury.core.errors import DecodeError
from crossfury.decode import parse_json
from crossfury.events import Channel, MarketType, Side
from crossfury.exchanges.binance import hooks
from crossfury.exchanges.binance.spec import COINM, SPECS, SPOT, USDM
from crossfury.exchanges.spec import Instrument

PERP = Instrument("BTC-USDT-PERP", "BTCUSDT", "BTC", "USDT", MarketType.PERPETUAL, "0.1", "0.001")


def test_specs_name_every_market_and_route_usdm_by_category():
    assert set(SPECS) == {"binance-spot", "binance-usdm", "binance-coinm", "binance-papi"}
    assert USDM.ws_paths[Channel.BOOK] == "/public/stream"
    assert USDM.ws_paths[Channel.TRADES] == "/market/stream"
    assert COINM.snapshot_path == "/dapi/v1/depth" and COINM.ws_url == "wss://dstream.binance.com"


def test_stream_names_follow_binance_templates():
    assert SPOT.stream_name(Channel.BOOK, "BTCUSDT") == "btcusdt@depth@100ms"
    assert USDM.stream_name(Channel.TRADES, "BTCUSDT") == "btcusdt@aggTrade"
    assert USDM.stream_name(Channel.KLINE, "ETHUSDT", kline_interval="5m") == "ethusdt@kline_5m"
    assert USDM.stream_name(Channel.BOOK, "BTCUSDT", book_levels=10) == "btcusdt@depth10@100ms"
    with pytest.raises(ValueError, match="no 'mark_price' channel"):
        SPOT.stream_name(Channel.MARK_PRICE, "BTCUSDT")


def test_spec_at_points_rest_and_websocket_at_one_host():
    sim = USDM.at("http://127.0.0.1:8765/")
    assert (sim.rest_url, sim.ws_url) == ("http://127.0.0.1:8765", "ws://127.0.0.1:8765")
    assert USDM.at("https://h", ws_endpoint="wss://w").ws_url == "wss://w"
    with pytest.raises(ValueError):
        USDM.at("127.0.0.1:8765")


def test_control_frames_and_replies():
    assert hooks.subscribe_message(["btcusdt@depth"], 7) == '{"method":"SUBSCRIBE","params":["btcusdt@depth"],"id":7}'
    assert hooks.parse_control(b'{"result":null,"id":7}') == hooks.ControlReply(7)
    err = hooks.parse_control(b'{"code":2,"msg":"Invalid request: unknown method","id":9}')
    assert (err.request_id, err.code, err.error) == (9, 2, "Invalid request: unknown method")
    assert hooks.parse_control(b'{"stream":"a","data":{"id":1,"result":2}}') is None
    assert hooks.parse_control(b'{"e":"trade"}') is None
    assert hooks.parse_control(b'not json "id"') is None


def test_stream_of_slices_the_envelope_and_falls_back_to_parsing():
    assert hooks.stream_of(b'{"stream":"btcusdt@depth@0ms","data":{}}') == b"btcusdt@depth@0ms"
    assert hooks.stream_of(b'{ "stream" : "x@trade", "data": {}}') == b"x@trade"
    assert hooks.stream_of(b'{"result":null,"id":1}') is None
    assert hooks.stream_of(b"garbage") is None


def test_parse_instruments_reads_real_usdm_exchange_info(shared_data):
    text = gzip.open(shared_data / "cryptofeed" / "BINANCE_FUTURES.0.gz", "rb").read()
    body = text.split(b"\n")[0].split(b": ", 1)[1]  # first line: "<url> -> <ts>: <json>"
    insts = {i.symbol: i for i in hooks.parse_instruments(parse_json(body), MarketType.PERPETUAL)}
    btc = insts["BTC-USDT-PERP"]
    assert (btc.native, btc.tick_size, btc.lot_size, btc.min_qty, btc.market) == (
        "BTCUSDT", "0.01", "0.001", "0.001", MarketType.PERPETUAL)
    assert len(insts) > 100
    dated = [s for s in insts if not s.endswith("-PERP")]
    assert all(len(s.split("-")[-1]) == 6 for s in dated)  # BASE-QUOTE-YYMMDD


def test_parse_instruments_spot_and_coinm_shapes():
    info = {"symbols": [
        {"symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT", "filters": [
            {"filterType": "PRICE_FILTER", "tickSize": "0.01000000"},
            {"filterType": "LOT_SIZE", "stepSize": "0.00001000", "minQty": "0.00001000"}]},
        {"symbol": "BTCUSD_PERP", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USD", "contractType":
            "PERPETUAL", "contractSize": 100, "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.1"},
                                                          {"filterType": "LOT_SIZE", "stepSize": "1"}]},
        {"symbol": "OLDUSDT", "status": "BREAK", "baseAsset": "OLD", "quoteAsset": "USDT", "filters": []},
    ]}
    spot, coinm = hooks.parse_instruments(info, MarketType.SPOT)
    assert (spot.symbol, spot.tick_size, spot.lot_size, spot.market) == ("BTC-USDT", "0.01", "0.00001",
                                                                         MarketType.SPOT)
    assert (coinm.symbol, coinm.native, coinm.contract_size) == ("BTC-USD-PERP", "BTCUSD_PERP", "100")


def test_parse_instruments_rejects_missing_filters_with_the_symbol_named():
    info = {"symbols": [{"symbol": "XUSDT", "status": "TRADING", "baseAsset": "X", "quoteAsset": "USDT",
                         "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.1"}]}]}
    with pytest.raises(DecodeError, match="XUSDT"):
        hooks.parse_instruments(info, MarketType.SPOT)
    with pytest.raises(DecodeError):
        hooks.parse_instruments({"nope": 1}, MarketType.SPOT)


def test_normalize_trade_maps_buyer_maker_to_a_taker_sell():
    raw = (b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1717000001000,"s":"BTCUSDT","a":880001,'
           b'"p":"67000.10","q":"0.030","f":1,"l":3,"T":1717000000998,"m":true}}')
    t = hooks.normalize_trade(raw, PERP, 5)
    assert (t.symbol, t.px, t.qty, t.side, t.trade_id, t.exch_ts, t.local_ts) == (
        "BTC-USDT-PERP", 67000.1, 0.03, Side.SELL, "880001", 1717000001000 * 10**6, 5)


def test_normalize_trade_reads_the_trade_shape_too():
    raw = (b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":2,"s":"BTCUSDT","t":35,"p":"1.5","q":"2",'
           b'"X":"MARKET","m":false}}')
    t = hooks.normalize_trade(raw, PERP, 5)
    assert (t.trade_id, t.side, t.px) == ("35", Side.BUY, 1.5)


def test_normalize_book_ticker_kline_and_mark_price():
    bbo = hooks.normalize_book_ticker(b'{"u":4,"s":"BTCUSDT","b":"25.35","B":"31.21","a":"25.36","A":"40.66"}',
                                      PERP, 1)
    assert (bbo.bid_px, bbo.ask_qty, bbo.last_id, bbo.exch_ts) == (25.35, 40.66, 4, 0)
    k = hooks.normalize_kline(b'{"e":"kline","E":1717000002000,"s":"BTCUSDT","k":{"t":1717000000000,'
                              b'"T":1717000059999,"i":"1m","o":"1","c":"2","h":"3","l":"0.5","v":"12.5","x":true}}',
                              PERP, 1)
    assert (k.interval, k.open, k.high, k.close, k.closed, k.close_ts - k.open_ts) == ("1m", 1.0, 3.0, 2.0, True,
                                                                                       60 * 10**9)
    m = hooks.normalize_mark_price(b'{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"67002.51","i":"66998.77",'
                                   b'"r":"0.00010000","T":1717027200000}', PERP, 1)
    assert (m.mark_px, m.index_px, m.funding_rate, m.next_funding_ts) == (67002.51, 66998.77, 1e-4,
                                                                         1717027200000 * 10**6)
    with pytest.raises(DecodeError):
        hooks.normalize_kline(b'{"e":"kline","E":1}', PERP, 1)


def test_snapshot_weights_follow_the_tables():
    assert [hooks.spot_snapshot_weight(n) for n in (100, 500, 1000, 5000)] == [5, 25, 50, 250]
    assert [hooks.futures_snapshot_weight(n) for n in (20, 100, 500, 1000)] == [2, 5, 10, 20]


def test_create_connector_picks_named_environments_and_refuses_unknown_ones():
    from crossfury.connectors import create_connector
    from crossfury.core.errors import ConfigError

    conn = create_connector("binance-usdm", environment="testnet")
    assert (conn.spec.rest_url, conn.spec.ws_url) == ("https://testnet.binancefuture.com",
                                                      "wss://fstream.binancefuture.com")
    assert create_connector("binance-spot", environment="mainnet").spec.rest_url == "https://api.binance.com"
    with pytest.raises(ConfigError, match="no 'testnet' environment"):
        create_connector("binance-coinm", environment="testnet")
    with pytest.raises(ConfigError, match="unknown exchange"):
        create_connector("binance-options")


def test_trade_kind_picks_trade_or_aggregate_streams_where_offered():
    assert SPOT.stream_name(Channel.TRADES, "BTCUSDT", trade_kind="aggregate") == "btcusdt@aggTrade"
    assert SPOT.stream_name(Channel.TRADES, "BTCUSDT", trade_kind="trade") == "btcusdt@trade"
    with pytest.raises(ValueError, match="no 'trade' trade stream"):
        USDM.stream_name(Channel.TRADES, "BTCUSDT", trade_kind="trade")
