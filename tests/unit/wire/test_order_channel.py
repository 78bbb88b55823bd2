# SPDX-License-Identifier: MIT
"""OrderChannel against a scripted loopback HTTP server: framing, keep-alive, closes and timeouts."""

from __future__ import annotations

import asyncio

import pytest

from crossfury.wire.order_channel import OrderChannel


async def _serve(replies: list[bytes], seen: list[bytes], close_after: bool = False):
    """A server that answers each request on a connection with the next scripted reply."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while replies:
                seen.append(await reader.readuntil(b"\r\n\r\n"))
                reply = replies.pop(0)
                if reply == b"HANG":
                    await asyncio.sleep(5)
                    continue
                writer.write(reply)
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def run(body):
    return asyncio.run(asyncio.wait_for(body(), 10))


def test_content_length_and_chunked_replies_on_one_kept_alive_connection():
    async def body():
        seen: list[bytes] = []
        server, port = await _serve([
            b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-MBX-USED-WEIGHT-1M: 7\r\n\r\n{\"a\":12345}",
            b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"cod\r\n9;ext=1\r\ne\":-1022}\r\n0\r\n\r\n",
        ], seen)
        channel = OrderChannel(f"http://127.0.0.1:{port}")
        first = await channel.request("POST", "/fapi/v1/order?a=1", "X-MBX-APIKEY: k\r\n", 2)
        second = await channel.request("GET", "/fapi/v1/order", "", 2)
        assert (first.status, first.body, first.header("X-MBX-USED-WEIGHT-1M")) == (200, b'{"a":12345}', "7")
        assert (second.status, second.body) == (400, b'{"code":-1022}')
        assert channel.connects == 1  # kept alive
        assert seen[0].startswith(b"POST /fapi/v1/order?a=1 HTTP/1.1\r\nHost: 127.0.0.1:")
        assert b"X-MBX-APIKEY: k\r\n" in seen[0] and b"Content-Length: 0\r\n" in seen[0]
        await channel.close()
        server.close()
    run(body)


def test_connection_close_and_an_idle_close_open_a_new_connection():
    async def body():
        seen: list[bytes] = []
        server, port = await _serve([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"] * 2, seen, close_after=True)
        channel = OrderChannel(f"http://127.0.0.1:{port}/prefix/")
        assert (await channel.request("GET", "/x", "", 2)).body == b"{}"
        await asyncio.sleep(0.05)  # the server closed the kept-alive connection meanwhile
        assert (await channel.request("GET", "/y", "", 2)).body == b"{}"
        assert channel.connects == 2 and seen[1].startswith(b"GET /prefix/y HTTP/1.1")
        server.close()
    run(body)


def test_a_reply_without_length_runs_to_the_close():
    async def body():
        server, port = await _serve([b"HTTP/1.0 503 Service Unavailable\r\n\r\n<html>busy</html>"], [],
                                    close_after=True)
        channel = OrderChannel(f"http://127.0.0.1:{port}")
        reply = await channel.request("GET", "/x", "", 2)
        assert (reply.status, reply.body) == (503, b"<html>busy</html>") and channel._idle == []
        server.close()
    run(body)


def test_timeout_and_early_close_raise_and_discard_the_connection():
    async def body():
        server, port = await _serve([b"HANG", b"HTTP/1.1 200 OK\r\nContent-Len"], [])
        channel = OrderChannel(f"http://127.0.0.1:{port}")
        with pytest.raises(TimeoutError):
            await channel.request("POST", "/order", "", 0.2)
        assert channel._idle == []
        server.close()
        server2, port2 = await _serve([b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"short\""], [],
                                      close_after=True)
        with pytest.raises(ConnectionError, match="middle of a reply"):
            await OrderChannel(f"http://127.0.0.1:{port2}").request("POST", "/order", "", 2)
        server2.close()
        with pytest.raises(ConnectionError):  # nothing listens there any more
            await OrderChannel(f"http://127.0.0.1:{port2}").request("GET", "/", "", 2)
    run(body)


def test_bad_url_is_a_config_error():
    from crossfury.core.errors import ConfigError

    with pytest.raises(ConfigError, match="expected http"):
        OrderChannel("ftp://example")


def test_a_reply_arriving_a_byte_at_a_time_is_assembled():
    async def body():
        reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\nX-T: 1\r\n\r\n"

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            for i in range(len(reply)):
                writer.write(reply[i:i + 1])
                await writer.drain()
                await asyncio.sleep(0)
            await reader.read()  # keep the connection open until the client closes it
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        channel = OrderChannel(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        got = await channel.request("GET", "/x", "", 2)
        assert (got.status, got.body) == (200, b'{"a":1}') and len(channel._idle) == 1
        await channel.close()
        server.close()
    run(body)


def test_https_with_certificate_checks(tmp_path):
    """TLS through the same path as https://fapi.binance.com: a certificate for 'localhost' from a test CA."""
    pytest.importorskip("cryptography")
    import datetime as dt
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem, key_pem = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_pem, key_pem)

    async def body():
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            for _ in range(2):
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "localhost", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        trusting = ssl.create_default_context(cafile=str(cert_pem))
        channel = OrderChannel(f"https://localhost:{port}", ssl_context=trusting)
        assert [(await channel.request("GET", "/x", "", 5)).body for _ in range(2)] == [b"{}", b"{}"]
        assert channel.connects == 1
        await channel.close()
        with pytest.raises(ssl.SSLError):  # the default trust store does not know the test CA
            await OrderChannel(f"https://localhost:{port}").request("GET", "/x", "", 5)
        server.close()
    run(body)


def test_deadline_sweep_times_out_only_the_late_request_and_stops_when_idle():
    async def body():
        ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
        server, port = await _serve([b"HANG", ok], [])
        channel = OrderChannel(f"http://127.0.0.1:{port}")
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(TimeoutError):
            await channel.request("POST", "/order", "", 0.2)
        assert loop.time() - t0 >= 0.2  # never before its deadline
        reply = await channel.request("POST", "/order", "", 5)  # a fresh connection, its own deadline
        assert reply.status == 200 and reply.body == b"{}"
        await asyncio.sleep(0.05)
        assert channel._sweeper is None and not channel._busy  # no timer left running while idle
        await channel.close()
        server.close()
    run(body)
