from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymeet.protocol.errors import FrameTooLarge, LocalProtocolError, ProtocolError
from pymeet.protocol.framing import (
    MAX_FRAME_SIZE,
    FrameDecoder,
    encode_frame,
    encode_media_frame,
    is_media_payload,
)

payloads = st.binary(min_size=1, max_size=2048)


@given(st.lists(payloads, max_size=8), st.data())
def test_frames_survive_any_chunking(frames: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(f) for f in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder = FrameDecoder()
    received: list[bytes] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        decoder.receive_data(stream[start:cut])
        received.extend(decoder.frames())
        start = cut
    assert received == frames
    assert decoder.buffered == 0


def test_one_byte_at_a_time() -> None:
    decoder = FrameDecoder()
    stream = encode_frame(b'{"type":"ping","id":1}')
    out = []
    for i in range(len(stream)):
        decoder.receive_data(stream[i : i + 1])
        out.extend(decoder.frames())
    assert out == [b'{"type":"ping","id":1}']


def test_oversize_length_refused_before_the_body_is_buffered() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(struct.pack(">I", MAX_FRAME_SIZE + 1) + b"x" * 10)
    with pytest.raises(FrameTooLarge) as info:
        decoder.next_frame()
    assert info.value.code == "frame_too_large"
    assert decoder.buffered == 0
    with pytest.raises(LocalProtocolError):
        decoder.receive_data(b"more")


def test_exactly_the_limit_is_accepted() -> None:
    body = b"a" * MAX_FRAME_SIZE
    decoder = FrameDecoder()
    decoder.receive_data(encode_frame(body))
    assert decoder.next_frame() == body


def test_zero_length_frame_is_an_error_but_the_stream_stays_in_sync() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(struct.pack(">I", 0) + encode_frame(b"{}"))
    with pytest.raises(ProtocolError):
        decoder.next_frame()
    assert decoder.next_frame() == b"{}"


def test_encoder_refuses_what_the_decoder_would() -> None:
    with pytest.raises(LocalProtocolError):
        encode_frame(b"")
    with pytest.raises(LocalProtocolError):
        encode_frame(b"x" * (MAX_FRAME_SIZE + 1))


def test_media_frames_are_marked() -> None:
    framed = encode_media_frame(b"\x01\x03sealed")
    decoder = FrameDecoder()
    decoder.receive_data(framed)
    payload = decoder.next_frame()
    assert payload is not None and is_media_payload(payload)
    assert payload[1:] == b"\x01\x03sealed"
    assert not is_media_payload(b'{"type":"x"}')


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_random_bytes_raise_only_protocol_errors(data: bytes) -> None:
    decoder = FrameDecoder(max_size=32)
    decoder.receive_data(data)
    try:
        while decoder.next_frame() is not None:
            pass
    except ProtocolError:
        pass
