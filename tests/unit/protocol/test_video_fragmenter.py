"""Splitting JPEG frames into video fragments (PROTOCOL.md §4.2)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymeet.protocol.media_packet import (
    MAX_VIDEO_FRAGMENT_PAYLOAD,
    SERVER_TO_CLIENT,
    Kind,
    MediaCipher,
)
from pymeet.protocol.video_fragmenter import VideoPacketizer, fragment_frame


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=5000), st.integers(1, MAX_VIDEO_FRAGMENT_PAYLOAD))
def test_fragments_join_back_and_respect_the_size(jpeg: bytes, max_payload: int) -> None:
    fragments = fragment_frame(jpeg, max_payload)
    assert b"".join(fragments) == jpeg
    assert all(1 <= len(f) <= max_payload for f in fragments)
    assert all(len(f) == max_payload for f in fragments[:-1])
    assert len(fragments) == -(-len(jpeg) // max_payload)


def test_exact_multiples_make_no_empty_fragment() -> None:
    assert [len(f) for f in fragment_frame(bytes(2320))] == [1160, 1160]
    assert [len(f) for f in fragment_frame(bytes(2321))] == [1160, 1160, 1]


def test_bad_requests_raise_value_error() -> None:
    with pytest.raises(ValueError):
        fragment_frame(b"")
    with pytest.raises(ValueError):
        fragment_frame(b"x", 0)
    with pytest.raises(ValueError):
        fragment_frame(b"x", MAX_VIDEO_FRAGMENT_PAYLOAD + 1)
    assert len(fragment_frame(bytes(65535), 1)) == 65535
    with pytest.raises(ValueError):
        fragment_frame(bytes(65536), 1)


def test_packetizer_numbers_frames_and_takes_seq_from_the_session() -> None:
    session_seq = itertools.count(100)
    packetizer = VideoPacketizer(ssrc=42, next_seq=lambda: next(session_seq))
    first = packetizer.packetize(bytes(3000), timestamp=9000)
    next(session_seq)  # an audio packet in between shares the session counter (§4.2)
    second = packetizer.packetize(b"tiny", timestamp=12000)
    assert [(h.seq, h.frame_id, h.frag_index, h.frag_count) for h, _ in first] == [
        (100, 0, 0, 3), (101, 0, 1, 3), (102, 0, 2, 3)
    ]
    assert [(h.seq, h.frame_id, h.frag_index, h.frag_count) for h, _ in second] == [
        (104, 1, 0, 1)
    ]
    assert all(h.kind is Kind.VIDEO and h.ssrc == 42 for h, _ in first + second)
    assert {h.timestamp for h, _ in first} == {9000}
    assert b"".join(p for _, p in first) == bytes(3000)


def test_every_packetized_fragment_seals_within_the_datagram_limit() -> None:
    seqs = itertools.count()
    cipher = MediaCipher(bytes(32))
    packetizer = VideoPacketizer(1, lambda: next(seqs))
    for header, payload in packetizer.packetize(bytes(10_000), 0):
        assert len(cipher.seal(SERVER_TO_CLIENT, header, payload)) <= 1200


def test_frame_id_wraps_and_failures_consume_nothing() -> None:
    seqs = itertools.count()
    packetizer = VideoPacketizer(1, lambda: next(seqs), first_frame_id=2**32 - 1)
    with pytest.raises(ValueError):
        packetizer.packetize(b"", 0)
    assert next(seqs) == 0 and packetizer.next_frame_id == 2**32 - 1
    assert packetizer.packetize(b"a", 0)[0][0].frame_id == 2**32 - 1
    assert packetizer.packetize(b"b", 0)[0][0].frame_id == 0
