# SPDX-License-Identifier: MIT
import json

import numpy as np
import pytest

from crossfury.book import SyncedBook, SyncStatus
from crossfury.core.errors import DecodeError, NumberError
from crossfury.decode import Field, Layout, decode, decode_book_ticker, decode_depth, decode_trade, parse_json
from crossfury.exchanges.binance import layouts

FUTURES_DEPTH = (b'{"e":"depthUpdate","E":1717000000450,"T":1717000000447,"s":"BTCUSDT","U":900201,"u":900260,'
                 b'"pu":900200,"b":[["67001.0","3.120"]],"a":[["67001.1","0.004"],["67003.5","0"]]}')
SNAPSHOT = b'{"lastUpdateId":900230,"E":1717000000460,"T":1717000000447,"bids":[["67001.0","2.0"]],"asks":[["67001.1","0.5"]]}'


def envelope(data: bytes, stream: str = "btcusdt@depth@0ms") -> bytes:
    return b'{"stream":"' + stream.encode() + b'","data":' + data + b"}"


@pytest.mark.parametrize("msg", [FUTURES_DEPTH, envelope(FUTURES_DEPTH)], ids=["raw", "combined"])
def test_decode_depth_reads_header_and_levels(msg):
    record, bids, asks = decode_depth(msg, layouts.DEPTH)

    assert (record.event, record.symbol, record.first_id, record.last_id, record.prev_id) == \
        ("depthUpdate", "BTCUSDT", 900201, 900260, 900200)
    assert (record.exch_ts, record.transact_ts) == (1717000000450, 1717000000447)
    assert bids.tolist() == [[67001.0, 3.12]]
    assert asks.tolist() == [[67001.1, 0.004], [67003.5, 0.0]]
    assert record.stream == ("btcusdt@depth@0ms" if msg.startswith(b'{"stream"') else None)


def test_decode_snapshot_and_spot_partial_depth():
    record, bids, asks = decode_depth(SNAPSHOT, layouts.SNAPSHOT)
    assert record.last_id == 900230 and bids.shape == (1, 2) and asks.tolist() == [[67001.1, 0.5]]

    partial = envelope(b'{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}', "bnbbtc@depth5")
    record, bids, _ = decode_depth(partial, layouts.SNAPSHOT)
    assert record.last_id == 160 and bids.tolist() == [[0.0024, 10.0]]


def test_decode_trades_and_book_ticker():
    trade = decode_trade(b'{"e":"trade","E":1717000001000,"s":"BTCUSDT","t":3300001,"p":"67000.10","q":"0.010",'
                         b'"T":1717000000998,"m":true,"M":true}', layouts.TRADE)
    assert (trade.trade_id, trade.px, trade.qty, trade.buyer_maker) == (3300001, 67000.1, 0.01, True)

    agg = decode_trade(envelope(b'{"e":"aggTrade","E":1,"s":"BTCUSDT","a":880001,"p":"67000.10","q":"0.030",'
                                b'"f":3300001,"l":3300003,"T":2,"m":false}', "btcusdt@aggTrade"), layouts.AGG_TRADE)
    assert (agg.trade_id, agg.qty, agg.buyer_maker, agg.stream) == (880001, 0.03, False, "btcusdt@aggTrade")

    ticker = decode_book_ticker(b'{"u":400900217,"s":"BNBUSDT","b":"25.35","B":"31.21","a":"25.36","A":"40.66"}',
                                layouts.BOOK_TICKER)
    assert (ticker.last_id, ticker.bid_px, ticker.ask_qty) == (400900217, 25.35, 40.66)


def test_decode_wrong_event_type_is_refused():
    with pytest.raises(DecodeError, match="event type is not 'depthUpdate'"):
        decode_depth(b'{"e":"kline","U":1,"u":2,"b":[],"a":[]}', layouts.DEPTH)


@pytest.mark.parametrize("event", [b"", b"d", b"depthUpdat", b"depthUpdateX", b"depthUpdatf", b"DepthUpdate",
                                   b"depthUpdate\\u0000"])
def test_decode_event_type_is_compared_whole(event):
    with pytest.raises(DecodeError, match="event type"):
        decode_depth(b'{"e":"' + event + b'","U":1,"u":2,"b":[],"a":[]}', layouts.DEPTH)


def test_decode_unknown_keys_and_extra_level_fields_are_skipped():
    msg = b'{"e":"depthUpdate","x":{"deep":[1,2,{"a":null}]},"U":1,"u":2,"b":[["1.5","2","3",{"n":1}]],"a":[]}'

    record, bids, asks = decode_depth(msg, layouts.DEPTH)

    assert record.last_id == 2 and bids.tolist() == [[1.5, 2.0]] and asks.shape == (0, 2)


def test_decode_numbers_as_json_numbers_and_quoted_ids():
    layout = Layout("test", {"id": Field.LAST_ID, "first": Field.FIRST_ID, "b": Field.BIDS, "a": Field.ASKS})
    fields, bids, _ = decode(layout, b'{"id":"42","first":-7,"b":[[1.25,3]],"a":[]}')
    assert fields == {"last_id": 42, "first_id": -7}
    assert bids.tolist() == [[1.25, 3.0]]


HOSTILE = {
    "truncated": FUTURES_DEPTH[:-7],
    "trailing bytes": FUTURES_DEPTH + b"{}",
    "two messages": FUTURES_DEPTH + FUTURES_DEPTH,
    "not an object": b'[1,2,3]',
    "empty": b"",
    "id is a string of letters": FUTURES_DEPTH.replace(b'"u":900260', b'"u":"abc"'),
    "id is a float": FUTURES_DEPTH.replace(b'"u":900260', b'"u":900260.5'),
    "id has an exponent": FUTURES_DEPTH.replace(b'"u":900260', b'"u":9e5'),
    "id overflows int64": FUTURES_DEPTH.replace(b'"u":900260', b'"u":99999999999999999999'),
    "levels not a list": FUTURES_DEPTH.replace(b'"b":[["67001.0","3.120"]]', b'"b":{"67001.0":"3.120"}'),
    "level not a pair": FUTURES_DEPTH.replace(b'[["67001.0","3.120"]]', b'[["67001.0"]]'),
    "level value is an object": FUTURES_DEPTH.replace(b'[["67001.0","3.120"]]', b'[[{},"3.120"]]'),
    "missing key": FUTURES_DEPTH.replace(b'"u":900260,', b""),
    "duplicate key": FUTURES_DEPTH.replace(b'"u":900260,', b'"u":900260,"u":900261,'),
    "unicode escape in a price": FUTURES_DEPTH.replace(b'"67001.0"', b'"6700\\u0031.0"'),
    "bad escape": FUTURES_DEPTH.replace(b'"BTCUSDT"', b'"BTC\\xUSDT"'),
    "raw control byte": FUTURES_DEPTH.replace(b'"BTCUSDT"', b'"BTC\x01USDT"'),
    "invalid utf-8": FUTURES_DEPTH.replace(b'"BTCUSDT"', b'"BTC\xff\xfeUSDT"'),
    "NaN literal": FUTURES_DEPTH.replace(b'"E":1717000000450', b'"E":NaN'),
    "deep nesting": b'{"x":' + b"[" * 10000 + b"]" * 10000 + b',"U":1,"u":2,"b":[],"a":[]}',
    "binary junk": bytes(range(256)),
}


@pytest.mark.parametrize("msg", HOSTILE.values(), ids=HOSTILE.keys())
def test_decode_hostile_message_is_refused_and_book_untouched(msg):
    book = SyncedBook("binance-futures")
    book.on_snapshot(b'{"lastUpdateId":900200,"bids":[["67000.0","1"]],"asks":[["67002.0","1"]]}')
    before = (book.stats(), book.top_text(10))

    with pytest.raises(DecodeError):
        decode_depth(msg, layouts.DEPTH)
    with pytest.raises(DecodeError):
        book.on_message(msg)

    after = book.stats()
    assert after.pop("rejected") == before[0].pop("rejected") + 1
    assert after == before[0] and book.top_text(10) == before[1]


@pytest.mark.parametrize("text", ["NaN", "nan", "inf", "1e5", "", ".", "-", "+1", " 1", "1_000", "0x10",
                                  "1" * 40, "0." + "1" * 19])
def test_fused_bad_level_text_is_a_number_error_naming_the_value(text):
    book = SyncedBook("binance-futures")
    book.on_snapshot(b'{"lastUpdateId":900200,"bids":[["67000.0","1"]],"asks":[["67002.0","1"]]}')
    msg = FUTURES_DEPTH.replace(b'"3.120"', json.dumps(text).encode())

    with pytest.raises(NumberError, match="bid quantity") as exc:
        book.on_message(msg)

    assert repr(text) in str(exc.value)
    assert book.best_bid() == (67000.0, 1.0) and book.stats()["applied"] == 0


def test_fused_negative_quantity_is_refused():
    book = SyncedBook("binance-futures")
    book.on_snapshot(b'{"lastUpdateId":900200,"bids":[],"asks":[]}')
    with pytest.raises(NumberError, match="negative"):
        book.on_message(FUTURES_DEPTH.replace(b'"0.004"', b'"-0.004"'))


def test_decode_ten_megabyte_message_is_read_exactly():
    levels = ",".join(f'["{1_000_000 + i}.5","0.001"]' for i in range(500_000))
    msg = f'{{"e":"depthUpdate","U":1,"u":2,"pu":0,"b":[{levels}],"a":[]}}'.encode()
    assert len(msg) > 10_000_000

    record, bids, _ = decode_depth(msg, layouts.DEPTH)

    assert bids.shape == (500_000, 2) and bids[-1].tolist() == [1_499_999.5, 0.001]
    truncated = msg[: len(msg) // 2]
    with pytest.raises(DecodeError, match="not valid JSON"):
        decode_depth(truncated, layouts.DEPTH)


def test_fused_batch_reports_per_message_statuses():
    book = SyncedBook("binance-futures")
    first = FUTURES_DEPTH
    second = (b'{"e":"depthUpdate","U":900261,"u":900270,"pu":900260,"b":[["67001.0","0"]],"a":[]}')
    gap = (b'{"e":"depthUpdate","U":900300,"u":900310,"pu":900299,"b":[],"a":[]}')
    book.on_snapshot(b'{"lastUpdateId":900230,"bids":[["67000.0","1"]],"asks":[["67002.0","1"]]}')

    statuses = book.on_messages([first, b"{junk", second, gap])

    assert statuses.dtype == np.int8
    assert [SyncStatus(s) if s >= 0 else "error" for s in statuses] == \
        [SyncStatus.APPLIED, "error", SyncStatus.APPLIED, SyncStatus.GAP]
    assert book.stats()["rejected"] == 1 and book.stats()["gaps"] == 1


def test_parse_json_generic_path():
    assert parse_json(b'{"result":null,"id":7}') == {"result": None, "id": 7}
    with pytest.raises(DecodeError):
        parse_json(b'{"result":')


def test_layout_keys_named_like_the_envelope_keep_their_fields():
    # A layout key "stream" shadows the envelope's stream name; layouts without such a key recognise the
    # envelope's keys first (a faster order), and both orders must give one result.
    shadowing = Layout("shadow", {"stream": Field.SYMBOL, "u": Field.LAST_ID}, envelope="data", stream="stream")
    plain = Layout("plain", {"s": Field.SYMBOL, "u": Field.LAST_ID}, envelope="data", stream="stream")
    msg = b'{"stream":"btcusdt@depth","data":{"s":"BTCUSDT","u":7}}'

    fields, _, _ = decode(shadowing, msg)
    assert fields["symbol"] == "btcusdt@depth" and fields["last_id"] == 7 and "stream" not in fields
    fields, _, _ = decode(plain, msg)
    assert fields["symbol"] == "BTCUSDT" and fields["last_id"] == 7 and fields["stream"] == "btcusdt@depth"
