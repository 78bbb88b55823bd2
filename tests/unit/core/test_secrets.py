# SPDX-License-Identifier: MIT
from __future__ import annotations

import pytest

from crossfury.core.errors import ConfigError
from crossfury.core.secrets import Credentials, Secret


def test_secret_repr_str_and_format_are_masked():
    s = Secret("top-secret-value")
    assert "top-secret" not in repr(s) and "top-secret" not in str(s) and "top-secret" not in f"{s} {s!r}"
    assert s.reveal() == "top-secret-value"


def test_credentials_repr_is_masked():
    c = Credentials.of("my-key-123", "my-secret-456")
    assert "my-key-123" not in repr(c) and "my-secret-456" not in repr(c)


def test_credentials_from_environment():
    c = Credentials.of(env={"CROSSFURY_BINANCE_API_KEY": "k", "CROSSFURY_BINANCE_API_SECRET": "s"},
                       exchange="binance-usdm")
    assert c is not None and c.api_key.reveal() == "k" and c.api_secret.reveal() == "s"


def test_credentials_absent_or_half_present():
    assert Credentials.of(env={}) is None
    with pytest.raises(ConfigError):
        Credentials.of("k", None, env={})


def test_secret_cannot_be_pickled():
    import pickle
    with pytest.raises(TypeError):
        pickle.dumps(Secret("x"))
