"""The media relay (PROTOCOL.md §4.3): one datagram in, sealed copies out to the other
members of the sender's room, and nowhere else.

The per-packet path touches no JSON, no database and builds no cipher: it reads the
`MediaPeer` the control layer keeps current and reseals with each recipient's cached
`AESGCM`. Packets tunnelled over control (§4.6) take the same path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from cryptography.exceptions import InvalidTag

from pymeet.protocol.frame_assembler import FrameAssembler
from pymeet.protocol.media_packet import (
    AUDIO_PAYLOAD_SIZE,
    BASE_HEADER,
    BASE_HEADER_SIZE,
    CLIENT_TO_SERVER,
    MAX_DATAGRAM_SIZE,
    NONCE,
    PEEK_PREFIX,
    PING_PAYLOAD_SIZE,
    SERVER_TO_CLIENT,
    TAG_SIZE,
    VERSION,
    VIDEO_HEADER,
    VIDEO_HEADER_SIZE,
    Kind,
)
from pymeet.protocol.video_fragmenter import fragment_frame
from pymeet.server.media_peers import Address, MediaDirectory, MediaPeer

log = logging.getLogger(__name__)

ADDRESS_LIFETIME = 30.0  # §4.5: a bound address is forgotten after 30 s of silence
SWEEP_INTERVAL = 5.0
STATS_LOG_INTERVAL = 60.0
SOCKET_BUFFER_BYTES = 8 * 1024 * 1024
# Python's socket module does not export the FORCE options; these are Linux's values.
_LINUX = sys.platform.startswith("linux")
_SO_RCVBUFFORCE: int | None = getattr(socket, "SO_RCVBUFFORCE", 33 if _LINUX else None)
_SO_SNDBUFFORCE: int | None = getattr(socket, "SO_SNDBUFFORCE", 32 if _LINUX else None)
_PING, _PONG, _AUDIO, _VIDEO = int(Kind.PING), int(Kind.PONG), int(Kind.AUDIO), int(Kind.VIDEO)
# The hot path's constants and bound methods, looked up once (`peek` and `MediaCipher`
# inlined: on this path a Python call costs about as much as the check it wraps).
_PEEK = PEEK_PREFIX.unpack_from
_NONCE = NONCE.pack
_MIN_DATAGRAM = BASE_HEADER_SIZE + TAG_SIZE
_HEADER_SIZES = {_PING: BASE_HEADER_SIZE, _PONG: BASE_HEADER_SIZE, _AUDIO: BASE_HEADER_SIZE,
                 _VIDEO: VIDEO_HEADER_SIZE}
_monotonic = time.monotonic


@dataclass(frozen=True)
class MediaLimits:
    """Per-session token buckets (§4.3 step 5). The defaults carry one 640×480 camera
    at 15 fps (about 30 KB a frame, 400 datagrams/s) plus voice (50/s) with headroom."""

    packets_per_second: float = 1500.0
    packet_burst: float = 600.0
    bytes_per_second: float = 1_500_000.0
    byte_burst: float = 600_000.0


def enlarge_buffers(sock: socket.socket, size: int = SOCKET_BUFFER_BYTES) -> tuple[int, int]:
    """Ask for large kernel buffers (the FORCE variants pass the sysctl cap where the
    process may); returns what the kernel granted."""
    for force, plain in (
        (_SO_RCVBUFFORCE, socket.SO_RCVBUF),
        (_SO_SNDBUFFORCE, socket.SO_SNDBUF),
    ):
        try:
            if force is None:
                raise PermissionError
            sock.setsockopt(socket.SOL_SOCKET, force, size)
        except OSError:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, plain, size)
    return (
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
    )


class MediaRelay(asyncio.DatagramProtocol):
    def __init__(self, directory: MediaDirectory) -> None:
        self.directory = directory
        self.transport: asyncio.DatagramTransport | None = None
        self.received = 0
        self.forwarded = 0
        self.sent = 0
        self.pongs = 0
        self.dropped: Counter[str] = Counter()
        self._sweeper: asyncio.Task[None] | None = None
        self._sendto: Callable[[bytes, Address], None] = self._not_connected

    # -- asyncio -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport does not subclass asyncio.DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)
        self._sendto = self.transport.sendto
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    def connection_lost(self, exc: Exception | None) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a vanished client, for example: not fatal.
        self.dropped["send_error"] += 1

    def _not_connected(self, data: bytes, addr: Address) -> None:
        self.dropped["send_error"] += 1

    def datagram_received(
        self, data: bytes, addr: Address | None, tunnel_peer: MediaPeer | None = None
    ) -> None:
        """One sealed datagram, from UDP (``addr``) or from the tunnel of ``tunnel_peer``
        (``addr`` None). §4.3 in the order docs/PROTOCOL.md documents; each drop is
        counted under its reason."""
        self.received += 1
        size = len(data)
        # Step 1: what `peek` checks, inlined.
        if size > MAX_DATAGRAM_SIZE:
            self.dropped["oversize"] += 1
            return
        if size < _MIN_DATAGRAM:
            self.dropped["truncated"] += 1
            return
        version, kind, ssrc, seq = _PEEK(data)
        if version != VERSION:
            self.dropped["bad_version"] += 1
            return
        header_size = _HEADER_SIZES.get(kind)
        if header_size is None:
            self.dropped["bad_kind"] += 1
            return
        if size < header_size + TAG_SIZE:
            self.dropped["truncated"] += 1
            return
        peer = self.directory.by_ssrc.get(ssrc)
        if peer is None or (tunnel_peer is not None and peer is not tunnel_peer):
            self.dropped["unknown_ssrc"] += 1
            return
        replay = peer.replay
        if not replay.check(seq):  # step 2, before decryption: replays cost no crypto
            self.dropped["replay"] += 1
            return
        header = data[:header_size]
        try:  # step 3
            payload = peer.aead.decrypt(
                _NONCE(CLIENT_TO_SERVER, ssrc, seq), data[header_size:], header
            )
        except InvalidTag:
            self.dropped["bad_tag"] += 1
            return
        newest = replay.update(seq)
        now = _monotonic()
        if addr is not None:
            if newest:  # step 4: follow an address change only on the newest packet
                peer.udp_address = addr
            if peer.udp_address == addr:
                peer.last_heard = now
                peer.tunnelled = False
        else:
            peer.tunnelled = True
            peer.last_heard = now
        if not (peer.packet_bucket.take(now) and peer.byte_bucket.take(now, size)):
            self.dropped["rate_limited"] += 1  # step 5
            return
        if kind == _AUDIO:
            if len(payload) != AUDIO_PAYLOAD_SIZE:
                self.dropped["bad_payload"] += 1
            elif not peer.audio_on:
                self.dropped["mic_off"] += 1
            else:
                self._forward(peer, header, ssrc, seq, payload)
        elif kind == _VIDEO:
            if not peer.video_on:
                self.dropped["cam_off"] += 1
            else:
                self._forward(peer, header, ssrc, seq, payload)
        elif kind == _PING:
            if len(payload) != PING_PAYLOAD_SIZE:
                self.dropped["bad_payload"] += 1
            else:
                self._pong(peer, payload)
        else:
            self.dropped["unexpected_pong"] += 1

    def tunnel_received(self, peer: MediaPeer | None, data: bytes) -> None:
        """A sealed packet that arrived inside a control frame (§4.6)."""
        if peer is None:
            self.received += 1
            self.dropped["unauthenticated"] += 1
            return
        self.datagram_received(data, None, peer)

    def _forward(
        self, sender: MediaPeer, header: bytes, ssrc: int, seq: int, payload: bytes
    ) -> None:
        """Step 6: reseal for every other member of the room and send. The copies share
        the header and the nonce (same ssrc and seq, §4.2); only the key differs."""
        recipients = sender.recipients  # precomputed on every membership change
        web_recipients = sender.web_recipients
        if not recipients and not web_recipients:
            self.dropped["no_recipients"] += 1
            return
        self.forwarded += 1
        if recipients:
            self._seal_and_send(recipients, header, _NONCE(SERVER_TO_CLIENT, ssrc, seq), payload)
        if web_recipients:
            self._forward_to_browsers(sender, header, payload, web_recipients)

    def _seal_and_send(
        self, recipients: tuple[MediaPeer, ...], header: bytes, nonce: bytes, payload: bytes
    ) -> None:
        sendto = self._sendto
        sent = 0
        for recipient in recipients:
            if recipient.tunnelled:
                recipient.control.send_media(
                    header + recipient.aead.encrypt(nonce, payload, header)
                )
            elif (address := recipient.udp_address) is not None:
                sendto(header + recipient.aead.encrypt(nonce, payload, header), address)
            else:  # no way to reach it: nothing is sealed
                self.dropped["no_address"] += 1
                continue
            sent += 1
        self.sent += sent

    def _forward_to_browsers(
        self,
        sender: MediaPeer,
        header: bytes,
        payload: bytes,
        web_recipients: tuple[MediaPeer, ...],
    ) -> None:
        """Browsers get audio as it comes and video as whole frames, reassembled once
        per sender however many browsers watch (§5, docs/PROTOCOL.md)."""
        if header[1] == _AUDIO:
            _, _, _, ssrc, seq, timestamp = BASE_HEADER.unpack(header)
            for recipient in web_recipients:
                recipient.sink.audio(ssrc, timestamp, seq, payload)  # type: ignore[union-attr]
            self.sent += len(web_recipients)
            return
        _, _, _, ssrc, _, timestamp, frame_id, index, count = VIDEO_HEADER.unpack(header)
        if sender.assembler is None:
            sender.assembler = FrameAssembler()
        frame = sender.assembler.add(
            ssrc, frame_id, index, count, timestamp, payload, time.monotonic()
        )
        if frame is not None:
            for recipient in web_recipients:
                recipient.sink.video(ssrc, timestamp, frame_id, frame.data)  # type: ignore[union-attr]
            self.sent += len(web_recipients)

    # -- media from browsers ---------------------------------------------------------

    def web_media_received(
        self, peer: MediaPeer, kind: int, timestamp: int, payload: bytes
    ) -> None:
        """One audio frame or one whole JPEG from a browser session (§5). It is relayed
        under the same rules as UDP media: in the room only, medium on, rate-limited."""
        self.received += 1
        dropped = self.dropped
        now = time.monotonic()
        if kind == _AUDIO:
            if len(payload) != AUDIO_PAYLOAD_SIZE:
                dropped["bad_payload"] += 1
                return
            if not (peer.packet_bucket.take(now) and peer.byte_bucket.take(now, len(payload))):
                dropped["rate_limited"] += 1
                return
            if not peer.audio_on:
                dropped["mic_off"] += 1
                return
            peer.web_seq += 1
            header = BASE_HEADER.pack(VERSION, _AUDIO, 0, peer.ssrc, peer.web_seq, timestamp)
            self._forward(peer, header, peer.ssrc, peer.web_seq, payload)
            return
        if kind != _VIDEO:
            dropped["bad_kind"] += 1
            return
        try:
            fragments = fragment_frame(payload)
        except ValueError:
            dropped["bad_payload"] += 1
            return
        if not (
            peer.packet_bucket.take(now, len(fragments))
            and peer.byte_bucket.take(now, len(payload))
        ):
            dropped["rate_limited"] += 1
            return
        if not peer.video_on:
            dropped["cam_off"] += 1
            return
        if not peer.recipients and not peer.web_recipients:
            dropped["no_recipients"] += 1
            return
        peer.web_frame_id = (peer.web_frame_id + 1) & 0xFFFFFFFF
        frame_id, count = peer.web_frame_id, len(fragments)
        if peer.web_recipients:
            for recipient in peer.web_recipients:
                recipient.sink.video(peer.ssrc, timestamp, frame_id, payload)  # type: ignore[union-attr]
            self.sent += len(peer.web_recipients)
        if not peer.recipients:
            return
        self.forwarded += 1
        ssrc = peer.ssrc
        for index, fragment in enumerate(fragments):
            peer.web_seq += 1
            seq = peer.web_seq
            header = VIDEO_HEADER.pack(
                VERSION, _VIDEO, 0, ssrc, seq, timestamp, frame_id, index, count
            )
            nonce = _NONCE(SERVER_TO_CLIENT, ssrc, seq)
            self._seal_and_send(peer.recipients, header, nonce, fragment)

    def _pong(self, peer: MediaPeer, echo: bytes) -> None:
        peer.server_seq += 1
        seq = peer.server_seq
        header = BASE_HEADER.pack(VERSION, _PONG, 0, 0, seq, 0)
        packet = header + peer.aead.encrypt(_NONCE(SERVER_TO_CLIENT, 0, seq), echo, header)
        if peer.tunnelled:
            peer.control.send_media(packet)
        elif peer.udp_address is not None:
            self._sendto(packet, peer.udp_address)
        self.pongs += 1

    # -- housekeeping ------------------------------------------------------------------

    async def _sweep(self) -> None:
        last_logged: tuple[int, int] = (0, 0)
        next_log = time.monotonic() + STATS_LOG_INTERVAL
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            now = time.monotonic()
            for peer in list(self.directory.by_ssrc.values()):
                if peer.udp_address is not None and now - peer.last_heard > ADDRESS_LIFETIME:
                    log.info(
                        "%s: media address %s forgotten after %.0f s of silence",
                        peer.label,
                        peer.udp_address,
                        ADDRESS_LIFETIME,
                    )
                    peer.udp_address = None
            if now >= next_log:
                next_log = now + STATS_LOG_INTERVAL
                if (self.received, self.sent) != last_logged:
                    last_logged = (self.received, self.sent)
                    log.info("relay: %s", self.stats())

    def stats(self) -> dict[str, Any]:
        """Counters since start: datagrams received, forwarded (relayed at least once),
        sent (copies out), pongs, and drops by reason."""
        return {
            "received": self.received,
            "forwarded": self.forwarded,
            "sent": self.sent,
            "pongs": self.pongs,
            "dropped": dict(self.dropped),
        }
