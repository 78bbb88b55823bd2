# SPDX-License-Identifier: MIT
"""Replay tests/fixtures/decode: real Binance messages and fuzz-found inputs (see SOURCES.md there).

Every fixture goes through the fuzz harness's oracle (tests/fuzz/fuzz_decode.py): the C and the
pure-Python twin agree and nothing crashes. Real messages must also decode, to the same values.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

from crossfury.decode import decode, reference

TESTS = Path(__file__).resolve().parents[2]
FIXTURES = TESTS / "fixtures" / "decode"


def _harness():
    # Shared with the fuzz harness; tests are not a package, so load it by path (once).
    if "fuzz_decode" not in sys.modules:
        spec = importlib.util.spec_from_file_location("fuzz_decode", TESTS / "fuzz" / "fuzz_decode.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["fuzz_decode"] = module
        spec.loader.exec_module(module)
    return sys.modules["fuzz_decode"]


H = _harness()
INPUTS = H.fixture_inputs()
REAL = sorted(FIXTURES.glob("real-*.json"))
# real-<layout>-<market>-<symbol>-<date>.json: the layout is the longest name in SPECS the file starts with.
LAYOUT_OF = {
    path.name: max((n for n in H.SPECS if path.name.startswith(f"real-{n}-")), key=len) for path in REAL
}


def test_fuzz_fixtures_are_present_and_documented():
    sources = (FIXTURES / "SOURCES.md").read_text()

    assert len(REAL) >= 4 and any(p.suffix == ".bin" for p in FIXTURES.iterdir())
    assert all(p.name in sources for p in FIXTURES.iterdir() if p.name != "SOURCES.md")


@pytest.mark.parametrize("name,data", INPUTS, ids=[name for name, _ in INPUTS])
def test_fuzz_fixture_c_and_reference_agree(name, data):
    H.check_one(data)  # raises Disagreement when they differ; a crash takes the process down


@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_fuzz_fixture_real_message_decodes_to_reference_values(path):
    msg = path.read_bytes().strip()
    layout, spec = H.SPECS[LAYOUT_OF[path.name]]

    fields, bids, asks = decode(layout, msg)

    ref_fields, ref_bids, ref_asks = reference.decode(spec, msg)
    assert (
        fields == ref_fields and bids.tobytes() == ref_bids.tobytes() and asks.tobytes() == ref_asks.tobytes()
    )
    assert fields.get("last_id", fields.get("trade_id")) is not None
