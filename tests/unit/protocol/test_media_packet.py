"""Media datagrams (PROTOCOL.md §4.2): header layout, sealing, opening, and hostile input."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymeet.protocol.errors import LocalProtocolError, MediaPacketError
from pymeet.protocol.media_packet import (
    AUDIO_PAYLOAD_SIZE,
    BASE_HEADER,
    BASE_HEADER_SIZE,
    CLIENT_TO_SERVER,
    MAX_DATAGRAM_SIZE,
    MAX_VIDEO_FRAGMENT_PAYLOAD,
    PING_PAYLOAD_SIZE,
    SERVER_TO_CLIENT,
    TAG_SIZE,
    VIDEO_HEADER,
    VIDEO_HEADER_SIZE,
    Kind,
    MediaCipher,
    MediaHeader,
    make_nonce,
    peek,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
u32 = st.integers(0, 0xFFFF_FFFF)


@st.composite
def headers(draw: st.DrawFn) -> MediaHeader:
    kind = draw(st.sampled_from(Kind))
    ssrc, seq, timestamp = draw(u32), draw(u32), draw(u32)
    if kind is Kind.VIDEO:
        count = draw(st.integers(1, 0xFFFF))
        index = draw(st.integers(0, count - 1))
        return MediaHeader(kind, ssrc, seq, timestamp, draw(u32), index, count)
    return MediaHeader(kind, ssrc, seq, timestamp)


@st.composite
def packets(draw: st.DrawFn) -> tuple[MediaHeader, bytes]:
    header = draw(headers())
    if header.kind is Kind.AUDIO:
        size = AUDIO_PAYLOAD_SIZE
        return header, draw(st.binary(min_size=size, max_size=size))
    if header.kind is Kind.VIDEO:
        return header, draw(st.binary(min_size=1, max_size=MAX_VIDEO_FRAGMENT_PAYLOAD))
    return header, draw(st.binary(min_size=PING_PAYLOAD_SIZE, max_size=PING_PAYLOAD_SIZE))


def sample(kind: Kind) -> tuple[MediaHeader, bytes]:
    if kind is Kind.VIDEO:
        return MediaHeader(kind, 7, 9, 90_000, 3, 1, 4), os.urandom(MAX_VIDEO_FRAGMENT_PAYLOAD)
    size = AUDIO_PAYLOAD_SIZE if kind is Kind.AUDIO else PING_PAYLOAD_SIZE
    return MediaHeader(kind, 7, 9, 16_000), os.urandom(size)


def test_sizes_match_the_protocol_table() -> None:
    assert (BASE_HEADER_SIZE, VIDEO_HEADER_SIZE, TAG_SIZE) == (16, 24, 16)
    assert BASE_HEADER.size == 16 and VIDEO_HEADER.size == 24
    assert MAX_VIDEO_FRAGMENT_PAYLOAD == 1160 == MAX_DATAGRAM_SIZE - 24 - 16


def test_header_layout_is_big_endian_as_in_the_table() -> None:
    wire = MediaHeader(Kind.VIDEO, 0x01020304, 0x05060708, 0x090A0B0C, 0x0D0E0F10, 2, 3)
    assert wire.serialize() == bytes.fromhex(
        "01040000 01020304 05060708 090a0b0c 0d0e0f10 0002 0003"
    )
    assert MediaHeader(Kind.PING, 1, 2, 0).serialize() == bytes.fromhex(
        "01010000 00000001 00000002 00000000"
    )


def test_nonce_layout() -> None:
    nonce = make_nonce(SERVER_TO_CLIENT, 0x0A0B0C0D, 5)
    assert nonce == bytes.fromhex("01000000 0a0b0c0d 00000005")
    with pytest.raises(ValueError):
        make_nonce(2, 1, 1)


@given(headers())
def test_header_round_trip(header: MediaHeader) -> None:
    wire = header.serialize()
    assert len(wire) == header.size
    assert MediaHeader.parse(wire) == header


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("direction", [CLIENT_TO_SERVER, SERVER_TO_CLIENT])
def test_every_kind_seals_and_opens(kind: Kind, direction: int) -> None:
    header, payload = sample(kind)
    cipher = MediaCipher(KEY)
    datagram = cipher.seal(direction, header, payload)
    assert len(datagram) == header.size + len(payload) + TAG_SIZE <= MAX_DATAGRAM_SIZE
    assert datagram[: header.size] == header.serialize()  # the header travels in clear
    assert payload not in datagram
    assert MediaCipher(KEY).open(direction, datagram) == (header, payload)


@settings(max_examples=50, deadline=None)
@given(packets())
def test_any_packet_round_trips(packet: tuple[MediaHeader, bytes]) -> None:
    header, payload = packet
    cipher = MediaCipher(KEY)
    assert cipher.open(CLIENT_TO_SERVER, cipher.seal(CLIENT_TO_SERVER, header, payload)) == packet


@pytest.mark.parametrize("kind", list(Kind))
def test_raw_helpers_match_the_typed_api(kind: Kind) -> None:
    header, payload = sample(kind)
    sender, receiver = MediaCipher(KEY), MediaCipher(OTHER_KEY)
    datagram = sender.seal(CLIENT_TO_SERVER, header, payload)
    peeked_kind, ssrc, seq, size = peek(datagram)
    assert (peeked_kind, ssrc, seq, size) == (kind, header.ssrc, header.seq, header.size)
    opened = sender.open_raw(CLIENT_TO_SERVER, datagram, ssrc, seq, size)
    assert opened == payload
    # The relay reseals the same header bytes under the recipient's key (§4.3 step 6).
    resealed = receiver.seal_raw(SERVER_TO_CLIENT, datagram[:size], ssrc, seq, opened)
    assert len(resealed) == len(datagram)
    assert receiver.open(SERVER_TO_CLIENT, resealed) == (header, payload)
    assert resealed == receiver.seal(SERVER_TO_CLIENT, header, payload)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(Kind), st.data())
def test_any_flipped_bit_is_rejected(kind: Kind, data: st.DataObject) -> None:
    header, payload = sample(kind)
    cipher = MediaCipher(KEY)
    datagram = bytearray(cipher.seal(CLIENT_TO_SERVER, header, payload))
    bit = data.draw(st.integers(0, len(datagram) * 8 - 1))
    datagram[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(MediaPacketError) as caught:
        cipher.open(CLIENT_TO_SERVER, bytes(datagram))
    assert caught.value.reason in {"bad_tag", "bad_version", "bad_kind", "truncated"}


@pytest.mark.parametrize("kind", list(Kind))
def test_every_header_bit_is_authenticated(kind: Kind) -> None:
    header, payload = sample(kind)
    cipher = MediaCipher(KEY)
    datagram = cipher.seal(CLIENT_TO_SERVER, header, payload)
    for bit in range(header.size * 8):
        forged = bytearray(datagram)
        forged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(MediaPacketError):
            cipher.open(CLIENT_TO_SERVER, bytes(forged))


def test_wrong_direction_or_key_fails_authentication() -> None:
    header, payload = sample(Kind.AUDIO)
    datagram = MediaCipher(KEY).seal(CLIENT_TO_SERVER, header, payload)
    for direction, key in [(SERVER_TO_CLIENT, KEY), (CLIENT_TO_SERVER, OTHER_KEY)]:
        with pytest.raises(MediaPacketError) as caught:
            MediaCipher(key).open(direction, datagram)
        assert caught.value.reason == "bad_tag"


def test_raw_open_with_the_wrong_seq_fails() -> None:
    header, payload = sample(Kind.AUDIO)
    cipher = MediaCipher(KEY)
    datagram = cipher.seal(CLIENT_TO_SERVER, header, payload)
    with pytest.raises(MediaPacketError, match="authentication"):
        cipher.open_raw(CLIENT_TO_SERVER, datagram, header.ssrc, header.seq + 1, header.size)


@pytest.mark.parametrize("kind", list(Kind))
def test_truncation_at_every_length(kind: Kind) -> None:
    header, payload = sample(kind)
    cipher = MediaCipher(KEY)
    datagram = cipher.seal(CLIENT_TO_SERVER, header, payload)
    for length in range(len(datagram)):
        cut = datagram[:length]
        expected = {"truncated"} if length < header.size + TAG_SIZE else {"bad_tag"}
        with pytest.raises(MediaPacketError) as caught:
            cipher.open(CLIENT_TO_SERVER, cut)
        assert caught.value.reason in expected, length
        if length < header.size + TAG_SIZE:
            with pytest.raises(MediaPacketError, match="datagram of"):
                peek(cut)
        if length < header.size:
            with pytest.raises(MediaPacketError) as caught:
                MediaHeader.parse(cut)
            assert caught.value.reason == "truncated"


def test_oversize_datagrams_are_refused_before_anything_else() -> None:
    header, payload = sample(Kind.VIDEO)
    datagram = MediaCipher(KEY).seal(CLIENT_TO_SERVER, header, payload)
    assert len(datagram) == MAX_DATAGRAM_SIZE
    peek(datagram)
    for bad in (datagram + b"\0", b"\xff" * 5000):
        for check in (peek, MediaHeader.parse, lambda d: MediaCipher(KEY).open(0, d)):
            with pytest.raises(MediaPacketError) as caught:
                check(bad)
            assert caught.value.reason == "oversize"


def test_unknown_version_and_kind() -> None:
    header = MediaHeader(Kind.AUDIO, 1, 1, 0).serialize()
    tail = bytes(AUDIO_PAYLOAD_SIZE + TAG_SIZE)
    for first, reason in [(b"\x02\x03", "bad_version"), (b"\x01\x05", "bad_kind"),
                          (b"\x01\x00", "bad_kind")]:
        forged = first + header[2:] + tail
        for check in (peek, MediaHeader.parse):
            with pytest.raises(MediaPacketError) as caught:
                check(forged)
            assert caught.value.reason == reason


@pytest.mark.parametrize(("index", "count"), [(0, 0), (3, 3), (9, 2)])
def test_parse_rejects_impossible_fragments(index: int, count: int) -> None:
    wire = VIDEO_HEADER.pack(1, Kind.VIDEO, 0, 1, 1, 0, 5, index, count)
    with pytest.raises(MediaPacketError) as caught:
        MediaHeader.parse(wire)
    assert caught.value.reason == "bad_fragment"


def test_authentic_but_malformed_payloads_are_refused() -> None:
    cipher = MediaCipher(KEY)
    short_audio = cipher.seal_raw(0, MediaHeader(Kind.AUDIO, 1, 1, 0).serialize(), 1, 1, b"x")
    with pytest.raises(MediaPacketError) as caught:
        cipher.open(CLIENT_TO_SERVER, short_audio)
    assert caught.value.reason == "bad_payload"
    zero_frags = VIDEO_HEADER.pack(1, Kind.VIDEO, 0, 1, 2, 0, 5, 0, 0)
    with pytest.raises(MediaPacketError) as caught:
        cipher.open(CLIENT_TO_SERVER, cipher.seal_raw(0, zero_frags, 1, 2, b"jpeg"))
    assert caught.value.reason == "bad_fragment"


def test_local_misuse_is_a_local_error() -> None:
    cipher = MediaCipher(KEY)
    with pytest.raises(LocalProtocolError):
        cipher.seal(0, MediaHeader(Kind.AUDIO, 1, 1, 0), bytes(10))
    with pytest.raises(LocalProtocolError):
        cipher.seal(0, MediaHeader(Kind.VIDEO, 1, 1, 0, 0, 0, 1), bytes(1161))
    for bad in [
        dict(kind=Kind.VIDEO, frag_index=1, frag_count=1),
        dict(kind=Kind.VIDEO, frag_count=0x10000),
        dict(kind=Kind.AUDIO, frame_id=1),
        dict(kind=Kind.AUDIO, ssrc=1 << 32),
        dict(kind=Kind.AUDIO, seq=-1),
        dict(kind=Kind.AUDIO, flags=0x10000),
        dict(kind=9),
    ]:
        fields: dict[str, int] = {"ssrc": 1, "seq": 1, "timestamp": 0, **bad}
        with pytest.raises(LocalProtocolError):
            MediaHeader(**fields)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MediaCipher(bytes(16))


def test_an_int_kind_becomes_a_kind() -> None:
    header = MediaHeader(3, 1, 2, 3)  # type: ignore[arg-type]
    assert header.kind is Kind.AUDIO


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=1300)
    | st.builds(
        lambda kind, rest: bytes((1, kind)) + rest, st.integers(0, 5), st.binary(max_size=1250)
    )
)
def test_random_bytes_only_ever_raise_media_packet_error(data: bytes) -> None:
    for check in (peek, MediaHeader.parse, lambda d: MediaCipher(KEY).open(0, d)):
        with contextlib.suppress(MediaPacketError):
            check(data)
