"""The client side of the media plane (PROTOCOL.md §4): sealed datagrams to and from
the server, over UDP or, where UDP does not get through, inside the control connection.

Promises:

- One `MediaCipher` and ONE seq counter per session key: every packet this side seals,
  of any kind, on either path, takes the next seq (§4.2), so a nonce never repeats.
- Every received packet is opened (direction server→client) and passed through a
  per-ssrc replay window before anyone sees it (§4.3 mirrored); the server's pongs are
  ssrc 0 with the server's own counter.
- A UDP ping goes out at once, then every ``ping_interval`` seconds (2 s; §4.5 wants at
  least one per 5 s), and again after one second while unanswered. Its 8-byte payload
  is the send time; pongs give the RTT (``rtt``: smoothed as TCP's SRTT, seconds).
- Tunnel fallback (§4.6): when a UDP ping has gone unanswered for ``pong_timeout``
  seconds (3 s), media goes through ``client.send_media_packet`` and comes back through
  ``client.on_media_packet``; UDP pings continue, and the first pong that comes back
  over UDP moves media back to UDP. ``path`` is ``"udp"`` or ``"tunnel"``.
- After a reconnect the server hands out a new ssrc and key: `rekey` (called on the
  client's ``connection.restored`` event) switches to them, resets seq and the replay
  windows, and reopens the UDP socket if the media port changed.

The session key is never logged. Everything runs on the event loop; nothing blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pymeet.client.errors import ClientError
from pymeet.client.meeting_client import CONNECTION_RESTORED
from pymeet.protocol.errors import MediaPacketError
from pymeet.protocol.media_packet import (
    CLIENT_TO_SERVER,
    PING_PAYLOAD_SIZE,
    SERVER_TO_CLIENT,
    Kind,
    MediaCipher,
    MediaHeader,
)
from pymeet.protocol.replay_window import ReplayWindow

if TYPE_CHECKING:
    from pymeet.client.meeting_client import MeetingClient

__all__ = ["MediaPath", "MediaTransport", "PacketHandler"]

logger = logging.getLogger(__name__)

MediaPath = Literal["udp", "tunnel"]
PacketHandler = Callable[[MediaHeader, bytes, float, str], None]
"""``(header, payload, arrival time, path)`` for every authentic audio or video packet."""

DEFAULT_PING_INTERVAL = 2.0
DEFAULT_PONG_TIMEOUT = 3.0  # §4.6
RETRY_INTERVAL = 1.0  # an unanswered ping is repeated this soon
TICK = 0.25
MAX_SEQ = 0xFFFF_FFFF
MAX_REPLAY_WINDOWS = 256
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
_PING_PAYLOAD = struct.Struct(">Q")  # send time, monotonic nanoseconds
_SRTT_GAIN = 1 / 8


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, owner: MediaTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.owner._on_datagram(data, "udp")

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: UDP may be blocked; pings will tell.
        self.owner.counters["udp_errors"] += 1


class MediaTransport:
    """Sealed media packets between this session and the server (see module docstring).

    ``address`` overrides where UDP goes (default: the client's host and the media port
    from login), e.g. an impairment proxy in tests, or a port where nothing answers.
    """

    def __init__(
        self,
        client: MeetingClient,
        on_packet: PacketHandler,
        *,
        address: tuple[str, int] | None = None,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        pong_timeout: float = DEFAULT_PONG_TIMEOUT,
    ) -> None:
        self.client = client
        self.on_packet = on_packet
        self.address_override = address
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.counters: Counter[str] = Counter()
        self.rtt: float | None = None
        """Smoothed round-trip time to the server in seconds, None before the first pong."""
        self.last_rtt: float | None = None
        self.on_path_change: Callable[[MediaPath], None] | None = None
        self._path: MediaPath = "udp"
        self._cipher: MediaCipher | None = None
        self._key: bytes | None = None
        self._ssrc = 0
        self._seq = -1
        self._port = 0
        self._replay: dict[int, ReplayWindow] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_target: tuple[str, int] | None = None
        self._pinger: asyncio.Task[None] | None = None
        self._pings: dict[bytes, float] = {}  # payload -> send time, outstanding
        self._unanswered_since: float | None = None  # first UDP ping since the last UDP pong
        self._last_udp_ping = 0.0
        self._next_ping = 0.0
        self._running = False
        self._remove_handler: Callable[[], None] | None = None

    # -- state -------------------------------------------------------------------------

    @property
    def path(self) -> MediaPath:
        """Where media goes now: ``"udp"`` or ``"tunnel"`` (§4.6)."""
        return self._path

    @property
    def ssrc(self) -> int:
        """This session's ssrc (0 before `start`)."""
        return self._ssrc

    @property
    def running(self) -> bool:
        """True between `start` and `stop`."""
        return self._running

    @property
    def udp_target(self) -> tuple[str, int] | None:
        """The address UDP datagrams go to."""
        return self._udp_target

    def _label(self) -> str:
        return f"{self.client.username or '?'}/ssrc {self._ssrc}"

    # -- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Take the session's media credentials, open UDP, start pinging.

        Raises `ClientError` when the client has no media credentials (not logged in).
        """
        if self._running:
            return
        self._take_credentials()
        self._running = True
        self.client.on_media_packet = self._on_tunnel_packet
        self._remove_handler = self.client.on(CONNECTION_RESTORED, self._on_restored)
        await self._open_udp()
        self._next_ping = 0.0
        self._pinger = asyncio.create_task(self._ping_loop(),
                                           name=f"pymeet-media-ping {self._label()}")

    async def stop(self) -> None:
        """Stop pinging and close UDP; the tunnel handler is removed. Idempotent."""
        if not self._running:
            return
        self._running = False
        if self._remove_handler is not None:
            self._remove_handler()
            self._remove_handler = None
        if self.client.on_media_packet == self._on_tunnel_packet:
            self.client.on_media_packet = None
        pinger, self._pinger = self._pinger, None
        if pinger is not None:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
        self._close_udp()

    def _take_credentials(self) -> bool:
        media = self.client.media
        if media is None:
            raise ClientError("media needs a logged-in session (no media credentials)")
        changed = media.ssrc != self._ssrc or self._cipher is None
        if changed or media.key != self._key:
            self._cipher = MediaCipher(media.key)
            self._key = media.key
            self._ssrc = media.ssrc
            self._seq = -1
            self._replay.clear()
            self._pings.clear()
            changed = True
        self._port = media.port
        return changed

    async def rekey(self) -> bool:
        """Pick up new media credentials after a reconnect; True when they changed."""
        if not self._running or self.client.media is None:
            return False
        changed = self._take_credentials()
        target = self._target()
        if target != self._udp_target:
            self._close_udp()
            await self._open_udp()
        if changed:
            logger.info("%s: media keys renewed after reconnecting", self._label())
            self._unanswered_since = None
            self._next_ping = 0.0  # bind the new session's address at once
        return changed

    def _on_restored(self, _event: dict[str, Any]) -> Any:
        return self.rekey()

    def _target(self) -> tuple[str, int]:
        return self.address_override or (self.client.host, self._port)

    async def _open_udp(self) -> None:
        target = self._target()
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), remote_addr=target)
        except OSError as exc:
            # No UDP at all (no route, DNS): the pings will time out and the tunnel takes over.
            logger.warning("%s: cannot open UDP to %s:%s: %s", self._label(), *target, exc)
            self.counters["udp_errors"] += 1
            self._udp = None
            self._udp_target = target
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        self._udp = transport
        self._udp_target = target
        logger.debug("%s: media UDP to %s:%s", self._label(), *target)

    def _close_udp(self) -> None:
        udp, self._udp = self._udp, None
        if udp is not None:
            udp.close()

    # -- sending -----------------------------------------------------------------------

    def next_seq(self) -> int:
        """The next seq of this session (§4.2: one counter for every packet sealed)."""
        if self._seq >= MAX_SEQ:
            raise ClientError("media seq exhausted: log in again for a fresh key")
        self._seq += 1
        return self._seq

    def send(self, header: MediaHeader, payload: bytes) -> bool:
        """Seal and send one packet on the current path; True when it left this host.

        ``header`` must carry this session's ssrc and a seq from `next_seq` (a header
        made before a rekey is dropped and counted as ``stale``).
        """
        if not self._running or self._cipher is None:
            return False
        if header.ssrc != self._ssrc:
            self.counters["stale"] += 1
            return False
        packet = self._cipher.seal(CLIENT_TO_SERVER, header, payload)
        return self._send_packet(packet, self._path)

    def send_audio(self, timestamp: int, payload: bytes) -> bool:
        """Send one 640-byte audio frame whose first sample is ``timestamp`` (16 kHz)."""
        if not self._running:
            return False
        try:
            seq = self.next_seq()
        except ClientError:
            self.counters["seq_exhausted"] += 1
            return False
        header = MediaHeader(Kind.AUDIO, self._ssrc, seq, timestamp & MAX_SEQ)
        return self.send(header, payload)

    def _send_packet(self, packet: bytes, path: MediaPath) -> bool:
        if path == "tunnel":
            try:
                self.client.send_media_packet(packet)
            except (ClientError, OSError, RuntimeError):
                self.counters["tunnel_send_failed"] += 1
                return False
            self.counters["sent_tunnel"] += 1
            return True
        udp = self._udp
        if udp is None or udp.is_closing():
            self.counters["udp_send_failed"] += 1
            return False
        udp.sendto(packet)
        self.counters["sent_udp"] += 1
        return True

    def _send_ping(self, path: MediaPath, now: float) -> None:
        try:
            seq = self.next_seq()
        except ClientError:
            self.counters["seq_exhausted"] += 1
            return
        payload = _PING_PAYLOAD.pack(time.monotonic_ns())
        assert len(payload) == PING_PAYLOAD_SIZE
        header = MediaHeader(Kind.PING, self._ssrc, seq, 0)
        assert self._cipher is not None
        packet = self._cipher.seal(CLIENT_TO_SERVER, header, payload)
        if self._send_packet(packet, path):
            self._pings[payload] = now
            self.counters[f"pings_{path}"] += 1
        if path == "udp":
            self._last_udp_ping = now
            if self._unanswered_since is None:
                self._unanswered_since = now

    async def _ping_loop(self) -> None:
        while self._running:
            now = time.monotonic()
            if self._cipher is not None:
                retry_due = (self._unanswered_since is not None
                             and now - self._last_udp_ping >= RETRY_INTERVAL)
                if now >= self._next_ping or retry_due:
                    self._next_ping = now + self.ping_interval
                    self._send_ping("udp", now)
                    if self._path == "tunnel":
                        self._send_ping("tunnel", now)  # RTT over the path in use
                since = self._unanswered_since
                if self._path == "udp" and since is not None and now - since >= self.pong_timeout:
                    self._set_path("tunnel")
                # Forget pings that will never be answered.
                for payload in [p for p, t in self._pings.items() if now - t > 30.0]:
                    del self._pings[payload]
            await asyncio.sleep(TICK)

    def _set_path(self, path: MediaPath) -> None:
        if path == self._path:
            return
        self._path = path
        self.counters[f"switched_to_{path}"] += 1
        if path == "tunnel":
            logger.warning("%s: no UDP pong for %.0f s; media goes through the control "
                           "connection (§4.6)", self._label(), self.pong_timeout)
        else:
            logger.info("%s: UDP answers again; media back on UDP", self._label())
        if self.on_path_change is not None:
            try:
                self.on_path_change(path)
            except Exception:
                logger.exception("path change callback failed")

    # -- receiving ---------------------------------------------------------------------

    def _on_tunnel_packet(self, data: bytes) -> None:
        self._on_datagram(data, "tunnel")

    def _on_datagram(self, data: bytes, via: MediaPath) -> None:
        cipher = self._cipher
        if cipher is None or not self._running:
            return
        now = time.monotonic()
        counters = self.counters
        try:
            header, payload = cipher.open(SERVER_TO_CLIENT, data)
        except MediaPacketError as exc:
            counters[f"drop_{exc.reason}"] += 1
            return
        ssrc = header.ssrc
        window = self._replay.get(ssrc)
        if window is None:
            if len(self._replay) >= MAX_REPLAY_WINDOWS:
                self._replay.pop(next(iter(self._replay)))
            window = self._replay[ssrc] = ReplayWindow()
        try:
            window.update(header.seq)
        except MediaPacketError as exc:
            counters[f"drop_{exc.reason}"] += 1
            return
        counters[f"received_{via}"] += 1
        kind = header.kind
        if kind is Kind.PONG:
            if ssrc != 0:
                counters["drop_bad_pong"] += 1
            else:
                self._on_pong(payload, via, now)
            return
        if kind is Kind.PING or ssrc == 0:
            counters["drop_unexpected"] += 1
            return
        if ssrc == self._ssrc:
            counters["drop_own_ssrc"] += 1  # §4.3: the server never echoes; count if it does
            return
        try:
            self.on_packet(header, payload, now, via)
        except Exception:
            counters["handler_errors"] += 1
            logger.exception("%s: media packet handler failed", self._label())

    def _on_pong(self, payload: bytes, via: MediaPath, now: float) -> None:
        sent = self._pings.pop(payload, None)
        if sent is None:
            self.counters["drop_unknown_pong"] += 1
            return
        self.counters[f"pongs_{via}"] += 1
        sample = max(0.0, now - sent)
        self.last_rtt = sample
        self.rtt = sample if self.rtt is None else self.rtt + (sample - self.rtt) * _SRTT_GAIN
        if via == "udp":
            # Every UDP ping up to now counts as answered: UDP works both ways.
            self._unanswered_since = None
            self._set_path("udp")
