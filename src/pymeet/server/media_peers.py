"""The narrow interface between the control plane and the media relay.

The control layer owns sessions and rooms; for each logged-in session it keeps one
`MediaPeer` up to date: whether its mic and camera are on and, precomputed on every
membership change, the tuple of peers its media goes to. The relay only reads those
fields (DESIGN.md), and writes only its own per-peer state: the replay window, the
bound address, the rate buckets and the server's packet counter.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pymeet.protocol.frame_assembler import FrameAssembler
from pymeet.protocol.media_packet import KEY_SIZE
from pymeet.protocol.replay_window import ReplayWindow
from pymeet.server.rate_limit import TokenBucket

if TYPE_CHECKING:
    from pymeet.server.sessions import Transport

Address = tuple[str, int]


class WebMediaSink(Protocol):
    """Where a browser session's media goes: whole, unsealed, in its own bounded queue."""

    def audio(self, ssrc: int, timestamp: int, seq: int, pcm: bytes) -> None: ...

    def video(self, ssrc: int, timestamp: int, frame_id: int, jpeg: bytes) -> None: ...


class MediaPeer:
    """One session as the relay sees it."""

    __slots__ = (
        "aead",
        "assembler",
        "audio_on",
        "byte_bucket",
        "control",
        "label",
        "last_heard",
        "packet_bucket",
        "recipients",
        "replay",
        "server_seq",
        "sink",
        "ssrc",
        "tunnelled",
        "udp_address",
        "video_on",
        "web_frame_id",
        "web_recipients",
        "web_seq",
    )

    def __init__(
        self,
        ssrc: int,
        key: bytes,
        control: Transport,
        label: str,
        packet_bucket: TokenBucket,
        byte_bucket: TokenBucket,
        sink: WebMediaSink | None = None,
    ) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError(f"media key must be {KEY_SIZE} bytes, not {len(key)}")
        self.ssrc = ssrc
        self.sink = sink
        # One AESGCM per session, built once (building one costs as much as a seal); the
        # relay calls it directly with the §4.2 nonce, one Python call per seal.
        self.aead = AESGCM(key)
        self.control = control
        self.label = label
        # Written by the control layer, read by the relay:
        self.audio_on = False
        self.video_on = False
        self.recipients: tuple[MediaPeer, ...] = ()  # UDP or tunnel
        self.web_recipients: tuple[MediaPeer, ...] = ()  # browsers
        # Relay state:
        self.replay = ReplayWindow()
        self.udp_address: Address | None = None
        self.last_heard = 0.0
        self.tunnelled = False
        self.server_seq = 0
        self.packet_bucket = packet_bucket
        self.byte_bucket = byte_bucket
        # Video for browsers is reassembled once per sender, whoever receives it.
        self.assembler: FrameAssembler | None = None
        # A browser's media gets its seq and frame numbers here, as a UDP client's would.
        self.web_seq = 0
        self.web_frame_id = 0


class MediaDirectory:
    """Media peers by ssrc, maintained by the control layer, read by the relay."""

    def __init__(self) -> None:
        self.by_ssrc: dict[int, MediaPeer] = {}
        self._ever_assigned: set[int] = set()

    def ssrc_is_free(self, ssrc: int) -> bool:
        """An ssrc is never handed out twice in one server run: a recipient's key may
        still be live, and a reused (ssrc, seq) would repeat a nonce under it (§4.3)."""
        return ssrc != 0 and ssrc not in self._ever_assigned

    def add(self, peer: MediaPeer) -> None:
        self._ever_assigned.add(peer.ssrc)
        self.by_ssrc[peer.ssrc] = peer

    def remove(self, peer: MediaPeer) -> None:
        if self.by_ssrc.get(peer.ssrc) is peer:
            del self.by_ssrc[peer.ssrc]
        peer.recipients = peer.web_recipients = ()

    @staticmethod
    def set_room(peers: Iterable[MediaPeer]) -> None:
        """Recompute who hears whom after a room's membership changed."""
        members = tuple(peers)
        for peer in members:
            others = [other for other in members if other is not peer]
            peer.recipients = tuple(other for other in others if other.sink is None)
            peer.web_recipients = tuple(other for other in others if other.sink is not None)
