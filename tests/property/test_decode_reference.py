# SPDX-License-Identifier: MIT
"""The C decoder against its pure-Python twin (crossfury.decode.reference), message for message.

Every Binance layout, raw and in a combined-stream envelope, with good input (any key order, unknown keys
holding any JSON, whitespace anywhere, ids quoted or not, decimals as strings or numbers, extra level
elements, more levels than the wrapper's first buffer) and hostile input (truncations, byte mutations,
wrong types, missing and duplicate keys, exponents, escapes, NaN, big integers, deep nesting, invalid
UTF-8, trailing bytes). Both must give the same fields and the same level floats bit for bit, or errors
of the same category.
"""

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossfury.core.errors import DecodeError
from crossfury.decode import Field, decode, reference
from crossfury.exchanges.binance import layouts


def _harness():
    # The shared oracle lives with the fuzz harness (tests/fuzz/fuzz_decode.py); tests are not a package.
    if "fuzz_decode" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "fuzz_decode", Path(__file__).resolve().parents[1] / "fuzz" / "fuzz_decode.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["fuzz_decode"] = module
        spec.loader.exec_module(module)
    return sys.modules["fuzz_decode"]


H = _harness()
SPECS = H.SPECS
NAMES = tuple(SPECS)
PROPERTY = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

_INT_FIELDS = {Field.EXCH_TS, Field.TRANSACT_TS, Field.FIRST_ID, Field.LAST_ID, Field.PREV_ID, Field.TRADE_ID}
_DECIMAL_FIELDS = {Field.PRICE, Field.QTY, Field.BID_PX, Field.BID_QTY, Field.ASK_PX, Field.ASK_QTY}
JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


def outcomes(name: str, msg: bytes) -> tuple[tuple, tuple]:
    layout, spec = SPECS[name]
    return H.native_decode(layout, msg), H.reference_decode(spec, msg)


# -- generators -------------------------------------------------------------------------------------------

whitespace = st.sampled_from(["", "", "", "", " ", "\n", "\t", "\r\n", "   "])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def json_text(draw, values=json_values) -> str:
    return json.dumps(draw(values), ensure_ascii=draw(st.booleans()))


# Text that needs no escape in JSON: event types, symbols, stream names.
plain_text = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\'), max_size=8)


@st.composite
def integer_text(draw) -> str:
    value = draw(st.integers(0, 2**63 - 1) | st.integers(0, 10**6) | st.integers(-(2**63), 2**63 - 1))
    return f'"{value}"' if draw(st.integers(0, 3)) == 0 else str(value)


@st.composite
def decimal_text(draw) -> str:
    # Plain decimals around the reader's limits (19 digits, 18 decimals), as strings or JSON numbers.
    whole = draw(
        st.sampled_from(["0", "1", "67001", "9223372036854775807", "10000000000000000000"])
        | st.integers(0, 10**7).map(str)
    )
    frac = draw(st.text("0123456789", max_size=20) | st.sampled_from(["", "5", "120", "00000001"]))
    sign = "-" if draw(st.integers(0, 15)) == 0 else ""
    text = sign + whole + ("." + frac if frac or draw(st.integers(0, 7)) == 0 else "")
    if draw(st.integers(0, 3)) == 0 and JSON_NUMBER.fullmatch(text):
        return text
    return json.dumps(text)


@st.composite
def level_text(draw) -> str:
    ws = draw(whitespace)
    extra = draw(st.lists(json_text(), max_size=2))
    items = [draw(decimal_text()), draw(decimal_text()), *extra]
    return "[" + ws + ("," + ws).join(items) + "]"


@st.composite
def levels_text(draw) -> str:
    count = draw(st.integers(0, 7).flatmap(lambda k: st.integers(65, 100) if k == 0 else st.integers(0, 5)))
    # past 64 levels the wrapper grows its buffer and calls again
    one = draw(level_text())
    levels = [one if k % 3 else draw(level_text()) for k in range(count)]
    return "[" + ",".join(levels) + "]"


def value_strategy(spec, field: Field):
    if field in _INT_FIELDS:
        return integer_text()
    if field in _DECIMAL_FIELDS:
        return decimal_text()
    if field in (Field.BIDS, Field.ASKS):
        return levels_text()
    if field == Field.BUYER_MAKER:
        return st.sampled_from(["true", "false"])
    if field == Field.EVENT and spec.event:
        return st.just(json.dumps(spec.event)) | plain_text.map(lambda t: json.dumps(t, ensure_ascii=False))
    return plain_text.map(lambda t: json.dumps(t, ensure_ascii=False))


@st.composite
def members(draw, name: str) -> list[tuple[str, str]]:
    """Members of a message body for layout name: most known keys, some unknown ones, shuffled."""
    spec = SPECS[name][1]
    out = [
        (json.dumps(key), draw(value_strategy(spec, field)))
        for key, field in spec.keys.items()
        if draw(st.integers(0, 9))
    ]  # one key in ten left out
    reserved = set(spec.keys) | {spec.envelope, spec.stream}
    unknown = draw(
        st.lists(st.tuples(st.text(max_size=4).filter(lambda k: k not in reserved), json_text()), max_size=3)
    )
    out += [(json.dumps(k, ensure_ascii=draw(st.booleans())), v) for k, v in unknown]
    return draw(st.permutations(out))


def render(draw, pairs: list[tuple[str, str]]) -> str:
    body = [
        draw(whitespace) + k + draw(whitespace) + ":" + draw(whitespace) + v + draw(whitespace)
        for k, v in pairs
    ]
    return "{" + ",".join(body) + (draw(whitespace) if not body else "") + "}"


@st.composite
def messages(draw, name: str) -> tuple[str, list[tuple[str, str]]]:
    """A message for layout name (raw or in an envelope) and its body's members."""
    pairs = draw(members(name))
    body = render(draw, pairs)
    if draw(st.booleans()):
        outer = [('"data"', body)]
        if draw(st.integers(0, 4)):
            outer.append(('"stream"', json.dumps(draw(plain_text), ensure_ascii=False)))
        if not draw(st.integers(0, 4)):
            outer.append(
                (
                    json.dumps(draw(st.text(max_size=3).filter(lambda k: k not in ("data", "stream")))),
                    draw(json_text()),
                )
            )
        body = render(draw, draw(st.permutations(outer)))
    return draw(whitespace) + body + draw(whitespace), pairs


WRONG_VALUES = [
    "{}", "[]", "[1]", '{"a":[1,{"b":null}]}', '"abc"', '""', "1.5", "1e5", "-1.0E+2", "0.0", "true", "false",
    "null", '"1.5"', '"1e5"', '"NaN"', "NaN", "Infinity", "-Infinity", '"\\u0031"', '"a\\"b"', '"-"', '"+1"',
    '" 1"', '"01"', '"-0"', "0", "-0", "99999999999999999999", '"99999999999999999999"',
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    '"9223372036854775808"', '"' + "1" * 30 + 'x"', '"12x"', "1.", "1.e5", "01", "-", "tru", "nul", '[["1"]]',
    '[["1",{}]]', "[[1,2,3]]", '[["1","2"],5]', '[[null,"1"]]', '["1","2"]', '[["1","2",[[[]]]]]',
    '[["1e5","1"]]', '[["-1","1"]]', '[["1","2"]', '"\\ud800"', '"caf\\u00e9"',
]
BAD_UTF8 = [
    b"\xff",
    b"\x80",
    b"\xc0\xaf",
    b"\xc3",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xf8\x88\x80",
    b"\xef\xbb\xbf",
]
JUNK = b'{}[]",:0123456789.-+eE \\u\x00\x1f\x7f\xff\xc3tfnaNI'


@st.composite
def hostile(draw, name: str) -> bytes:
    msg, pairs = draw(messages(name))
    data = msg.encode()
    kind = draw(
        st.sampled_from(
            [
                "truncate",
                "bytes",
                "wrong type",
                "missing",
                "duplicate",
                "deep",
                "utf-8",
                "trailing",
                "number text",
            ]
        )
    )
    if kind == "truncate":
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if kind == "bytes":
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(out)))
            op = draw(st.integers(0, 2))
            junk = draw(st.sampled_from(list(JUNK)) | st.integers(0, 255))
            if op == 0 and at < len(out):
                out[at] = junk
            elif op == 1:
                out.insert(at, junk)
            else:
                del out[at : at + draw(st.integers(1, 4))]
        return bytes(out)
    if kind == "utf-8":
        quotes = [k for k, b in enumerate(data) if b == ord('"')] or [0]
        at = draw(st.sampled_from(quotes)) + 1
        return data[:at] + draw(st.sampled_from(BAD_UTF8)) + data[at:]
    if kind == "trailing":
        junk = draw(st.sampled_from([b"{}", b" x", b"\x00", b",", b"}", b" \n"]))
        return junk + data if draw(st.booleans()) and junk != b" \n" else data + junk
    spec = SPECS[name][1]
    known = [(k, v) for k, v in pairs if json.loads(k) in spec.keys]
    pairs = list(pairs)
    if kind == "missing" and pairs:
        del pairs[draw(st.integers(0, len(pairs) - 1))]
    elif kind == "duplicate" and pairs:
        key, value = draw(st.sampled_from(known or pairs))
        pairs.insert(
            draw(st.integers(0, len(pairs))), (key, draw(st.just(value) | st.sampled_from(WRONG_VALUES)))
        )
    elif kind in ("wrong type", "number text") and known:
        at = pairs.index(draw(st.sampled_from(known)))
        key = pairs[at][0]
        if kind == "wrong type":
            pairs[at] = (key, draw(st.sampled_from(WRONG_VALUES)))
        else:  # texts that are not plain decimals, where decimals are read
            text = draw(
                st.sampled_from(
                    [
                        "NaN",
                        "nan",
                        "inf",
                        "-Infinity",
                        "1e5",
                        "1E-3",
                        "",
                        ".",
                        "-",
                        "+1",
                        " 1",
                        "1_000",
                        "0x10",
                        "1" * 40,
                        "0." + "1" * 19,
                        "-0",
                        "1.",
                        ".5",
                        "\u0661",
                        "\uff11",
                    ]
                )
            )
            pairs[at] = (
                key,
                json.dumps(text, ensure_ascii=False)
                if draw(st.booleans())
                else f'[["{text}","1"],["1",{json.dumps(text)}]]',
            )
    elif kind == "deep":
        depth = draw(st.integers(58, 70))
        inner = "[" * depth + "]" * depth if draw(st.booleans()) else '{"a":' * depth + "1" + "}" * depth
        if draw(st.integers(0, 3)) == 0:
            inner = inner[: draw(st.integers(depth - 2, len(inner)))]  # too deep and cut short
        pairs.insert(
            draw(st.integers(0, len(pairs))), (json.dumps(draw(st.sampled_from(["x", "deep", "U0"]))), inner)
        )
    return render(draw, pairs).encode()


# -- properties -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@PROPERTY
@given(data=st.data())
def test_decode_good_messages_match_reference(name, data):
    msg, _ = data.draw(messages(name))
    raw = msg.encode()

    native, ref = outcomes(name, raw)

    assert native == ref, raw
    assert ref == outcomes(name, raw)[1]  # good input touches none of the C's known bugs


@pytest.mark.parametrize("name", NAMES)
@PROPERTY
@given(data=st.data())
def test_decode_hostile_messages_match_reference(name, data):
    raw = data.draw(hostile(name))

    native, ref = outcomes(name, raw)

    assert native == ref, raw


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_decode_str_input_matches_bytes_input(name, data):
    msg, _ = data.draw(messages(name))

    layout, spec = SPECS[name]
    as_str = (H.native_decode(layout, msg), H.reference_decode(spec, msg))

    assert as_str[0] == as_str[1] == H.native_decode(layout, msg.encode())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_synced_book_on_message_matches_reference_sync(data):
    # Depth events around a snapshot's id, good and hostile, through the fused C path and the twins.
    first = data.draw(st.lists(st.integers(900190, 900215), min_size=1, max_size=5))
    lines = []
    for k, start in enumerate(first):
        end = start + data.draw(st.integers(-1, 6))
        prev = start - data.draw(st.integers(0, 2))
        bids = data.draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["67000.0", "66999.5", "67001", "67000.25"]),
                    st.sampled_from(["0", "1", "2.5", "0.001"]),
                ),
                max_size=3,
            )
        )
        body = json.dumps(
            {"e": "depthUpdate", "U": start, "u": end, "pu": prev, "b": bids, "a": [["67002.0", "3"]]}
        )
        msg = body.encode()
        if data.draw(st.integers(0, 4)) == 0:
            msg = (
                data.draw(hostile("depth")) if data.draw(st.booleans()) else msg.replace(b'"2.5"', b'"-2.5"')
            )
        lines.append(msg)
    pair = H.SyncPair("binance-futures", "prev-id")

    statuses = [pair.on_snapshot(H.SNAPSHOT)] + [pair.on_message(m) for m in lines]

    assert len(statuses) == len(lines) + 1 and statuses[0] == ("ok", 0)


# -- fixed cases: each category, both sides, and the mirror itself ----------------------------------------

DEPTH = b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[["1.5","2"]],"a":[]}'
WRONG_THEN_CUT = DEPTH.replace(b'"u":2,', b'"u":2.5,')[
    : DEPTH.index(b'"u":2') + 8
]  # '..."u":2.5,' then nothing
CATEGORIES = [
    ("json", DEPTH[:-1]),
    ("json", DEPTH + b"x"),
    ("json", DEPTH.replace(b'"E":1', b'"E":NaN')),
    ("json", DEPTH.replace(b"BTCUSDT", b"BTC\xffUSDT")),
    ("json", DEPTH.replace(b"BTCUSDT", b"BTC\xed\xa0\x80")),
    ("json", b"\xef\xbb\xbf" + DEPTH),
    ("json", DEPTH.replace(b'"E":1', b'"E":1.e5')),
    ("type", DEPTH.replace(b'"u":2', b'"u":"2x"')),
    ("type", DEPTH.replace(b'"u":2', b'"u":2.0')),
    ("type", DEPTH.replace(b'"u":2', b'"u":"\\u0032"')),
    ("type", DEPTH.replace(b'"BTCUSDT"', b'"BTC\\u0055SDT"')),
    ("type", DEPTH.replace(b'"depthUpdate"', b'"trade"')),
    ("type", DEPTH.replace(b'[["1.5","2"]]', b'[["1.5"]]')),
    ("type", DEPTH.replace(b'"u":2', b'"u":"2x"') + b"junk"),  # first problem in byte order
    ("type", WRONG_THEN_CUT),
    ("range", DEPTH.replace(b'"u":2', b'"u":9223372036854775808')),
    ("range", DEPTH.replace(b'"u":2', b'"u":"99999999999999999999x"')),
    ("duplicate", DEPTH.replace(b'"u":2', b'"u":2,"u":')),
    ("duplicate", b'{"stream":"s","data":' + DEPTH + b',"u":3}'),
    ("missing", DEPTH.replace(b'"U":1,', b"")),
    ("depth", DEPTH.replace(b'"E":1', b'"x":' + b"[" * 64 + b"]" * 64)),
    ("depth", DEPTH.replace(b'"E":1', b'"x":' + b"[" * 70)),
    ("number", DEPTH.replace(b'"2"', b'"1e5"')),
    ("number", DEPTH.replace(b'"2"', b'"-1"')),
    ("number", DEPTH.replace(b'"2"', b"2E3")),
]


@pytest.mark.parametrize("kind,msg", CATEGORIES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CATEGORIES)])
def test_decode_error_category_is_the_same_in_c_and_reference(kind, msg):
    native, ref = outcomes("depth", msg)

    assert native == ref == ("error", kind)


def test_decode_values_match_reference_for_quoted_ids_and_number_decimals():
    msg = b'{ "U" : "7" , "u":-0,"b":[[1.25,3,"x",{"n":[1]}],["0.10","-0"]],"a":[ ],"x":1e-5}'

    native, ref = outcomes("depth", msg)

    assert native == ref and native[0] == "ok"
    fields, bids, _ = reference.decode(SPECS["depth"][1], msg)
    assert fields == {"first_id": 7, "last_id": 0} and bids.tolist() == [[1.25, 3.0], [0.1, 0.0]]


def test_reference_layouts_mirror_binance_layouts():
    for name, (layout, spec) in SPECS.items():
        assert ({k: int(f) for k, f in layout.keys.items()}, layout.event) == (
            {k: int(f) for k, f in spec.keys.items()},
            spec.event,
        ), name
        values = {
            f: json.dumps(spec.event)
            if f == Field.EVENT
            else "[]"
            if f in (Field.BIDS, Field.ASKS)
            else '"1"'
            if f in _DECIMAL_FIELDS
            else "1"
            for f in spec.keys.values()
        }
        required = [f'"{k}":{values[f]}' for k, f in spec.keys.items() if f in spec.required]
        body = "{" + ",".join(required) + "}"
        assert "stream" not in decode(layout, body)[0], name
        assert decode(layout, '{"stream":"s","data":' + body + "}")[0]["stream"] == "s", name
        for member in required:  # each required field, left out, is missing; nothing else is required
            with pytest.raises(DecodeError, match="is missing"):
                decode(layout, "{" + ",".join(m for m in required if m != member) + "}")


# -- bugs the fuzzing and the twin found, fixed: each stays as a regression test ---------------------------

FIXED_BUGS = {
    "deep-wrong-type-is-json": DEPTH.replace(b'"E":1', b'"E":' + b"[" * 64 + b"]" * 64),
    "deep-price-counts-from-zero": DEPTH.replace(b'[["1.5","2"]]', b"[[" + b"[" * 64 + b"]" * 64 + b',"2"]]'),
    "empty-level-is-json": DEPTH.replace(b'[["1.5","2"]]', b"[[]]"),
    "escaped-keys-unknown": DEPTH.replace(b'"u":2', b'"u":2,"\\u0075":3'),
    "raw-stream-text": b'{"stream":"btcusdt\\u0040depth","data":' + DEPTH + b"}",
}


def test_decode_deep_wrong_typed_field_is_a_depth_error():
    native, strict = outcomes("depth", FIXED_BUGS["deep-wrong-type-is-json"])

    assert native == strict == ("error", "depth")


def test_decode_deep_price_container_is_a_depth_error():
    native, strict = outcomes("depth", FIXED_BUGS["deep-price-counts-from-zero"])

    assert native == strict == ("error", "depth")


def test_decode_empty_level_is_a_type_error():
    native, strict = outcomes("depth", FIXED_BUGS["empty-level-is-json"])

    assert native == strict == ("error", "type")


def test_decode_escaped_spelling_of_a_known_key_is_a_duplicate():
    native, strict = outcomes("depth", FIXED_BUGS["escaped-keys-unknown"])

    assert native == strict == ("error", "duplicate")


def test_decode_stream_name_with_escape_is_its_json_value():
    fields, _, _ = decode(layouts.DEPTH, FIXED_BUGS["raw-stream-text"])

    assert fields["stream"] == "btcusdt@depth"
