"""Control-channel framing (PROTOCOL.md §1): a 4-byte big-endian length, then the payload.

`FrameDecoder` is a pure incremental decoder in the style of websockets' protocol core:
feed it bytes with `receive_data`, then take complete payloads with `next_frame`. The
length is checked against `MAX_FRAME_SIZE` before any byte of the body is buffered.
"""

from __future__ import annotations

import struct

from pymeet.protocol.errors import FrameTooLarge, LocalProtocolError, ProtocolError

LENGTH_PREFIX = struct.Struct(">I")
LENGTH_PREFIX_SIZE = LENGTH_PREFIX.size
MAX_FRAME_SIZE = 1_048_576
MEDIA_MARKER = 0x00
"""A payload whose first byte is 0x00 carries one sealed media packet (§4.6)."""


def encode_frame(payload: bytes) -> bytes:
    """Prefix ``payload`` with its length. Raises LocalProtocolError outside 1..1 MiB."""
    size = len(payload)
    if not 1 <= size <= MAX_FRAME_SIZE:
        raise LocalProtocolError(f"frame payload of {size} bytes is outside 1..{MAX_FRAME_SIZE}")
    return LENGTH_PREFIX.pack(size) + payload


def encode_media_frame(packet: bytes) -> bytes:
    """Wrap one sealed media datagram for the control-channel tunnel (§4.6)."""
    return encode_frame(bytes((MEDIA_MARKER,)) + packet)


def is_media_payload(payload: bytes) -> bool:
    """True when a frame payload carries a tunnelled media packet rather than JSON."""
    return len(payload) > 0 and payload[0] == MEDIA_MARKER


class FrameDecoder:
    """Incremental decoder of length-prefixed frames.

    Contract: call `receive_data` with whatever bytes arrived, then call `next_frame`
    until it returns None. A length of 0 raises `ProtocolError` after consuming the
    prefix (the stream stays in sync). A length over ``max_size`` raises `FrameTooLarge`
    and the decoder is then unusable: the body is never read, so the stream cannot be
    resynchronised, and the connection must be closed (§1).
    """

    __slots__ = ("_broken", "_buffer", "_max_size", "_need")

    def __init__(self, max_size: int = MAX_FRAME_SIZE) -> None:
        self._buffer = bytearray()
        self._max_size = max_size
        self._need: int | None = None
        self._broken = False

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buffer)

    def receive_data(self, data: bytes) -> None:
        """Append bytes read from the stream."""
        if self._broken:
            raise LocalProtocolError("decoder used after a fatal framing error")
        self._buffer += data

    def next_frame(self) -> bytes | None:
        """Return the next complete payload, or None when more bytes are needed."""
        if self._broken:
            raise LocalProtocolError("decoder used after a fatal framing error")
        if self._need is None:
            if len(self._buffer) < LENGTH_PREFIX_SIZE:
                return None
            (size,) = LENGTH_PREFIX.unpack_from(self._buffer)
            if size > self._max_size:
                self._broken = True
                self._buffer.clear()
                raise FrameTooLarge(
                    f"frame of {size} bytes exceeds the limit of {self._max_size} bytes"
                )
            del self._buffer[:LENGTH_PREFIX_SIZE]
            if size == 0:
                raise ProtocolError("empty frame: a frame carries at least one byte")
            self._need = size
        if len(self._buffer) < self._need:
            return None
        payload = bytes(self._buffer[: self._need])
        del self._buffer[: self._need]
        self._need = None
        return payload

    def frames(self) -> list[bytes]:
        """All complete payloads available now (raises like `next_frame`)."""
        out: list[bytes] = []
        while (frame := self.next_frame()) is not None:
            out.append(frame)
        return out
