# SPDX-License-Identifier: MIT
"""Build the plain-C stress test of csrc/book under AddressSanitizer and UBSan, and run it."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def stress_binary(tmp_path_factory) -> Path:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler on PATH")
    out = tmp_path_factory.mktemp("c") / "test_book_stress"
    cmd = [cc, "-std=c11", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
           "-Wall", "-Wextra", "-Wconversion", "-Werror", f"-I{REPO / 'csrc'}",
           str(REPO / "tests/c/test_book_stress.c"), str(REPO / "csrc/book/book.c"),
           str(REPO / "csrc/common/decimal.c"), "-o", str(out)]
    build = subprocess.run(cmd, capture_output=True, text=True)
    if build.returncode != 0 and "sanitize" in build.stderr:
        pytest.skip(f"sanitizer runtime unavailable: {build.stderr.strip()[:200]}")
    assert build.returncode == 0, build.stderr
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_c_book_random_operations_match_reference_under_sanitizers(stress_binary, seed):
    run = subprocess.run([str(stress_binary), "60000", str(seed)], capture_output=True, text=True, timeout=300)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok: 60000 iterations" in run.stdout
