# SPDX-License-Identifier: MIT
"""Secrets (API keys and secrets) as values that never print themselves.

A ``Secret`` reprs and formats as ``Secret('****')``; only ``reveal()`` gives the text, and only signing and
the one header that carries the API key call it. Credentials come from config or from the environment
(``CROSSFURY_<EXCHANGE>_API_KEY`` / ``CROSSFURY_<EXCHANGE>_API_SECRET``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from crossfury.core.errors import ConfigError


class Secret:
    """A secret string whose ``repr`` and ``str`` are masked; ``reveal()`` returns the text."""

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret):
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str) or not value:
            raise ConfigError("a secret must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        """Return the secret text (for signing and the API-key header only)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):  # a pickled or copied Secret stays a Secret, never plain text in a recording
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class Credentials:
    """An API key and its secret, both masked in every repr."""

    api_key: Secret
    api_secret: Secret

    @classmethod
    def of(cls, api_key: str | Secret | None = None, api_secret: str | Secret | None = None, *,
           exchange: str = "binance", env: dict[str, str] | None = None) -> Credentials | None:
        """Return credentials from the arguments, else from ``CROSSFURY_<EXCHANGE>_API_KEY/_API_SECRET``.

        Returns None when neither gives a key; raises ConfigError when only one half is present.
        """
        env = os.environ if env is None else env
        prefix = f"CROSSFURY_{exchange.split('-')[0].upper()}"
        key = api_key if api_key is not None else env.get(f"{prefix}_API_KEY")
        secret = api_secret if api_secret is not None else env.get(f"{prefix}_API_SECRET")
        if not key and not secret:
            return None
        if not key or not secret:
            missing = "API key" if not key else "API secret"
            raise ConfigError(f"{exchange}: the {missing} is missing (pass it or set {prefix}_API_KEY and "
                              f"{prefix}_API_SECRET)")
        return cls(Secret(key), Secret(secret))
