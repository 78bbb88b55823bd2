# SPDX-License-Identifier: MIT
import asyncio

import pytest

from crossfury.wire import MessageRate, RateLimitError, WeightLimiter


class FakeClock:
    """Time that only moves when the test says so (the limiter's own clock, not crossfury code)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_limiter_admits_up_to_capacity_then_asks_to_wait_for_the_refill():
    clock = FakeClock()
    lim = WeightLimiter(600, 60.0, headroom=1.0, clock=clock)  # 10 weight per second
    assert lim.delay_for(600) == 0.0
    lim._tokens -= 600
    assert lim.delay_for(20) == pytest.approx(2.0)
    clock.now += 1.0
    assert lim.delay_for(20) == pytest.approx(1.0)
    clock.now += 1.0
    assert lim.delay_for(20) == 0.0


def test_limiter_follows_the_weight_the_exchange_reports():
    clock = FakeClock()
    lim = WeightLimiter(2400, 60.0, headroom=1.0, clock=clock)
    lim.observe_used(2390)  # another process on this IP spent almost everything
    assert lim.used_weight == 2390
    assert lim.delay_for(20) == pytest.approx((20 - 10) / 40.0)


def test_limiter_headroom_leaves_part_of_the_limit_unused():
    lim = WeightLimiter(1000, 60.0, headroom=0.9, clock=FakeClock())
    assert lim.capacity == 900
    with pytest.raises(ValueError, match="exceeds"):
        lim.delay_for(950)


def test_limiter_429_pauses_every_request_for_retry_after():
    clock = FakeClock()
    lim = WeightLimiter(6000, clock=clock)
    lim.pause(3.0)
    assert lim.delay_for(1) == pytest.approx(3.0)
    clock.now += 3.0
    assert lim.delay_for(1) == 0.0
    assert lim.stats()["rate_limited"] == 1


def test_limiter_418_refuses_until_the_ban_lifts():
    clock = FakeClock()
    lim = WeightLimiter(6000, clock=clock)
    lim.ban(120.0)
    with pytest.raises(RateLimitError, match="418") as err:
        lim.delay_for(1)
    assert err.value.http_status == 418
    clock.now += 121.0
    assert lim.delay_for(1) == 0.0


def test_limiter_acquire_waits_then_spends():
    async def body():
        lim = WeightLimiter(100, 1.0, headroom=1.0)  # 100 per second
        await lim.acquire(100)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await lim.acquire(10)  # needs about 0.1 s of refill
        return loop.time() - t0, lim.waits

    waited_s, waits = asyncio.run(asyncio.wait_for(body(), 5))
    assert waits >= 1 and waited_s > 0


def test_message_rate_spaces_control_messages():
    clock = FakeClock()
    rate = MessageRate(4.0, clock=clock)
    slept = []

    async def fake_sleep_run():
        import crossfury.wire.limiter as mod

        real_sleep = mod.asyncio.sleep

        async def record(s):
            slept.append(s)

        mod.asyncio.sleep = record
        try:
            for _ in range(3):
                await rate.wait()
        finally:
            mod.asyncio.sleep = real_sleep

    asyncio.run(fake_sleep_run())
    assert slept == pytest.approx([0.25, 0.5])
