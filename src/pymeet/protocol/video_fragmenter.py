"""Splitting one JPEG image into video datagram payloads (PROTOCOL.md §4.2, video).

A frame of ``n`` bytes becomes ``ceil(n / max_payload)`` fragments that travel as
separate datagrams sharing one ``frame_id``; `FrameAssembler` joins them again.
"""

from __future__ import annotations

from collections.abc import Callable

from pymeet.protocol.media_packet import MAX_VIDEO_FRAGMENT_PAYLOAD, Kind, MediaHeader

MAX_FRAGMENTS = 0xFFFF  # frag_count is a u16 (§4.2)
_FRAME_ID_MODULUS = 1 << 32  # frame_id is a u32 that wraps


def fragment_frame(jpeg: bytes, max_payload: int = MAX_VIDEO_FRAGMENT_PAYLOAD) -> list[bytes]:
    """Split ``jpeg`` into consecutive fragments of at most ``max_payload`` bytes.

    Every fragment but the last is exactly ``max_payload`` bytes; joining them in order
    gives ``jpeg`` back. Raises ValueError when ``jpeg`` is empty, when ``max_payload``
    is outside 1..1160 (§4.2), or when more than 65535 fragments would be needed.
    """
    if not jpeg:
        raise ValueError("cannot fragment an empty frame")
    if not 1 <= max_payload <= MAX_VIDEO_FRAGMENT_PAYLOAD:
        raise ValueError(f"max_payload must be in 1..{MAX_VIDEO_FRAGMENT_PAYLOAD}")
    count = -(-len(jpeg) // max_payload)
    if count > MAX_FRAGMENTS:
        raise ValueError(f"a frame of {len(jpeg)} bytes needs {count} fragments (max 65535)")
    return [jpeg[start : start + max_payload] for start in range(0, len(jpeg), max_payload)]


class VideoPacketizer:
    """Turns one sender's JPEG frames into (header, payload) pairs ready to seal.

    It owns the frame counter: ``frame_id`` goes up by one per frame and wraps at 2^32.
    It does not own seq: §4.2 wants one counter per session across every kind, so each
    fragment's seq comes from the ``next_seq`` callable the session passes in (called
    once per fragment, in fragment order). Keep one packetizer per session, so that
    receivers see frame_ids that only move forward.
    """

    __slots__ = ("_max_payload", "_next_seq", "next_frame_id", "ssrc")

    def __init__(
        self,
        ssrc: int,
        next_seq: Callable[[], int],
        *,
        first_frame_id: int = 0,
        max_payload: int = MAX_VIDEO_FRAGMENT_PAYLOAD,
    ) -> None:
        self.ssrc = ssrc
        self.next_frame_id = first_frame_id % _FRAME_ID_MODULUS
        self._next_seq = next_seq
        self._max_payload = max_payload

    def packetize(self, jpeg: bytes, timestamp: int) -> list[tuple[MediaHeader, bytes]]:
        """Return the video headers and payloads of one frame, in fragment order.

        ``timestamp`` is the frame's 90 kHz capture time (§4.2). Raises ValueError (see
        `fragment_frame`) without consuming a frame_id or any seq.
        """
        fragments = fragment_frame(jpeg, self._max_payload)
        frame_id = self.next_frame_id
        self.next_frame_id = (frame_id + 1) % _FRAME_ID_MODULUS
        count = len(fragments)
        return [
            (
                MediaHeader(
                    Kind.VIDEO, self.ssrc, self._next_seq(), timestamp,
                    frame_id=frame_id, frag_index=index, frag_count=count,
                ),
                fragment,
            )
            for index, fragment in enumerate(fragments)
        ]
