# SPDX-License-Identifier: MIT
"""The plain-C test of csrc/convert (tests/c/test_convert_fuzz.c) under AddressSanitizer and UBSan."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book"))
from test_c_kernels import build_sanitized


@pytest.fixture(scope="module")
def convert_fuzz_binary(tmp_path_factory) -> Path:
    return build_sanitized(tmp_path_factory, "tests/c/test_convert_fuzz.c", "csrc/convert/order.c",
                           "csrc/convert/tardis.c", "csrc/convert/recording.c", "csrc/decode/decode.c",
                           "csrc/common/decimal.c")


@pytest.mark.parametrize("seed", [1, 2])
def test_c_convert_kernels_survive_mutated_input_under_sanitizers(convert_fuzz_binary, seed):
    run = subprocess.run([str(convert_fuzz_binary), "10000", str(seed)], capture_output=True, text=True, timeout=300)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok: 10000 iterations" in run.stdout
