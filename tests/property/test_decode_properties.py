# SPDX-License-Identifier: MIT
"""The C decoder against json.loads: same verdict on validity, same values for the fields it reads."""
import json
import math
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossfury.core.errors import DecodeError
from crossfury.decode import Field, Layout, decode

# No field is named: the decoder only validates and skips, like a parser with nothing to keep.
VALIDATE_ONLY = Layout("validate", {"\x00never": Field.EVENT})
DEPTH = Layout("depth", {"U": Field.FIRST_ID, "u": Field.LAST_ID, "b": Field.BIDS, "a": Field.ASKS, "s": Field.SYMBOL},
               required=(Field.LAST_ID,))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=20,
)


def python_verdict(data: bytes) -> bool:
    try:
        obj = json.loads(data, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return isinstance(obj, dict)


def c_verdict(data: bytes) -> bool:
    try:
        decode(VALIDATE_ONLY, data)
    except DecodeError:
        return False
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=4), json_values, max_size=5), st.data())
def test_decoder_accepts_valid_json_and_refuses_every_mutation_json_refuses(obj, data):
    text = json.dumps(obj, ensure_ascii=data.draw(st.booleans())).encode()
    assert c_verdict(text) is True

    cut = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.binary(max_size=3))
    mutated = text[:cut] + junk + text[cut + data.draw(st.integers(0, 2)):]
    assert c_verdict(mutated) == python_verdict(mutated), mutated


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**63 - 2), st.integers(0, 2**63 - 2), st.text(string.ascii_letters + string.digits + "-_", max_size=6),
       st.lists(st.tuples(st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False),
                          st.decimals(min_value=0, max_value=10**6, places=8, allow_nan=False)), max_size=8))
def test_decoder_values_equal_json_loads(first_id, last_id, symbol, levels):
    msg = {"U": first_id, "u": last_id, "s": symbol, "b": [[format(p, "f"), format(q, "f")] for p, q in levels], "a": []}
    raw = json.dumps(msg).encode()

    fields, bids, asks = decode(DEPTH, raw)

    ref = json.loads(raw)
    assert fields == {"first_id": ref["U"], "last_id": ref["u"], "symbol": ref["s"]}
    assert bids.tolist() == [[float(p), float(q)] for p, q in ref["b"]]
    assert all(math.isfinite(v) for row in bids.tolist() for v in row)


def test_decoder_refuses_escapes_in_symbols():
    # Symbols and event types are compared as raw bytes; an escaped one is refused, not half-decoded.
    try:
        decode(DEPTH, b'{"u":1,"s":"BTC\\u0055SDT","b":[],"a":[]}')
    except DecodeError as exc:
        assert "symbol" in str(exc)
    else:
        raise AssertionError("an escaped symbol was accepted")
