# SPDX-License-Identifier: MIT
"""Helpers shared by the converter tests."""


def same_events(ours, theirs) -> bool:
    """Equal field by field, bit for bit (NaN and -0.0 included)."""
    return ours.dtype == theirs.dtype and len(ours) == len(theirs) and ours.tobytes() == theirs.tobytes()
