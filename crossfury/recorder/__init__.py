# SPDX-License-Identifier: MIT
"""Raw feed recordings: the hftbacktest collector format (gzip lines ``<local receive ts> <raw text>``)."""

from crossfury.recorder.format import RecordingLine, RecordingReader, to_ns
from crossfury.recorder.writer import Recorder, day_of, install_signal_handlers, recording_path

__all__ = ["Recorder", "RecordingLine", "RecordingReader", "day_of", "install_signal_handlers",
           "recording_path", "to_ns"]
