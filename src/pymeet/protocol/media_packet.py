"""Media datagrams (PROTOCOL.md §4.2): the header, its parse/serialize, and AES-256-GCM.

A datagram is a clear header (16 bytes, 24 for video) followed by the AES-256-GCM
ciphertext of the payload and its 16-byte tag. The whole header is the associated
data, so a flipped header bit fails authentication just like a flipped payload bit.

Two levels of API:

- `MediaHeader`, `MediaCipher.seal` and `MediaCipher.open` for clients: typed values,
  every rule checked.
- `peek`, `MediaCipher.open_raw` and `MediaCipher.seal_raw` for the server's relay hot
  path (§4.3): one ``unpack_from`` to validate and route, no dataclass allocation, and
  the received header bytes are reused verbatim when resealing for each recipient.

Every problem with a received datagram raises `MediaPacketError`, whose ``reason`` is
one of the stable drop-counter tokens ``oversize``, ``truncated``, ``bad_version``,
``bad_kind``, ``bad_fragment``, ``bad_tag`` and ``bad_payload``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pymeet.protocol.errors import LocalProtocolError, MediaPacketError

VERSION = 1


class Kind(IntEnum):
    """The ``kind`` byte of the header (§4.2)."""

    PING = 1
    PONG = 2
    AUDIO = 3
    VIDEO = 4


BASE_HEADER = struct.Struct(">BBHIII")
"""version, kind, flags, ssrc, seq, timestamp (§4.2)."""
VIDEO_HEADER = struct.Struct(">BBHIIIIHH")
"""The base header, then frame_id, frag_index, frag_count (§4.2, video only)."""
PEEK_PREFIX = struct.Struct(">BB2xII")
"""version, kind, ssrc, seq: the prefix shared by both headers, all the relay needs."""
NONCE = struct.Struct(">B3xII")
"""direction, three zero bytes, ssrc, seq (§4.2)."""

BASE_HEADER_SIZE = BASE_HEADER.size  # 16
VIDEO_HEADER_SIZE = VIDEO_HEADER.size  # 24
NONCE_SIZE = NONCE.size  # 12
TAG_SIZE = 16
KEY_SIZE = 32  # AES-256 (§4.1)

MAX_DATAGRAM_SIZE = 1200
MAX_VIDEO_FRAGMENT_PAYLOAD = MAX_DATAGRAM_SIZE - VIDEO_HEADER_SIZE - TAG_SIZE  # 1160
AUDIO_PAYLOAD_SIZE = 640  # 20 ms of s16le mono at 16 kHz
PING_PAYLOAD_SIZE = 8

CLIENT_TO_SERVER = 0
SERVER_TO_CLIENT = 1

_U16_MAX = 0xFFFF
_U32_MAX = 0xFFFF_FFFF

_HEADER_SIZE_BY_KIND: dict[int, int] = {
    Kind.PING: BASE_HEADER_SIZE,
    Kind.PONG: BASE_HEADER_SIZE,
    Kind.AUDIO: BASE_HEADER_SIZE,
    Kind.VIDEO: VIDEO_HEADER_SIZE,
}

# Kinds whose payload has one exact size (§4.2); video fragments only obey the datagram cap.
_PAYLOAD_SIZE_BY_KIND: dict[int, int] = {
    Kind.PING: PING_PAYLOAD_SIZE,
    Kind.PONG: PING_PAYLOAD_SIZE,
    Kind.AUDIO: AUDIO_PAYLOAD_SIZE,
}


@dataclass(frozen=True, slots=True)
class MediaHeader:
    """The clear header of one media datagram (§4.2).

    Construction checks every field, so any `MediaHeader` serializes to a header that
    `parse` accepts; a bad field raises `LocalProtocolError`. The video fields
    (``frame_id``, ``frag_index``, ``frag_count``) must be 0 for other kinds, and
    ``0 <= frag_index < frag_count`` for video.
    """

    kind: Kind
    ssrc: int
    seq: int
    timestamp: int
    frame_id: int = 0
    frag_index: int = 0
    frag_count: int = 0
    flags: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _HEADER_SIZE_BY_KIND:
            raise LocalProtocolError(f"unknown media kind {self.kind!r}")
        if not isinstance(self.kind, Kind):
            object.__setattr__(self, "kind", Kind(self.kind))
        for name in ("ssrc", "seq", "timestamp", "frame_id"):
            if not 0 <= getattr(self, name) <= _U32_MAX:
                raise LocalProtocolError(f"{name} is not a u32")
        for name in ("flags", "frag_index", "frag_count"):
            if not 0 <= getattr(self, name) <= _U16_MAX:
                raise LocalProtocolError(f"{name} is not a u16")
        if self.kind is Kind.VIDEO:
            if not self.frag_index < self.frag_count:
                raise LocalProtocolError("video needs 0 <= frag_index < frag_count")
        elif self.frame_id or self.frag_index or self.frag_count:
            raise LocalProtocolError("frame_id, frag_index and frag_count are video only")

    @property
    def size(self) -> int:
        """The serialized size: 24 bytes for video, 16 for every other kind."""
        return VIDEO_HEADER_SIZE if self.kind is Kind.VIDEO else BASE_HEADER_SIZE

    def serialize(self) -> bytes:
        """The header's wire bytes, which are also the AEAD associated data."""
        if self.kind is Kind.VIDEO:
            return VIDEO_HEADER.pack(
                VERSION, self.kind, self.flags, self.ssrc, self.seq, self.timestamp,
                self.frame_id, self.frag_index, self.frag_count,
            )
        return BASE_HEADER.pack(
            VERSION, self.kind, self.flags, self.ssrc, self.seq, self.timestamp
        )

    @classmethod
    def parse(cls, data: bytes) -> MediaHeader:
        """Parse the header at the start of ``data`` (a bare header or a whole datagram).

        Raises `MediaPacketError` with reason ``oversize`` (over 1200 bytes),
        ``truncated`` (shorter than the header its kind needs), ``bad_version``,
        ``bad_kind`` or ``bad_fragment`` (frag_count 0, or frag_index >= frag_count).
        Bytes after the header are not looked at.
        """
        size = len(data)
        if size > MAX_DATAGRAM_SIZE:
            raise MediaPacketError("oversize", f"datagram of {size} bytes")
        if size < BASE_HEADER_SIZE:
            raise MediaPacketError("truncated", f"header of {size} bytes")
        version, kind, flags, ssrc, seq, timestamp = BASE_HEADER.unpack_from(data)
        if version != VERSION:
            raise MediaPacketError("bad_version", f"media version {version}")
        if kind not in _HEADER_SIZE_BY_KIND:
            raise MediaPacketError("bad_kind", f"media kind {kind}")
        if kind != Kind.VIDEO:
            return cls(Kind(kind), ssrc, seq, timestamp, flags=flags)
        if size < VIDEO_HEADER_SIZE:
            raise MediaPacketError("truncated", f"video header of {size} bytes")
        *_, frame_id, frag_index, frag_count = VIDEO_HEADER.unpack_from(data)
        if not frag_index < frag_count:
            raise MediaPacketError("bad_fragment", f"fragment {frag_index} of {frag_count}")
        return cls(Kind.VIDEO, ssrc, seq, timestamp, frame_id, frag_index, frag_count, flags)


def peek(datagram: bytes) -> tuple[int, int, int, int]:
    """Validate a received datagram as cheaply as possible: §4.3 step 1, for the relay.

    Returns ``(kind, ssrc, seq, header_size)``. Raises `MediaPacketError` with reason
    ``oversize`` (over 1200 bytes), ``truncated`` (shorter than its header plus the
    tag), ``bad_version`` or ``bad_kind``. Nothing is authenticated yet, and the video
    fragment fields are not checked (the relay forwards them untouched).
    """
    size = len(datagram)
    if size > MAX_DATAGRAM_SIZE:
        raise MediaPacketError("oversize", f"datagram of {size} bytes")
    if size < BASE_HEADER_SIZE + TAG_SIZE:
        raise MediaPacketError("truncated", f"datagram of {size} bytes")
    version, kind, ssrc, seq = PEEK_PREFIX.unpack_from(datagram)
    if version != VERSION:
        raise MediaPacketError("bad_version", f"media version {version}")
    header_size = _HEADER_SIZE_BY_KIND.get(kind)
    if header_size is None:
        raise MediaPacketError("bad_kind", f"media kind {kind}")
    if size < header_size + TAG_SIZE:
        raise MediaPacketError("truncated", f"datagram of {size} bytes")
    return kind, ssrc, seq, header_size


def make_nonce(direction: int, ssrc: int, seq: int) -> bytes:
    """The 12-byte AES-GCM nonce of §4.2: direction ‖ 0x000000 ‖ ssrc ‖ seq.

    Raises ValueError for a direction other than `CLIENT_TO_SERVER` or `SERVER_TO_CLIENT`.
    """
    if direction != CLIENT_TO_SERVER and direction != SERVER_TO_CLIENT:
        raise ValueError(f"direction must be 0 or 1, not {direction!r}")
    return NONCE.pack(direction, ssrc, seq)


class MediaCipher:
    """AES-256-GCM sealing and opening of media datagrams under one session key (§4.1).

    It builds its ``AESGCM`` object once: building one costs as much as a seal, so keep
    one `MediaCipher` per key (DESIGN.md, dependencies). The caller owns nonce
    uniqueness: never seal two datagrams with the same (direction, ssrc, seq) under
    one key (§4.3).
    """

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        """Raises ValueError unless ``key`` is exactly 32 bytes."""
        if len(key) != KEY_SIZE:
            raise ValueError(f"media key must be {KEY_SIZE} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, direction: int, header: MediaHeader, payload: bytes) -> bytes:
        """Return the datagram: header bytes, then ciphertext and tag of ``payload``.

        Raises `LocalProtocolError` when the payload breaks its kind's size rule (audio
        640 bytes, ping and pong 8) or the datagram would exceed 1200 bytes.
        """
        expected = _PAYLOAD_SIZE_BY_KIND.get(header.kind)
        if expected is not None and len(payload) != expected:
            raise LocalProtocolError(
                f"{header.kind.name} payload must be {expected} bytes, not {len(payload)}"
            )
        if header.size + len(payload) + TAG_SIZE > MAX_DATAGRAM_SIZE:
            raise LocalProtocolError(f"payload of {len(payload)} bytes makes an oversize datagram")
        return self.seal_raw(direction, header.serialize(), header.ssrc, header.seq, payload)

    def seal_raw(
        self, direction: int, header_bytes: bytes, ssrc: int, seq: int, payload: bytes
    ) -> bytes:
        """Seal for the relay hot path: ``header_bytes`` is the AAD and is reused as-is.

        ``ssrc`` and ``seq`` must be the ones inside ``header_bytes``; nothing is checked.
        Returns ``header_bytes + ciphertext + tag``.
        """
        nonce = make_nonce(direction, ssrc, seq)
        return header_bytes + self._aead.encrypt(nonce, payload, header_bytes)

    def open(self, direction: int, datagram: bytes) -> tuple[MediaHeader, bytes]:
        """Authenticate and decrypt a datagram; return its header and payload.

        Raises `MediaPacketError` with a `peek` reason, ``bad_tag`` (forged, corrupted,
        wrong key or wrong direction), or, for an authentic datagram, ``bad_fragment``
        or ``bad_payload`` (a payload size its kind forbids).
        """
        _, ssrc, seq, header_size = peek(datagram)
        payload = self.open_raw(direction, datagram, ssrc, seq, header_size)
        header = MediaHeader.parse(datagram)
        expected = _PAYLOAD_SIZE_BY_KIND.get(header.kind)
        if expected is not None and len(payload) != expected:
            raise MediaPacketError("bad_payload", f"{header.kind.name} payload of {len(payload)}")
        return header, payload

    def open_raw(
        self, direction: int, datagram: bytes, ssrc: int, seq: int, header_size: int
    ) -> bytes:
        """Authenticate and decrypt for the relay hot path, with the values `peek` returned.

        Returns the payload. Raises `MediaPacketError` ``bad_tag`` when authentication
        fails.
        """
        nonce = make_nonce(direction, ssrc, seq)
        try:
            return self._aead.decrypt(nonce, datagram[header_size:], datagram[:header_size])
        except InvalidTag:
            raise MediaPacketError("bad_tag", "media datagram failed authentication") from None
