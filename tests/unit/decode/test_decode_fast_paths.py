# SPDX-License-Identifier: MIT
"""Edges of the decoder's fast paths (eight bytes, or a 32-byte window of a level, at a time): each must read
exactly what the general scanner reads, and hand it everything else."""

import json

import pytest

from crossfury.book import SyncedBook
from crossfury.core.errors import DecodeError
from crossfury.decode import decode_depth
from crossfury.exchanges.binance import layouts

SNAPSHOT = b'{"lastUpdateId":900200,"bids":[["67000.0","1"]],"asks":[["67002.0","1"]]}'

# Level texts that the window takes ("63943.90"), that only the byte-wise reader takes (9 and more digits,
# "5.", ".5", leading zeros) and that only the general scanner takes (whitespace, JSON numbers, extra elements).
MIXED_LEVELS = ['["63943.90","0.021"]', '["1000.00","569.717"]', '["63943.9","0.000"]', '[ "63940.10", "1.5" ]',
                '["12345678.9","0.123456789"]', '["5.","007.50"]', '[".5","10"]', '[63941.2,0.5]',
                '["63941.30","2.000",17,"x"]', '["99999999","0.00000001"]', '["1.23456789","8"]',
                '["0.1" ,"0.2"]']


def depth(bids: list[str], asks: list[str], header: str = "") -> bytes:
    return (f'{{"stream":"btcusdt@depth@0ms","data":{{"e":"depthUpdate","E":1721347022765,{header}'
            f'"U":900201,"u":900260,"pu":900200,"b":[{",".join(bids)}],"a":[{",".join(asks)}]}}}}').encode()


def expected(levels: list[str]) -> list[list[float]]:
    return [[float(p), float(q)] for p, q, *_ in (json.loads(level) for level in levels)]


@pytest.mark.parametrize("shift", range(len(MIXED_LEVELS)))
def test_levels_alternating_between_fast_and_general_readers_are_all_exact(shift):
    levels = (MIXED_LEVELS[shift:] + MIXED_LEVELS[:shift]) * 3  # every pairing of neighbours, near the tail too
    msg = depth(levels, levels[::-1])

    _, bids, asks = decode_depth(msg, layouts.DEPTH)

    assert bids.tolist() == expected(levels)
    assert asks.tolist() == expected(levels[::-1])


@pytest.mark.parametrize("header", [
    '"s":"BTCUSDT",', '"\\u0073":"BTCUSDT",', '"x":"back\\\\slash and \\"quotes\\"",',
    '"x":"caf\u00e9 \u20ac and more than eight bytes",', '"x":"\\u00e9\\ud83d\\ude00",', '"T":"1721347022764",'])
def test_escapes_and_utf8_in_keys_and_strings_before_the_levels(header):
    levels = ['["63943.90","0.021"]', '["63943.80","1.000"]']
    record, bids, _ = decode_depth(depth(levels, [], header), layouts.DEPTH)

    assert record.first_id == 900201 and record.last_id == 900260
    assert bids.tolist() == expected(levels)


@pytest.mark.parametrize("bad", ['["63943.\\u0039","1"]', '["63943.9\\"","1"]', '["6394\\\\3.9","1"]',
                                 '["63943.90","0.021\x01"]', '["63943.90"."0.021"]', '["63943.90","0.021"}'])
def test_a_backslash_or_a_bad_byte_inside_a_level_is_refused_and_the_book_untouched(bad):
    book = SyncedBook("binance-futures", "0.1", "0.001")
    book.on_snapshot(SNAPSHOT)
    levels = ['["63943.90","0.021"]'] * 5 + [bad] + ['["63943.80","1.000"]'] * 5
    before = book.top_text(10)

    with pytest.raises(DecodeError):
        book.on_message(depth(levels, []))

    assert book.top_text(10) == before and book.stats()["applied"] == 0 and book.stats()["rejected"] == 1


def test_every_truncation_of_a_message_is_refused_with_an_offset_inside_it():
    levels = [f'["{63_900 + k}.{k % 10}0","{k}.{k:03d}"]' for k in range(40)]
    msg = depth(levels, levels)
    decode_depth(msg, layouts.DEPTH)  # whole, it is valid

    for cut in range(len(msg)):
        with pytest.raises(DecodeError, match=r"at byte (\d+)") as exc:
            decode_depth(msg[:cut], layouts.DEPTH)
        offset = int(exc.value.args[0].split("at byte ")[1].split()[0])
        assert offset <= cut


def test_a_huge_message_of_window_sized_levels_is_read_exactly():
    levels = [f'["{60_000 + k // 10}.{k % 10}0","{k % 1000}.{k % 7:03d}"]' for k in range(200_000)]
    msg = depth(levels, levels[:3])

    _, bids, asks = decode_depth(msg, layouts.DEPTH)

    assert bids.shape == (200_000, 2) and bids.tolist() == expected(levels)
    assert asks.tolist() == expected(levels[:3])
