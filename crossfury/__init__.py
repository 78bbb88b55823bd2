# SPDX-License-Identifier: MIT
"""crossfury: crypto-exchange connectivity with a C hot path."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("crossfury")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
