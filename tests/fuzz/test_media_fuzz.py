"""Fuzzing the media datagram parser (PROTOCOL.md §4.2–§4.3): `peek`, `MediaHeader.parse`
and `MediaCipher.open`, the functions every datagram from the network goes through.

Datagrams start as genuine sealed packets of every kind and are then mutated the way an
attacker or a broken network would: bits flipped, cut short, extended past 1200 bytes,
header fields rewritten (version, kind, ssrc, seq, fragment fields), or spliced with
another packet. What must hold:

- nothing but `MediaPacketError` comes out, always with one of the documented reasons;
- an untouched datagram opens to exactly what was sealed; a datagram with any byte
  changed never opens (the whole header is authenticated);
- `peek` and `parse` agree on what they both accept, and a parsed header serializes
  back to the bytes it came from;
- a datagram sealed for the other direction, or under another key, never opens.

(tests/unit/protocol/test_media_packet.py covers single flipped bits, every truncation
length and random bytes; this aims at combined and structural mutations.)
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymeet.protocol.errors import MediaPacketError
from pymeet.protocol.media_packet import (
    AUDIO_PAYLOAD_SIZE,
    CLIENT_TO_SERVER,
    MAX_VIDEO_FRAGMENT_PAYLOAD,
    PING_PAYLOAD_SIZE,
    SERVER_TO_CLIENT,
    Kind,
    MediaCipher,
    MediaHeader,
    peek,
)
from tests.fuzz.hostile import examples

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
CIPHER = MediaCipher(KEY)
DOCUMENTED_REASONS = {
    "oversize", "truncated", "bad_version", "bad_kind", "bad_fragment", "bad_tag", "bad_payload",
}
u32 = st.integers(0, 2**32 - 1)
u16 = st.integers(0, 2**16 - 1)


@st.composite
def sealed_packets(draw: st.DrawFn) -> tuple[int, MediaHeader, bytes, bytes]:
    """(direction, header, payload, datagram): a genuine datagram of any kind."""
    kind = draw(st.sampled_from(Kind))
    if kind is Kind.VIDEO:
        count = draw(st.integers(1, 2**16 - 1))
        header = MediaHeader(kind, draw(u32), draw(u32), draw(u32), draw(u32),
                             draw(st.integers(0, count - 1)), count, draw(u16))
        payload = draw(st.binary(max_size=MAX_VIDEO_FRAGMENT_PAYLOAD))
    else:
        header = MediaHeader(kind, draw(u32), draw(u32), draw(u32), flags=draw(u16))
        size = AUDIO_PAYLOAD_SIZE if kind is Kind.AUDIO else PING_PAYLOAD_SIZE
        payload = draw(st.binary(min_size=size, max_size=size))
    direction = draw(st.sampled_from([CLIENT_TO_SERVER, SERVER_TO_CLIENT]))
    return direction, header, payload, CIPHER.seal(direction, header, payload)


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2000), st.integers(0, 7)),
    st.tuples(st.just("cut"), st.integers(0, 1300)),
    st.tuples(st.just("extend"), st.binary(min_size=1, max_size=1300)),
    st.tuples(st.just("byte"), st.integers(0, 23), st.integers(0, 255)),
    st.tuples(st.just("field"), st.sampled_from([(0, 1), (1, 1), (2, 2), (4, 4), (8, 4), (12, 4),
                                                  (16, 4), (20, 2), (22, 2)]),
              st.integers(0, 2**32 - 1)),
    st.tuples(st.just("splice"), st.integers(0, 1200), st.binary(max_size=64)),
)


Mutation = tuple[Any, ...]


def mutate(datagram: bytes, operations: list[Mutation]) -> bytes:
    data = bytearray(datagram)
    for operation in operations:
        name = operation[0]
        if name == "flip" and data:
            data[operation[1] % len(data)] ^= 1 << operation[2]
        elif name == "cut":
            del data[operation[1] :]
        elif name == "extend":
            data += operation[1]
        elif name == "byte" and operation[1] < len(data):
            data[operation[1]] = operation[2]
        elif name == "field":
            (offset, size), value = operation[1], operation[2]
            if offset + size <= len(data):
                data[offset : offset + size] = (value % (1 << (8 * size))).to_bytes(size, "big")
        elif name == "splice":
            at = operation[1] % (len(data) + 1)
            data[at:at] = operation[2]
    return bytes(data)


def test_mutated_datagrams_raise_only_documented_errors() -> None:
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()

    @settings(max_examples=examples(1500), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(sealed_packets(), st.lists(mutation, max_size=4))
    def run(packet: tuple[int, MediaHeader, bytes, bytes], operations: list[Mutation]) -> None:
        direction, header, payload, datagram = packet
        data = mutate(datagram, operations)

        peeked = parsed = None
        try:
            peeked = peek(data)
        except MediaPacketError as exc:
            assert exc.reason in DOCUMENTED_REASONS, exc.reason
            outcomes[f"peek:{exc.reason}"] += 1
        try:
            parsed = MediaHeader.parse(data)
        except MediaPacketError as exc:
            assert exc.reason in DOCUMENTED_REASONS, exc.reason
        if parsed is not None:
            assert parsed.serialize() == data[: parsed.size]
            if peeked is not None:
                assert peeked == (parsed.kind, parsed.ssrc, parsed.seq, parsed.size)
        elif peeked is not None:
            # peek leaves the fragment fields to the receiver; parse checks them.
            assert peeked[0] == Kind.VIDEO

        try:
            opened = CIPHER.open(direction, data)
        except MediaPacketError as exc:
            assert exc.reason in DOCUMENTED_REASONS, exc.reason
            outcomes[f"open:{exc.reason}"] += 1
            assert data != datagram, "a genuine datagram failed to open"
            return
        outcomes["opened"] += 1
        assert data == datagram, "a modified datagram opened"
        assert opened == (header, payload)

    run()
    elapsed = time.perf_counter() - started
    print(f"media: {sum(v for k, v in outcomes.items() if k.startswith('open') or k == 'opened')}"
          f" datagrams in {elapsed:.2f} s: {dict(sorted(outcomes.items()))}")
    assert outcomes["opened"] > 0 and outcomes["open:bad_tag"] > 0, dict(outcomes)
    assert any(k.startswith("peek:") for k in outcomes), dict(outcomes)


def test_random_header_prefixes_with_random_tails() -> None:
    """Datagrams built field by field: any version, kind, fragment numbers and length."""
    outcomes: Counter[str] = Counter()

    @settings(max_examples=examples(1500), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.one_of(st.just(1), st.integers(0, 255)),
           st.one_of(st.integers(1, 4), st.integers(0, 255)), u16, u32, u32, u32, u32,
           st.one_of(st.integers(0, 3), u16),
           st.one_of(st.integers(0, 3), u16), st.integers(0, 1300))
    def run(version: int, kind: int, flags: int, ssrc: int, seq: int, ts: int, frame: int,
            index: int, count: int, tail: int) -> None:
        data = bytes([version, kind]) + b"".join(
            v.to_bytes(n, "big") for v, n in ((flags, 2), (ssrc, 4), (seq, 4), (ts, 4),
                                              (frame, 4), (index, 2), (count, 2))
        ) + bytes(tail)
        for name, check in (("peek", peek), ("parse", MediaHeader.parse),
                            ("open", lambda d: CIPHER.open(CLIENT_TO_SERVER, d))):
            try:
                check(data)
            except MediaPacketError as exc:
                assert exc.reason in DOCUMENTED_REASONS, exc.reason
                outcomes[f"{name}:{exc.reason}"] += 1
            else:
                outcomes[f"{name}:ok"] += 1
        assert "open:ok" not in outcomes, "a datagram nobody sealed opened"

    run()
    print(f"header fields: {dict(sorted(outcomes.items()))}")
    for reason in ("oversize", "truncated", "bad_version", "bad_kind"):
        assert outcomes[f"peek:{reason}"] > 0, dict(outcomes)
    assert outcomes["parse:bad_fragment"] > 0 and outcomes["open:bad_tag"] > 0, dict(outcomes)


def test_wrong_direction_or_key_never_opens() -> None:
    refused = 0

    @settings(max_examples=examples(400), deadline=None, database=None)
    @given(sealed_packets())
    def run(packet: tuple[int, MediaHeader, bytes, bytes]) -> None:
        nonlocal refused
        direction, _header, _payload, datagram = packet
        for cipher, way in ((CIPHER, 1 - direction), (MediaCipher(OTHER_KEY), direction)):
            try:
                cipher.open(way, datagram)
            except MediaPacketError as exc:
                assert exc.reason == "bad_tag"
                refused += 1
            else:
                raise AssertionError("opened under the wrong direction or key")

    run()
    print(f"wrong direction or key: {refused} opens refused, 0 accepted")
    assert refused > 0

