"""ControlConnection over loopback TLS against a scripted in-process peer."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pymeet.client import CertificateMismatch, ConnectionClosed, KnownServers, RequestError
from pymeet.client.connection import ControlConnection
from pymeet.client.errors import RequestTimeout
from pymeet.client.known_servers import certificate_fingerprint
from pymeet.client.trust import ServerTrust
from pymeet.protocol.framing import FrameDecoder, encode_frame, encode_media_frame
from pymeet.protocol.messages import dumps, frame, loads_object
from tests.support.timeouts import timeout

Handler = Callable[["Peer", dict[str, Any]], Awaitable[None]]


def make_certificate(directory: Path) -> tuple[Path, Path, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    fingerprint = certificate_fingerprint(cert.public_bytes(serialization.Encoding.DER))
    return cert_path, key_path, fingerprint


@dataclass
class Peer:
    """The server side of one accepted connection."""

    writer: asyncio.StreamWriter
    received: list[dict[str, Any]] = field(default_factory=list)
    media: list[bytes] = field(default_factory=list)

    def send(self, message: dict[str, Any]) -> None:
        self.writer.write(frame(message))


@dataclass
class FakeServer:
    port: int
    fingerprint: str
    peers: list[Peer]
    bytes_seen: list[int]


@pytest.fixture
async def fake_server(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[FakeServer]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler, *, tls_max: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3,
                    ) -> FakeServer:
        cert, key, fingerprint = make_certificate(tmp_path)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.maximum_version = tls_max
        context.load_cert_chain(cert, key)
        peers: list[Peer] = []
        bytes_seen: list[int] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = Peer(writer)
            peers.append(peer)
            decoder = FrameDecoder()
            try:
                while data := await reader.read(65536):
                    bytes_seen.append(len(data))
                    decoder.receive_data(data)
                    for payload in decoder.frames():
                        if payload[0] == 0:
                            peer.media.append(payload[1:])
                            continue
                        message = loads_object(payload)
                        peer.received.append(message)
                        await handler(peer, message)
            except (ConnectionError, ssl.SSLError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return FakeServer(port, fingerprint, peers, bytes_seen)

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def until(condition: Callable[[], bool]) -> None:
    """Wait (generously) until ``condition()`` holds."""
    async with asyncio.timeout(timeout(10)):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


def trust(tmp_path: Path, fingerprint: str | None = None) -> ServerTrust:
    return ServerTrust(KnownServers(tmp_path / "pins.json"), fingerprint)


async def echo(peer: Peer, message: dict[str, Any]) -> None:
    peer.send({"type": "reply", "id": message["id"], "ok": True, "echo": message})


async def test_reply_is_matched_by_id_even_out_of_order(fake_server: Any,
                                                        tmp_path: Path) -> None:
    held: list[dict[str, Any]] = []

    async def reverse(peer: Peer, message: dict[str, Any]) -> None:
        held.append(message)
        if len(held) == 3:
            for m in reversed(held):
                peer.send({"type": "reply", "id": m["id"], "ok": True, "n": m["n"]})

    server = await fake_server(reverse)
    conn = await ControlConnection.open("127.0.0.1", server.port, trust(tmp_path))
    try:
        replies = await asyncio.wait_for(asyncio.gather(
            *(conn.request("x", {"n": n}) for n in range(3))), timeout(10))
        assert [r["n"] for r in replies] == [0, 1, 2]
        assert len({m["id"] for m in held}) == 3
    finally:
        await conn.close()


async def test_tls13_only_and_fingerprint_pinned_on_first_use(fake_server: Any,
                                                              tmp_path: Path) -> None:
    server = await fake_server(echo)
    conn = await ControlConnection.open("127.0.0.1", server.port, trust(tmp_path))
    try:
        assert conn.fingerprint == server.fingerprint
        ssl_object = conn._writer.get_extra_info("ssl_object")
        assert ssl_object.version() == "TLSv1.3"
        assert KnownServers(tmp_path / "pins.json").get(
            f"127.0.0.1:{server.port}") == server.fingerprint
    finally:
        await conn.close()


async def test_tls12_server_is_refused(fake_server: Any, tmp_path: Path) -> None:
    server = await fake_server(echo, tls_max=ssl.TLSVersion.TLSv1_2)
    with pytest.raises(ConnectionClosed, match="TLS"):
        await ControlConnection.open("127.0.0.1", server.port, trust(tmp_path))


async def test_mismatched_pin_sends_nothing(fake_server: Any, tmp_path: Path) -> None:
    server = await fake_server(echo)
    KnownServers(tmp_path / "pins.json").pin(f"127.0.0.1:{server.port}", "00" * 32)
    with pytest.raises(CertificateMismatch):
        await ControlConnection.open("127.0.0.1", server.port, trust(tmp_path))
    await asyncio.sleep(0.1)
    assert server.bytes_seen == []


async def test_error_reply_raises_request_error(fake_server: Any, tmp_path: Path) -> None:
    async def refuse(peer: Peer, message: dict[str, Any]) -> None:
        peer.send({"type": "reply", "id": message["id"], "ok": False,
                   "error": {"code": "rate_limited", "message": "slow down",
                             "field": "username", "retry_after": 3}})

    server = await fake_server(refuse)
    conn = await ControlConnection.open("127.0.0.1", server.port, trust(tmp_path))
    try:
        with pytest.raises(RequestError) as caught:
            await conn.request("auth.login", {"username": "x", "password": "y"})
        assert caught.value.code == "rate_limited"
        assert caught.value.message == "slow down"
        assert caught.value.field == "username"
        assert caught.value.extra == {"retry_after": 3}
    finally:
        await conn.close()


async def test_events_media_and_hooks_arrive_in_order(fake_server: Any,
                                                      tmp_path: Path) -> None:
    seen: list[Any] = []

    async def chatty(peer: Peer, message: dict[str, Any]) -> None:
        # reply, event and media in one write: the hook must run before the event
        peer.writer.write(frame({"type": "reply", "id": message["id"], "ok": True})
                          + frame({"type": "presence", "username": "bob", "online": True})
                          + encode_media_frame(b"\x01sealed"))

    server = await fake_server(chatty)
    conn = await ControlConnection.open(
        "127.0.0.1", server.port, trust(tmp_path),
        on_event=lambda event: seen.append(("event", event["type"])),
        on_media_packet=lambda packet: seen.append(("media", packet)))
    try:
        await conn.request("ping", on_ok=lambda reply: seen.append(("hook", reply["id"])))
        await until(lambda: len(seen) >= 3)
        assert seen == [("hook", 1), ("event", "presence"), ("media", b"\x01sealed")]
        conn.send_media_packet(b"\x01up")
        await until(lambda: bool(server.peers[0].media))
        assert server.peers[0].media == [b"\x01up"]
    finally:
        await conn.close()


async def test_drop_fails_pending_requests_and_reports_once(fake_server: Any,
                                                            tmp_path: Path) -> None:
    async def hang_up(peer: Peer, message: dict[str, Any]) -> None:
        peer.writer.close()

    closes: list[BaseException | None] = []
    server = await fake_server(hang_up)
    conn = await ControlConnection.open("127.0.0.1", server.port, trust(tmp_path),
                                        on_close=closes.append)
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(conn.request("ping"), timeout(10))
    await asyncio.wait_for(conn.wait_closed(), timeout(10))
    await conn.close()
    assert len(closes) == 1 and isinstance(closes[0], ConnectionClosed)
    with pytest.raises(ConnectionClosed):
        await conn.request("ping")
    with pytest.raises(ConnectionClosed):
        conn.send_media_packet(b"x")


async def test_unanswered_request_times_out(fake_server: Any, tmp_path: Path) -> None:
    async def silent(peer: Peer, message: dict[str, Any]) -> None:
        return None

    server = await fake_server(silent)
    conn = await ControlConnection.open("127.0.0.1", server.port, trust(tmp_path))
    try:
        with pytest.raises(RequestTimeout):
            await conn.request("ping", timeout=0.2)
        assert not conn.closed
    finally:
        await conn.close()


async def test_garbage_from_the_server_is_skipped(fake_server: Any, tmp_path: Path) -> None:
    async def messy(peer: Peer, message: dict[str, Any]) -> None:
        peer.writer.write(encode_frame(b"{not json") + encode_frame(dumps([1]))
                          + frame({"type": "reply", "ok": False,
                                   "error": {"code": "bad_request", "message": "?"}})
                          + frame({"type": "reply", "id": message["id"], "ok": True}))

    server = await fake_server(messy)
    conn = await ControlConnection.open("127.0.0.1", server.port, trust(tmp_path))
    try:
        reply = await asyncio.wait_for(conn.request("ping"), timeout(10))
        assert reply["ok"] is True
    finally:
        await conn.close()


async def test_oversized_frame_from_the_server_ends_the_connection(
        fake_server: Any, tmp_path: Path) -> None:
    async def huge(peer: Peer, message: dict[str, Any]) -> None:
        peer.writer.write((2_000_000).to_bytes(4, "big"))

    server = await fake_server(huge)
    conn = await ControlConnection.open("127.0.0.1", server.port, trust(tmp_path))
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(conn.request("ping"), timeout(10))
    assert conn.closed
