"""Helpers shared by the hardening tests: a member's media endpoint on the event loop,
attacker-side connections from another loopback address, and small measurements."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import ssl
from pathlib import Path

from pymeet.protocol.errors import MediaPacketError
from pymeet.protocol.media_packet import AUDIO_PAYLOAD_SIZE, SERVER_TO_CLIENT, Kind, MediaHeader
from tests.support.timeouts import timeout
from tests.support.udp_peer import UdpPeer
from tests.support.wire import HANDSHAKE, WireClient, client_ssl_context

ATTACKER_HOST = "127.0.0.2"
"""Hostile traffic comes from another loopback address, so that per-address limits (the
login throttle) hit the attacker and not the legitimate users on 127.0.0.1."""
RECEIVE_BUFFER = 4 * 1024 * 1024


class MediaMember(asyncio.DatagramProtocol):
    """One logged-in session's UDP media endpoint (§4), read by the event loop.

    Everything that arrives is opened with the session's key; what opens is kept in
    ``opened`` (headers), what does not is counted in ``undecryptable``. Every audio
    datagram sent is kept in ``sent``, so an attacker can replay it.
    """

    def __init__(self, control: WireClient, host: str) -> None:
        media = control.media
        self.control = control
        self.peer = UdpPeer((host, media["port"]), media["ssrc"],
                            base64.b64decode(media["key"]))
        self.peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self.opened: list[MediaHeader] = []
        self.undecryptable = 0
        self.sent: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None
        self._arrived = asyncio.Event()

    @property
    def ssrc(self) -> int:
        return self.peer.ssrc

    async def start(self) -> MediaMember:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, sock=self.peer.sock)
        return self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            header, _payload = self.peer.cipher.open(SERVER_TO_CLIENT, data)
        except MediaPacketError:
            self.undecryptable += 1
            return
        self.opened.append(header)
        self._arrived.set()

    def _send(self, datagram: bytes) -> None:
        assert self.transport is not None, "start() first"
        self.transport.sendto(datagram, self.peer.server)

    async def bind(self) -> None:
        """Ping until a pong comes back: the server now knows this address (§4.3 step 4)."""
        loop = asyncio.get_running_loop()
        for _ in range(10):
            self._send(self.peer.seal(Kind.PING, bytes(8)))
            deadline = loop.time() + timeout(0.5)
            while loop.time() < deadline:
                if any(h.kind == Kind.PONG for h in self.opened):
                    return
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), deadline - loop.time())
        raise AssertionError("the server never answered a media ping")

    def audio(self, payload: bytes = bytes(AUDIO_PAYLOAD_SIZE)) -> bytes:
        datagram = self.peer.seal(Kind.AUDIO, payload, timestamp=(self.peer.seq + 1) * 320)
        self._send(datagram)
        self.sent.append(datagram)
        return datagram

    def audio_seqs_from(self, ssrc: int) -> list[int]:
        return [h.seq for h in self.opened if h.kind == Kind.AUDIO and h.ssrc == ssrc]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def attacker_tls(host: str, port: int, source: str = ATTACKER_HOST) -> WireClient:
    """A raw control connection (TLS 1.3) from ``source``."""
    reader, writer = await asyncio.open_connection(
        host, port, ssl=client_ssl_context(), local_addr=(source, 0),
        ssl_handshake_timeout=timeout(HANDSHAKE), server_hostname="",
    )
    return WireClient(reader, writer)


async def attacker_user(host: str, port: int, name: str, password: str,
                        source: str = ATTACKER_HOST) -> WireClient:
    """A logged-in raw client from ``source`` (registering ``name`` first)."""
    client = await attacker_tls(host, port, source)
    await client.hello()
    await client.register(name, password=password)
    await client.login(name, password)
    return client


async def closed_by_peer(reader: asyncio.StreamReader, within: float) -> bool:
    """True when the other side closes the stream (EOF or reset) within ``within`` s."""
    try:
        async with asyncio.timeout(within):
            while await reader.read(65536):
                pass
    except (ConnectionError, OSError, ssl.SSLError):
        return True
    except TimeoutError:
        return False
    return True


def rss_kib(pid: int) -> int:
    """The resident set size of process ``pid`` in KiB (/proc/<pid>/status VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")
