# SPDX-License-Identifier: MIT
"""The simulated account's default credentials: importable without the servers (the CLI's help shows them)."""

DEFAULT_API_KEY = "crossfury-sim-key"
DEFAULT_API_SECRET = "crossfury-sim-secret"
