# SPDX-License-Identifier: MIT
"""Transports: the WebSocket client, REST under a weight limiter, backoff. Knows nothing of books or exchanges."""

from crossfury.wire.backoff import Backoff
from crossfury.wire.http import Response, RestClient
from crossfury.wire.limiter import MessageRate, RateLimitError, WeightLimiter
from crossfury.wire.order_channel import OrderChannel
from crossfury.wire.ws import WsConnection

__all__ = ["Backoff", "MessageRate", "OrderChannel", "RateLimitError", "Response", "RestClient", "WeightLimiter", "WsConnection"]
