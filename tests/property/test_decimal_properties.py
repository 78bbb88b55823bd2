# SPDX-License-Identifier: MIT
"""Decimal text to double: exactly Python's float(text), for random and adversarial strings, on every path."""
import json
import random

from hypothesis import example, given, settings
from hypothesis import strategies as st

from crossfury.decode import Field, Layout, decimal_to_float, decode

LEVELS = Layout("levels", {"b": Field.BIDS, "a": Field.ASKS})

# Plain decimals of at most 19 significant digits and 18 decimals: the grammar the C reader accepts.
decimal_texts = st.builds(
    lambda whole, frac, zeros: f"{whole}.{frac}{'0' * zeros}" if frac or zeros else str(whole),
    st.integers(0, 10**12), st.one_of(st.just(""), st.integers(0, 10**6).map(str)), st.integers(0, 6),
).filter(lambda t: len(t.replace(".", "").lstrip("0").rstrip("0")) <= 19)


def adversarial() -> list[str]:
    """Texts at double rounding boundaries: around 2^53, halfway cases, long mantissas, tiny values."""
    out = ["9007199254740993", "9007199254740992", "9007199254740995", "9223372036854775807",
           "0.30000000000000004", "0.1", "0.7", "2.675", "1.005", "123456789.123456789", "0.000000000000000001",
           "922337203685477580.7", "4.35", "0.000000000000000009", "1.7976931348623157"]
    rng = random.Random(11)
    for _ in range(2000):
        digits = str(rng.randrange(10**15, 2**63))
        point = rng.randrange(0, min(len(digits), 18) + 1)
        out.append(digits[: len(digits) - point] + ("." + digits[len(digits) - point:] if point else ""))
    return out


@settings(max_examples=500, deadline=None)
@given(decimal_texts)
@example("0.1")
@example("9007199254740993")
@example("1.00000000")
@example("0")
def test_decimal_to_float_is_float_of_text(text):
    assert decimal_to_float(text) == float(text)


def test_decimal_to_float_adversarial_texts():
    for text in adversarial():
        assert decimal_to_float(text) == float(text), text


@settings(max_examples=200, deadline=None)
@given(st.lists(decimal_texts, min_size=1, max_size=20), st.lists(decimal_texts, max_size=20))
def test_decoded_level_values_are_float_of_text(prices, quantities):
    # Inside a message the eight-byte reader runs; standalone texts take the byte reader: both must agree.
    levels = [[p, q] for p, q in zip(prices, quantities + prices)]
    msg = json.dumps({"b": levels, "a": []}).encode()

    _, bids, _ = decode(LEVELS, msg)

    assert bids.tolist() == [[float(p), float(q)] for p, q in levels]


def test_decoded_adversarial_level_values_are_float_of_text():
    texts = adversarial()
    msg = json.dumps({"b": [[t, t] for t in texts], "a": []}).encode()

    _, bids, _ = decode(LEVELS, msg)

    assert bids[:, 0].tolist() == [float(t) for t in texts]
