# SPDX-License-Identifier: MIT
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The recorded market data set beside the repo (../shared/data); skips the test when absent."""
    if not (SHARED_DATA / "hftbacktest").is_dir():
        pytest.skip(f"recorded data set not found at {SHARED_DATA} (../shared/data beside the repo)")
    return SHARED_DATA
