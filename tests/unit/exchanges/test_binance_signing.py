# SPDX-License-Identifier: MIT
"""Binance signing: HMAC against the official vectors in protocols/binance.md section 6; Ed25519 (see below)."""

from __future__ import annotations

import base64
import shutil
import subprocess
from urllib.parse import unquote

import pytest

from crossfury.core.errors import ConfigError
from crossfury.core.secrets import Secret
from crossfury.exchanges.binance.signing import (
    RequestSigner,
    ed25519_signature,
    encode_params,
    hmac_signature,
    signed_query,
    ws_api_payload,
    ws_api_signature,
)

SPOT_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
FUTURES_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"


def test_hmac_signature_spot_rest_vector():
    payload = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
               "&timestamp=1499827319559")
    assert hmac_signature(Secret(SPOT_SECRET), payload) == \
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_signed_query_futures_rest_vector():
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "9000",
              "timeInForce": "GTC", "recvWindow": 5000, "timestamp": 1591702613943}
    assert signed_query(Secret(FUTURES_SECRET), params).endswith(
        "&timestamp=1591702613943&signature=3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9")


def test_ws_api_signature_spot_vector_sorts_params():
    params = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01000000",
              "price": "52000.00", "recvWindow": 100, "timestamp": 1645423376532,
              "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"}
    assert ws_api_signature(SPOT_SECRET, params) == "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"


# -- Ed25519 ------------------------------------------------------------------------------------------------
# RFC 8032 section 7.1 TEST 1 and TEST 2 (the Ed25519 reference vectors), as PKCS#8 PEM, the form Binance's
# key generator writes. The Binance example below (its WS-API docs, "SIGNED request example (Ed25519)")
# publishes the params and the method (params sorted, joined as a query string, signed, base64) but no key,
# so it is checked with the RFC key: against an independent signer (openssl) and by verification.
RFC_TEST1_PEM = ("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
                 "-----END PRIVATE KEY-----\n")
RFC_TEST1_PUBLIC_PEM = ("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
                        "-----END PUBLIC KEY-----\n")
RFC_TEST1_SIGNATURE = ("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b"
                       "46bd25bf5f0595bbe24655141438e7a100b")
BINANCE_ED25519_EXAMPLE = {"apiKey": "put your own API Key here", "symbol": "BTCUSDT", "side": "SELL",
                           "type": "LIMIT", "timeInForce": "GTC", "quantity": "1.0000000", "price": "0.20",
                           "timestamp": 1668481559918}


def _verify(public_pem: str, signature_b64: str, payload: str) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    load_pem_public_key(public_pem.encode()).verify(base64.b64decode(signature_b64), payload.encode())


def test_ed25519_rfc8032_vector_through_the_pem_key():
    pytest.importorskip("cryptography")
    signer = RequestSigner(Secret(RFC_TEST1_PEM))
    assert signer.kind == "ed25519" and "PRIVATE" not in repr(signer)
    assert base64.b64decode(signer.sign("")).hex() == RFC_TEST1_SIGNATURE


def test_ed25519_binance_example_payload_and_signature():
    pytest.importorskip("cryptography")
    payload = ws_api_payload(BINANCE_ED25519_EXAMPLE)
    assert payload == ("apiKey=put+your+own+API+Key+here&price=0.20&quantity=1.0000000&side=SELL&symbol=BTCUSDT"
                       "&timeInForce=GTC&timestamp=1668481559918&type=LIMIT")
    signature = ws_api_signature(Secret(RFC_TEST1_PEM), BINANCE_ED25519_EXAMPLE)
    assert len(base64.b64decode(signature)) == 64
    _verify(RFC_TEST1_PUBLIC_PEM, signature, payload)
    assert ed25519_signature(RFC_TEST1_PEM, payload) == signature  # deterministic, as Ed25519 is


def test_ed25519_rest_query_matches_openssl(tmp_path):
    pytest.importorskip("cryptography")
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    # Binance's REST example parameters (section 6 of its request-security page), signed as the REST API does.
    params = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1",
              "price": "0.2", "timestamp": 1668481559918, "recvWindow": 5000}
    query = signed_query(Secret(RFC_TEST1_PEM), params)
    payload, _, encoded = query.rpartition("&signature=")
    assert payload == encode_params(params) and "+" not in encoded and "/" not in encoded
    key, data = tmp_path / "key.pem", tmp_path / "payload"
    key.write_text(RFC_TEST1_PEM)
    data.write_bytes(payload.encode())
    out = subprocess.run([openssl, "pkeyutl", "-sign", "-inkey", str(key), "-rawin", "-in", str(data)],
                         capture_output=True, check=True).stdout
    assert unquote(encoded) == base64.b64encode(out).decode()


def test_hmac_secret_is_not_mistaken_for_a_key():
    signer = RequestSigner(Secret(SPOT_SECRET))
    assert signer.kind == "hmac"
    assert signer.signed_query("a=1") == f"a=1&signature={hmac_signature(SPOT_SECRET, 'a=1')}"


@pytest.mark.parametrize("pem, says", [
    ("-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----", "not a readable"),
    ("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v\n-----END PRIVATE KEY-----", "not a"),
])
def test_ed25519_bad_key_is_a_clear_error_without_the_key(pem, says):
    pytest.importorskip("cryptography")
    with pytest.raises(ConfigError, match=says) as err:
        RequestSigner(Secret(pem))
    assert "BEGIN" not in str(err.value) and "MC4C" not in str(err.value)


def test_ed25519_rsa_key_is_refused():
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    with pytest.raises(ConfigError, match="must be Ed25519"):
        RequestSigner(Secret(pem))


@pytest.mark.parametrize("params", [
    {"symbol": "BTCUSDT", "quantity": "0.001", "newClientOrderId": "cf-1a_b.c~d", "recvWindow": 5000},
    {"apiKey": "put your own API Key here", "note": "a+b/c=d&e", "unicode": "дата", "flag": True, "off": False},
    {"empty": "", "none": None, "star": "*", "pct": "%41"},
])
def test_encode_params_is_urlencode(params):
    from urllib.parse import urlencode

    expected = urlencode([(k, ("true" if v else "false") if isinstance(v, bool) else v)
                          for k, v in params.items() if v is not None])
    assert encode_params(params) == expected
