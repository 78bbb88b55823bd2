# SPDX-License-Identifier: MIT
"""A short bounded run of the atheris harness (fuzz_decode.py); skipped when atheris is not installed."""

import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().with_name("fuzz_decode.py")
RUNS = 20000


def test_fuzz_decode_bounded_run_finds_no_disagreement(tmp_path):
    pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris)")
    corpus = tmp_path / "corpus"
    corpus.mkdir()

    # The harness seeds a fresh corpus from tests/fixtures/decode; -seed makes the run repeatable.
    run = subprocess.run(
        [
            sys.executable,
            str(HARNESS),
            f"-atheris_runs={RUNS}",
            "-seed=1",
            "-max_len=4096",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        cwd=tmp_path,
    )

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"Done {RUNS} in" in run.stderr
    assert not list(tmp_path.glob("crash-*"))
