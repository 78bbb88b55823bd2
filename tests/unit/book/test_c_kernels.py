# SPDX-License-Identifier: MIT
"""Build the plain-C tests in tests/c under AddressSanitizer and UBSan, and run them."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def build_sanitized(tmp_path_factory, test_source: str, *sources: str) -> Path:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler on PATH")
    out = tmp_path_factory.mktemp("c") / Path(test_source).stem
    # -pthread: the argsort's thread team (csrc/convert/order.c); glibc before 2.34 keeps pthreads apart
    cmd = [cc, "-std=c11", "-O1", "-g", "-pthread", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
           "-Wall", "-Wextra", "-Wconversion", "-Werror", f"-I{REPO / 'csrc'}", str(REPO / test_source),
           *(str(REPO / s) for s in sources), "-o", str(out)]
    build = subprocess.run(cmd, capture_output=True, text=True)
    if build.returncode != 0 and "sanitize" in build.stderr:
        pytest.skip(f"sanitizer runtime unavailable: {build.stderr.strip()[:200]}")
    assert build.returncode == 0, build.stderr
    return out


@pytest.fixture(scope="module")
def stress_binary(tmp_path_factory) -> Path:
    return build_sanitized(tmp_path_factory, "tests/c/test_book_stress.c", "csrc/book/book.c",
                           "csrc/common/decimal.c")


@pytest.fixture(scope="module")
def decimal_diff_binary(tmp_path_factory) -> Path:
    return build_sanitized(tmp_path_factory, "tests/c/test_decimal_diff.c", "csrc/common/decimal.c")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_c_book_random_operations_match_reference_under_sanitizers(stress_binary, seed):
    run = subprocess.run([str(stress_binary), "60000", str(seed)], capture_output=True, text=True, timeout=300)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok: 60000 iterations" in run.stdout


@pytest.mark.parametrize("seed", [1, 2])
def test_c_decimal_eight_byte_reader_matches_byte_reader_under_sanitizers(decimal_diff_binary, seed):
    run = subprocess.run([str(decimal_diff_binary), "500000", str(seed)], capture_output=True, text=True,
                         timeout=300)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok: 500000 iterations" in run.stdout


@pytest.fixture(scope="module")
def decode_fuzz_binary(tmp_path_factory) -> Path:
    return build_sanitized(tmp_path_factory, "tests/c/test_decode_fuzz.c", "csrc/decode/decode.c",
                           "csrc/book/sync.c", "csrc/book/book.c", "csrc/common/decimal.c")


@pytest.mark.parametrize("seed", [1, 2])
def test_c_decode_and_sync_survive_mutated_messages_under_sanitizers(decode_fuzz_binary, seed):
    run = subprocess.run([str(decode_fuzz_binary), "300000", str(seed)], capture_output=True, text=True,
                         timeout=300)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok: 300000 iterations" in run.stdout


@pytest.fixture(scope="module")
def decode_fast_paths_binary(tmp_path_factory) -> Path:
    return build_sanitized(tmp_path_factory, "tests/c/test_decode_fast_paths.c", "tests/c/decode_general.c",
                           "csrc/decode/decode.c", "csrc/common/decimal.c")


@pytest.mark.parametrize("seed", [1, 2])
def test_c_decode_fast_paths_agree_with_the_general_scanner_under_sanitizers(decode_fast_paths_binary, seed):
    run = subprocess.run([str(decode_fast_paths_binary), "200000", str(seed)], check=False, capture_output=True,
                         text=True, timeout=300)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok: 200000 iterations" in run.stdout
