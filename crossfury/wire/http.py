# SPDX-License-Identifier: MIT
"""REST requests under a weight limiter: 429 waits for Retry-After and retries, 418 stops and reports."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable, Mapping

import aiohttp

from crossfury.core.errors import ExchangeError
from crossfury.decode import parse_json
from crossfury.wire.limiter import RateLimitError, WeightLimiter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Response:
    """A successful response: body bytes, headers, and our receive time (ns since the epoch)."""

    status: int
    body: bytes
    headers: Mapping[str, str]
    local_ts: int

    def json(self) -> object:
        """Parse the body as JSON (the generic, non-hot parser)."""
        return parse_json(self.body)


def _retry_after_s(headers: Mapping[str, str], default_s: float) -> float:
    try:
        return max(0.0, float(headers.get("Retry-After", default_s)))
    except ValueError:
        return default_s


def _exchange_error(status: int, body: bytes, what: str) -> ExchangeError:
    code, msg = None, body[:200].decode("utf-8", "replace")
    try:
        obj = parse_json(body)
        if isinstance(obj, dict):
            code, msg = obj.get("code"), str(obj.get("msg", msg))
    except Exception:  # a non-JSON error page: keep its text
        pass
    return ExchangeError(f"{what}: HTTP {status}, exchange code {code}: {msg}", code=code, http_status=status)


class RestClient:
    """Send REST requests to one exchange base URL, spending weight from a shared limiter.

    ``used_weight_header`` names the response header carrying the exchange's count of used weight
    (Binance ``X-MBX-USED-WEIGHT-1M``). A 429 pauses the limiter for Retry-After and the request is
    retried up to ``max_retries`` times; a 418 bans the limiter and raises ``RateLimitError``.
    """

    def __init__(self, base_url: str, limiter: WeightLimiter, *, used_weight_header: str | None = None,
                 timeout_s: float = 10.0, max_retries: int = 5, session: aiohttp.ClientSession | None = None,
                 clock_ns: Callable[[], int] = time.time_ns):
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.used_weight_header = used_weight_header
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._session = session
        self._own_session = session is None
        self._clock_ns = clock_ns
        self.requests = 0
        self.errors = 0

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
            self._own_session = True
        return self._session

    async def close(self) -> None:
        """Close the HTTP session if this client opened it."""
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None

    async def request(self, method: str, path: str, params: Mapping[str, str | int] | None = None, *,
                      weight: int = 1, headers: Mapping[str, str] | None = None) -> Response:
        """Send one request after the limiter admits its weight; return the 2xx response.

        Raises ExchangeError (with the exchange's code) for a refusal, RateLimitError on a 418 ban or
        when 429s persist past ``max_retries``.
        """
        what = f"{method} {path}"
        for attempt in range(self.max_retries + 1):
            await self.limiter.acquire(weight)
            session = await self._client()
            self.requests += 1
            async with session.request(method, self.base_url + path, params=params, headers=headers) as resp:
                body = await resp.read()
                local_ts = self._clock_ns()
                if self.used_weight_header and (used := resp.headers.get(self.used_weight_header)):
                    if used.isdigit():
                        self.limiter.observe_used(int(used))
                if resp.status < 300:
                    return Response(resp.status, body, resp.headers, local_ts)
                self.errors += 1
                if resp.status == 418:
                    self.limiter.ban(_retry_after_s(resp.headers, 120.0))
                    err = _exchange_error(resp.status, body, what)
                    raise RateLimitError(str(err), code=err.code, http_status=418)
                if resp.status == 429:
                    self.limiter.pause(_retry_after_s(resp.headers, 1.0))
                    log.warning("%s: HTTP 429 (attempt %d of %d)", what, attempt + 1, self.max_retries + 1)
                    continue
                raise _exchange_error(resp.status, body, what)
        raise RateLimitError(f"{what}: still rate limited (HTTP 429) after {self.max_retries + 1} attempts",
                             code=429, http_status=429)

    async def get(self, path: str, params: Mapping[str, str | int] | None = None, *, weight: int = 1) -> Response:
        """Send a GET request (see ``request``)."""
        return await self.request("GET", path, params, weight=weight)


async def sleep_until_unbanned(limiter: WeightLimiter) -> None:
    """Wait until the limiter's ban and pause have lifted."""
    now = time.monotonic()
    wait = max(limiter.banned_until, limiter.paused_until) - now
    if wait > 0:
        await asyncio.sleep(wait)
