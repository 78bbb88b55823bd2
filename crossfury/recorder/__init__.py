# SPDX-License-Identifier: MIT
"""Raw feed recordings: the hftbacktest collector format (gzip lines ``<local receive ts> <raw text>``)."""

from crossfury.recorder.format import RecordingLine, RecordingReader, to_ns

__all__ = ["RecordingLine", "RecordingReader", "to_ns"]
