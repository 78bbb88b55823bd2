# SPDX-License-Identifier: MIT
"""hftbacktest's own converters, imported once per session (their numba functions compile on first use)."""

from types import SimpleNamespace

import pytest


@pytest.fixture(scope="session")
def hbt():
    """hftbacktest 2.4.4's converters and validation functions (a test dependency)."""
    pytest.importorskip("hftbacktest", reason="hftbacktest (a test dependency) is not installed")
    from hftbacktest.data import validation
    from hftbacktest.data.utils import binancefutures, tardis

    return SimpleNamespace(binancefutures=binancefutures, tardis=tardis, validation=validation)

