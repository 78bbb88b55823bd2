# SPDX-License-Identifier: MIT
import random

import pytest

from crossfury.wire import Backoff


def test_backoff_doubles_up_to_the_cap_without_jitter():
    b = Backoff(initial_s=0.5, max_s=4.0, jitter=0.0)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_backoff_jitter_stays_within_its_band_and_never_exceeds_the_cap():
    b = Backoff(initial_s=0.1, max_s=2.0, jitter=0.5, rng=random.Random(7))
    delays = [b.next_delay() for _ in range(200)]
    for n, d in enumerate(delays):
        base = min(2.0, 0.1 * 2**n)
        assert base * 0.5 <= d <= base
    assert len({round(d, 9) for d in delays[10:]}) > 50  # jitter really spreads capped delays


def test_backoff_reset_starts_again_from_the_initial_delay():
    b = Backoff(initial_s=1.0, max_s=60.0, jitter=0.0)
    for _ in range(5):
        b.next_delay()
    b.reset()
    assert b.next_delay() == 1.0


def test_backoff_survives_a_very_long_outage():
    b = Backoff(initial_s=0.1, max_s=30.0, jitter=0.0)
    for _ in range(5000):
        d = b.next_delay()
    assert d == 30.0


@pytest.mark.parametrize("kwargs", [{"initial_s": 0}, {"max_s": 0.01}, {"jitter": 1.5}, {"factor": 0.5}])
def test_backoff_rejects_invalid_settings(kwargs):
    with pytest.raises(ValueError):
        Backoff(**kwargs)
