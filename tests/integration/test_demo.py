# SPDX-License-Identifier: MIT
"""The README's main command, end to end: the demo's replayed books must end where the live ones did."""

import json
import subprocess
import sys


def test_crossfury_demo_injects_faults_records_and_replays_to_the_live_books(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "crossfury.cli", "demo", "--duration", "6", "--json", "--out",
                           str(tmp_path)], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    summary = json.loads(proc.stdout)
    assert summary["ok"] and summary["faults_injected"] == ["gap", "disconnect"]
    assert summary["live"]["gaps"] >= 1 and summary["live"]["reconnects"] >= 1
    for sym, check in summary["replay"].items():
        assert check["replay_matches_live"] and check["live_valid"], sym
        assert check["bbo_checks"] > 0 and check["bbo_mismatches"] == 0, sym
    assert len(list(tmp_path.glob("*.gz"))) == 3
