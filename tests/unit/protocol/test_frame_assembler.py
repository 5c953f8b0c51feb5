"""Video frame reassembly on a receiver (PROTOCOL.md §4.4, video)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymeet.protocol.frame_assembler import (
    COUNTER_KEYS,
    CompletedFrame,
    FrameAssembler,
    frame_id_newer,
)
from pymeet.protocol.video_fragmenter import fragment_frame

SSRC = 7


def jpeg(frame_id: int, size: int = 3000) -> bytes:
    return bytes((frame_id + i) % 251 for i in range(size))


def fragments(frame_id: int, size: int = 3000, max_payload: int = 1000) -> list[
    tuple[int, int, int, bytes]
]:
    """(frame_id, frag_index, frag_count, payload) for every fragment of a frame."""
    parts = fragment_frame(jpeg(frame_id, size), max_payload)
    return [(frame_id, i, len(parts), p) for i, p in enumerate(parts)]


def feed(
    assembler: FrameAssembler,
    frags: list[tuple[int, int, int, bytes]],
    now: float = 0.0,
    ssrc: int = SSRC,
) -> list[CompletedFrame]:
    out = []
    for frame_id, index, count, payload in frags:
        done = assembler.add(ssrc, frame_id, index, count, frame_id * 3000, payload, now)
        if done is not None:
            out.append(done)
    return out


def counts(assembler: FrameAssembler) -> dict[str, int]:
    return {k: v for k, v in assembler.counters.items() if v}


def test_a_frame_completes_on_its_last_fragment() -> None:
    assembler = FrameAssembler()
    frags = fragments(5)
    assert feed(assembler, frags[:-1]) == []
    assert assembler.partial_frames(SSRC) == 1
    (frame,) = feed(assembler, frags[-1:])
    assert frame == CompletedFrame(SSRC, 5, 15000, jpeg(5), 3)
    assert assembler.partial_frames() == 0
    assert counts(assembler) == {"frames_completed": 1}
    assert set(assembler.counters) == set(COUNTER_KEYS)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 9000), st.randoms(use_true_random=False))
def test_reordered_fragments_assemble_byte_exact(size: int, rnd: random.Random) -> None:
    frags = fragments(1, size, max_payload=500)
    rnd.shuffle(frags)
    assembler = FrameAssembler()
    (frame,) = feed(assembler, frags)
    assert frame.data == jpeg(1, size)
    assert frame.fragments == len(frags)


def test_duplicate_fragments_are_ignored_and_counted() -> None:
    assembler = FrameAssembler()
    frags = fragments(1)
    (frame,) = feed(assembler, [frags[0], frags[0], frags[1], frags[2]])
    assert frame.data == jpeg(1)
    assert feed(assembler, [frags[2]]) == []  # a fragment of the frame already shown
    assert counts(assembler) == {"frames_completed": 1, "duplicate": 2}


def test_a_lost_fragment_is_counted_when_a_newer_frame_supersedes_it() -> None:
    assembler = FrameAssembler()
    lossy = fragments(3)[1:]  # fragment 0 of frame 3 never arrives
    delivered = feed(assembler, lossy + fragments(4))
    assert [f.frame_id for f in delivered] == [4]
    assert assembler.partial_frames() == 0
    assert counts(assembler) == {"frames_completed": 1, "superseded": 1}
    # The missing fragment arriving now cannot resurrect the frame (§4.4: newest wins).
    assert feed(assembler, fragments(3)[:1]) == []
    assert assembler.counters["late"] == 1


def test_a_lost_fragment_is_counted_when_the_frame_expires() -> None:
    assembler = FrameAssembler(max_age=0.5)
    feed(assembler, fragments(1)[:2], now=10.0)
    assembler.expire(10.5)
    assert assembler.partial_frames() == 1  # 500 ms is not yet older than 500 ms
    assembler.expire(10.51)
    assert assembler.partial_frames() == 0
    assert counts(assembler) == {"expired": 1}
    # Its last fragment now starts a new partial frame, which expires in turn.
    feed(assembler, fragments(1)[2:], now=11.0)
    feed(assembler, fragments(2), now=11.6)  # a new packet expires stale partials too
    assert counts(assembler) == {"expired": 2, "frames_completed": 1}


def test_an_older_frame_completing_after_a_newer_one_is_dropped() -> None:
    assembler = FrameAssembler()
    old, new = fragments(10), fragments(11)
    delivered = feed(assembler, new + old)
    assert [f.frame_id for f in delivered] == [11]
    assert assembler.counters["late"] == len(old)
    assert assembler.partial_frames() == 0


def test_interleaved_frames_deliver_in_completion_order_newest_wins() -> None:
    assembler = FrameAssembler()
    a, b = fragments(1), fragments(2)
    delivered = feed(assembler, [a[0], b[0], a[1], b[1], a[2], b[2]])
    assert [f.frame_id for f in delivered] == [1, 2]
    delivered = feed(assembler, [*fragments(4)[:2], *fragments(5), *fragments(4)[2:]])
    assert [f.frame_id for f in delivered] == [5]
    assert counts(assembler) == {"frames_completed": 3, "superseded": 1, "late": 1}


def test_inconsistent_frag_count_drops_the_frame_once() -> None:
    assembler = FrameAssembler()
    assembler.add(SSRC, 1, 0, 3, 0, b"a", 0.0)
    assert assembler.add(SSRC, 1, 1, 2, 0, b"b", 0.0) is None
    assert assembler.add(SSRC, 1, 1, 3, 0, b"b", 0.0) is None  # swallowed by the tombstone
    assert assembler.add(SSRC, 1, 2, 3, 0, b"c", 0.0) is None
    assembler.expire(1.0)
    assert counts(assembler) == {"inconsistent": 1}
    assert assembler.partial_frames() == 0


def test_too_many_partial_frames_drop_the_oldest() -> None:
    assembler = FrameAssembler(max_partial_frames=4)
    for frame_id in range(6):
        feed(assembler, fragments(frame_id)[:1])
    assert assembler.partial_frames(SSRC) == 4
    assert counts(assembler) == {"overflow": 2}
    # Frames 0 and 1 were evicted; frame 5 can still complete.
    assert [f.frame_id for f in feed(assembler, fragments(5)[1:])] == [5]
    assert assembler.counters["superseded"] == 3


def test_oversize_frames_are_dropped() -> None:
    assembler = FrameAssembler(max_frame_bytes=2500)
    assert feed(assembler, fragments(1, size=3000)) == []
    assert counts(assembler) == {"too_large": 1}
    assert [f.frame_id for f in feed(assembler, fragments(2, size=2500))] == [2]


def test_impossible_fragment_numbers_are_counted_not_raised() -> None:
    assembler = FrameAssembler()
    assert assembler.add(SSRC, 1, 0, 0, 0, b"x", 0.0) is None
    assert assembler.add(SSRC, 1, 3, 3, 0, b"x", 0.0) is None
    assert counts(assembler) == {"bad_fragment": 2}


def test_frame_ids_wrap() -> None:
    assert frame_id_newer(0, 0xFFFF_FFFF)
    assert not frame_id_newer(0xFFFF_FFFF, 0)
    assert not frame_id_newer(5, 5)
    assembler = FrameAssembler()
    ids = [0xFFFF_FFFE, 0xFFFF_FFFF, 0, 1]
    delivered = feed(assembler, [f for i in ids for f in fragments(i, size=100, max_payload=60)])
    assert [f.frame_id for f in delivered] == ids
    assert feed(assembler, fragments(0xFFFF_FFFF, size=100)) == []  # older across the wrap


def test_streams_are_independent_and_forget_resets_one() -> None:
    assembler = FrameAssembler()
    assert len(feed(assembler, fragments(9), ssrc=1)) == 1
    assert len(feed(assembler, fragments(3), ssrc=2)) == 1  # older id, other sender
    feed(assembler, fragments(1)[:1], ssrc=1)
    assembler.forget(1)
    assert assembler.partial_frames() == 0
    assert len(feed(assembler, fragments(1), ssrc=1)) == 1  # a fresh start after forget


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FrameAssembler(max_age=0.0)
    with pytest.raises(ValueError):
        FrameAssembler(max_partial_frames=0)
    with pytest.raises(ValueError):
        FrameAssembler(max_frame_bytes=0)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.lists(st.integers(1, 4000), min_size=1, max_size=25),
    st.floats(0.0, 0.3),
    st.integers(0, 8),
    st.integers(0, 2**32),
)
def test_lossy_reordering_network_delivers_only_whole_newer_frames(
    first_id: int, sizes: list[int], loss: float, spread: int, seed: int
) -> None:
    rnd = random.Random(seed)
    ids = [(first_id + n) % 2**32 for n in range(len(sizes))]
    sent = [f for frame_id, size in zip(ids, sizes, strict=True)
            for f in fragments(frame_id, size, max_payload=700)]
    arrived = [f for f in sent if rnd.random() >= loss]
    arrived += rnd.sample(arrived, len(arrived) // 10)  # a few duplicates
    order = sorted(range(len(arrived)), key=lambda i: i + rnd.uniform(0, spread))
    assembler = FrameAssembler(max_partial_frames=64)
    delivered = feed(assembler, [arrived[i] for i in order])
    # Whole, byte-exact frames only, each strictly newer than the one before.
    for frame in delivered:
        assert frame.data == jpeg(frame.frame_id, sizes[ids.index(frame.frame_id)])
    positions = [ids.index(f.frame_id) for f in delivered]
    assert positions == sorted(set(positions))
    # A frame that lost a fragment is never shown.
    complete = {f[0] for f in sent} - {f[0] for f in sent if f not in arrived}
    assert {f.frame_id for f in delivered} <= complete
    if spread == 0 and loss == 0.0:
        assert [f.frame_id for f in delivered] == ids
    # Nothing lingers, and every frame that arrived in part is accounted for: it was
    # delivered, dropped (superseded or expired) as a partial frame, or all of its
    # fragments came too late to start one.
    assembler.expire(10.0)
    assert assembler.partial_frames() == 0
    c = assembler.counters
    assert c["frames_completed"] == len(delivered)
    accounted = c["frames_completed"] + c["superseded"] + c["expired"]
    seen = len({f[0] for f in arrived})
    assert accounted <= seen <= accounted + c["late"]
    assert c["overflow"] == c["inconsistent"] == c["too_large"] == c["bad_fragment"] == 0
