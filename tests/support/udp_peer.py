"""A raw UDP media endpoint for tests: seals and opens datagrams by hand (PROTOCOL.md §4.2)."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

from pymeet.protocol.errors import MediaPacketError
from pymeet.protocol.media_packet import (
    CLIENT_TO_SERVER,
    SERVER_TO_CLIENT,
    Kind,
    MediaCipher,
    MediaHeader,
)
from tests.support.timeouts import timeout

AUDIO_FRAME = bytes(640)


@dataclass
class UdpPeer:
    """One session's media socket. ``seq`` is the session's single packet counter."""

    server: tuple[str, int]
    ssrc: int
    key: bytes
    seq: int = 0
    sock: socket.socket = field(init=False)

    def __post_init__(self) -> None:
        self.cipher = MediaCipher(self.key)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def close(self) -> None:
        self.sock.close()

    def seal(self, kind: Kind, payload: bytes, **header: int) -> bytes:
        self.seq += 1
        return self.cipher.seal(
            CLIENT_TO_SERVER, MediaHeader(kind, self.ssrc, self.seq, header.pop("timestamp", 0),
                                          **header), payload)

    def send(self, datagram: bytes) -> None:
        self.sock.sendto(datagram, self.server)

    def audio(self, payload: bytes = AUDIO_FRAME) -> bytes:
        datagram = self.seal(Kind.AUDIO, payload, timestamp=self.seq * 320)
        self.send(datagram)
        return datagram

    def video(self, payload: bytes, frame_id: int = 1) -> bytes:
        datagram = self.seal(Kind.VIDEO, payload, frame_id=frame_id, frag_index=0, frag_count=1)
        self.send(datagram)
        return datagram

    def ping(self) -> None:
        self.send(self.seal(Kind.PING, time.monotonic_ns().to_bytes(8, "big")))

    def receive(self, quiet: float = 0.4, limit: int = 10_000) -> list[tuple[MediaHeader, bytes]]:
        """Every datagram that arrives until ``quiet`` seconds pass without one, opened
        with this session's key. Anything that fails to open fails the test."""
        opened: list[tuple[MediaHeader, bytes]] = []
        self.sock.settimeout(timeout(quiet))
        try:
            while len(opened) < limit:
                data = self.sock.recv(2048)
                try:
                    opened.append(self.cipher.open(SERVER_TO_CLIENT, data))
                except MediaPacketError as exc:
                    raise AssertionError(f"undecryptable datagram: {exc}") from exc
        except TimeoutError:
            pass
        return opened

    def bind(self) -> None:
        """Ping until the server answers, so it knows this socket's address (§4.3 step 4)."""
        for _ in range(5):
            self.ping()
            if any(h.kind == Kind.PONG for h, _ in self.receive(quiet=0.3)):
                return
        raise AssertionError("the server never answered a media ping")
