# SPDX-License-Identifier: MIT
"""Errors, clock and configuration shared by every stage."""
