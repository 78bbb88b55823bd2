# SPDX-License-Identifier: MIT
"""Thin Cython wrappers over csrc/. Private: import the stage facades (crossfury.book) instead."""
