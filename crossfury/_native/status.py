# SPDX-License-Identifier: MIT
"""Sync outcomes and states: the Python mirror of cf_status and cf_sync_state (csrc/book/sync.h).

Public names are re-exported by crossfury.book; this module sits here so the C wrapper can import it
without importing the book facade."""

import enum


class SyncStatus(enum.IntEnum):
    """Outcome of feeding a snapshot or a depth event."""

    APPLIED = 0       # applied to a valid book
    BUFFERED = 1      # held until a snapshot arrives
    STALE = 2         # older than the book: dropped
    GAP = 3           # continuity lost: the book is invalid, fetch a new snapshot
    CROSSED = 4       # applied, and best bid >= best ask afterwards
    SNAPSHOT_OLD = 5  # snapshot older than the buffered events: fetch a newer one


class SyncState(enum.StrEnum):
    WAITING = "waiting"      # no snapshot yet; events are buffered
    SYNCED = "synced"        # valid
    RESYNCING = "resyncing"  # continuity lost; events are buffered until a new snapshot


#: Members by code, for the C wrapper's constant-time conversion.
STATUS_BY_CODE = tuple(SyncStatus)
