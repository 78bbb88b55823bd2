# SPDX-License-Identifier: MIT
"""The one exception hierarchy of crossfury. Messages name the thing and the value."""


class CrossfuryError(Exception):
    """Base of every error crossfury raises on purpose."""


class DecodeError(CrossfuryError, ValueError):
    """A message or body could not be decoded: malformed JSON, missing keys, wrong types."""


class NumberError(DecodeError):
    """A price or quantity text is not usable: not a plain decimal, negative, out of range, off the grid."""


class BookGapError(CrossfuryError):
    """Update-id continuity was lost; the book is invalid until a new snapshot."""


class ExchangeError(CrossfuryError):
    """The exchange refused a request; carries its own error code and message."""

    def __init__(self, message: str, *, code: int | str | None = None, http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.http_status = http_status


class ConfigError(CrossfuryError, ValueError):
    """A configuration value is missing or invalid."""


class RecorderError(CrossfuryError):
    """A recording cannot start or has stopped: unusable directory, failed disk write, backlog overflow."""


class ConvertError(CrossfuryError, ValueError):
    """Input cannot be converted: unknown file kind or header, a malformed row under --strict, bad options."""
