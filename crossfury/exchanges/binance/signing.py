# SPDX-License-Identifier: MIT
"""Binance request signing (protocols/binance.md section 6): HMAC-SHA256 over the total params, and Ed25519."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlencode

from crossfury.core.secrets import Secret


def hmac_signature(secret: Secret | str, payload: str) -> str:
    """Return hex(HMAC_SHA256(secret, payload)), Binance's ``signature`` for a REST or WS-API request."""
    key = secret.reveal() if isinstance(secret, Secret) else secret
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()


def encode_params(params: Mapping[str, object] | Iterable[tuple[str, object]]) -> str:
    """Return params as ``application/x-www-form-urlencoded`` text in the given order (booleans as true/false)."""
    items = params.items() if isinstance(params, Mapping) else params
    return urlencode([(k, ("true" if v else "false") if isinstance(v, bool) else v) for k, v in items
                      if v is not None])


def signed_query(secret: Secret | str, params: Mapping[str, object]) -> str:
    """Return the encoded params with ``signature`` appended last (section 6: the signature is the LAST param)."""
    query = encode_params(params)
    return f"{query}&signature={hmac_signature(secret, query)}"


def ws_api_signature(secret: Secret | str, params: Mapping[str, object]) -> str:
    """Return the WS-API signature: params sorted by name, joined as a query string (section 6, third vector)."""
    return hmac_signature(secret, encode_params(sorted(params.items())))


def ed25519_signature(private_key_pem: Secret | bytes, payload: str) -> str:
    """Return base64(Ed25519 signature) of the payload, for Ed25519 API keys (``session.logon``).

    Needs the ``cryptography`` package; raises ImportError naming it when absent.
    """
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    pem = private_key_pem.reveal().encode() if isinstance(private_key_pem, Secret) else private_key_pem
    key = load_pem_private_key(pem, password=None)
    return base64.b64encode(key.sign(payload.encode())).decode()  # type: ignore[union-attr]
