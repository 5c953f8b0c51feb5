"""The audio jitter buffer (PROTOCOL.md §4.4, audio), fed synthetic packets as in aiortc."""

from __future__ import annotations

import random
import struct
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymeet.protocol.jitter_buffer import (
    CONCEAL_GAINS,
    FRAME_BYTES,
    FRAME_DURATION,
    FRAME_SAMPLES,
    JitterBuffer,
)

TICK = FRAME_DURATION
LOUD = 10_000
QUIET = 20
LOUD_MARK = 12_345  # sample 0 of every real loud frame; concealment scales it away
QUIET_MARK = 7


def frame(index: int, *, quiet: bool = False) -> bytes:
    """A recognisable 20 ms frame: a marker, its index, then a constant level."""
    mark, body = (QUIET_MARK, QUIET) if quiet else (LOUD_MARK, LOUD)
    return struct.pack("<hh318h", mark, index % 32768, *([body] * 318))


def ident(out: bytes) -> int | None:
    """The index of a real frame, or None for a concealment frame."""
    mark, index = struct.unpack_from("<hh", out)
    return index if mark in (LOUD_MARK, QUIET_MARK) else None


def run(
    jb: JitterBuffer,
    arrivals: Iterable[tuple[float, int, bytes]],
    ticks: int,
    tick_offset: float = 0.5 * TICK,
) -> list[bytes | None]:
    """Push (time, timestamp, payload) arrivals and pop every 20 ms, in time order."""
    pending = sorted(arrivals, key=lambda a: a[0])
    out: list[bytes | None] = []
    for k in range(ticks):
        now = k * TICK + tick_offset
        while pending and pending[0][0] <= now:
            at, timestamp, payload = pending.pop(0)
            jb.push(timestamp, payload, at)
        out.append(jb.pop(now))
    return out


def steady(
    n: int, *, start_ts: int = 0, t0: float = 0.0, first: int = 0, quiet: bool = False
) -> list[tuple[float, int, bytes]]:
    """``n`` frames sent every 20 ms from ``t0``, indices from ``first``, arriving at once."""
    return [
        (t0 + i * TICK, (start_ts + i * FRAME_SAMPLES) % 2**32, frame(first + i, quiet=quiet))
        for i in range(n)
    ]


def real(outputs: list[bytes | None]) -> list[int]:
    return [i for out in outputs if out is not None and (i := ident(out)) is not None]


def assert_accounting(jb: JitterBuffer) -> None:
    s = jb.stats
    assert s.received == s.played + s.late + s.duplicate + s.dropped + s.buffered
    assert s.concealed == s.lost + s.stretched


def test_in_order_stream_plays_every_frame_once_after_the_initial_delay() -> None:
    jb = JitterBuffer()
    out = run(jb, steady(100), ticks=130)
    first = next(k for k, o in enumerate(out) if o is not None)
    assert first >= 1  # playout waits for the 40 ms minimum delay to build up
    assert real(out) == list(range(100))
    assert all(o is None or len(o) == FRAME_BYTES for o in out)
    assert out[-1] is None  # the stream ended: the buffer ran dry
    s = jb.stats
    assert (s.played, s.lost, s.concealed, s.late, s.duplicate) == (100, 0, 0, 0, 0)
    assert s.loss_percent == 0.0 and s.jitter_ms == pytest.approx(0.0, abs=1e-6)
    assert s.target_delay_ms == pytest.approx(40.0)
    assert_accounting(jb)


def test_nothing_plays_before_playout_starts() -> None:
    jb = JitterBuffer()
    assert jb.pop(0.0) is None
    jb.push(0, frame(0), 0.0)
    assert jb.pop(0.01) is None and not jb.playing
    assert ident(jb.pop(0.05) or b"\0\0\0\0") == 0  # a lone frame plays once it waited 40 ms
    assert jb.playing


def test_reordered_frames_come_out_in_timestamp_order() -> None:
    arrivals = steady(10)
    arrivals[3] = (arrivals[4][0] + 0.005, *arrivals[3][1:])  # frame 3 overtaken by frame 4
    jb = JitterBuffer()
    assert real(run(jb, arrivals, ticks=30)) == list(range(10))
    assert jb.stats.late == 0


def test_a_lost_frame_is_concealed_by_a_fading_repeat() -> None:
    arrivals = [a for i, a in enumerate(steady(20)) if i not in (5, 6, 7, 8, 9)]
    jb = JitterBuffer(min_delay=0.12)
    out = [o for o in run(jb, arrivals, ticks=40) if o is not None]
    assert [ident(o) for o in out] == [0, 1, 2, 3, 4, None, None, None, None, None, *range(10, 20)]
    levels = [struct.unpack_from("<h", o, 4)[0] for o in out[5:10]]
    assert levels == [int(LOUD * g) for g in CONCEAL_GAINS] + [0, 0]  # fades to silence
    s = jb.stats
    assert (s.lost, s.concealed, s.played) == (5, 5, 15)
    assert s.loss_percent == pytest.approx(25.0)
    assert_accounting(jb)


def test_late_and_duplicate_frames_are_dropped_and_counted() -> None:
    jb = JitterBuffer()
    out = run(jb, [*steady(5), (0.30, 2 * FRAME_SAMPLES, frame(2))], ticks=20)
    assert real(out) == [0, 1, 2, 3, 4]
    assert jb.stats.late == 1
    jb2 = JitterBuffer()
    jb2.push(0, frame(0), 0.0)
    jb2.push(0, frame(0), 0.001)
    assert jb2.stats.duplicate == 1
    assert_accounting(jb)
    assert_accounting(jb2)


def test_timestamps_wrap_around() -> None:
    start = 2**32 - 5 * FRAME_SAMPLES
    jb = JitterBuffer()
    assert real(run(jb, steady(12, start_ts=start), ticks=30)) == list(range(12))


def test_a_silence_between_talk_spurts_is_not_concealed_as_loss() -> None:
    first = steady(10)
    second = steady(10, start_ts=5000 * FRAME_SAMPLES, t0=3.0, first=10)
    jb = JitterBuffer()
    out = run(jb, first + second, ticks=200)
    assert real(out) == list(range(20))
    assert jb.stats.lost == 0 and jb.stats.concealed == 0
    assert sum(o is not None for o in out) == 20


def test_a_pause_without_a_timestamp_jump_rebuffers_instead_of_playing_late() -> None:
    first = steady(10)
    resumed = steady(10, start_ts=10 * FRAME_SAMPLES, t0=2.0, first=10)
    jb = JitterBuffer()
    out = run(jb, first + resumed, ticks=200)
    assert real(out) == list(range(20))
    assert jb.stats.late == 0 and jb.stats.lost == 0


def test_target_delay_follows_jitter_within_bounds() -> None:
    rnd = random.Random(1)
    calm, jittery, wild = JitterBuffer(), JitterBuffer(), JitterBuffer()
    for i in range(500):
        calm.push(i * FRAME_SAMPLES, frame(i), i * TICK)
        jittery.push(i * FRAME_SAMPLES, frame(i), i * TICK + rnd.uniform(0, 0.06))
        wild.push(i * FRAME_SAMPLES, frame(i), i * TICK + rnd.uniform(0, 1.0))
    assert calm.stats.target_delay_ms == pytest.approx(40.0)
    assert 15 < jittery.stats.jitter_ms < 30
    assert 40 < jittery.stats.target_delay_ms < 150
    assert wild.stats.target_delay_ms == pytest.approx(300.0)


def test_jittery_stream_loses_almost_nothing() -> None:
    rnd = random.Random(2)
    arrivals = [(t + rnd.uniform(0, 0.08), ts, p) for t, ts, p in steady(1500)]
    jb = JitterBuffer()
    out = run(jb, arrivals, ticks=1700)
    played = real(out)
    assert played == sorted(played)
    assert jb.stats.late < 15  # a handful while the jitter estimate warms up
    assert_accounting(jb)


def test_excess_delay_is_shed_at_quiet_frames_only() -> None:
    # A 300 ms outage, then everything at once, then a steady stream of quiet frames.
    burst = [(0.3, i * FRAME_SAMPLES, frame(i, quiet=True)) for i in range(15)]
    rest = steady(185, start_ts=15 * FRAME_SAMPLES, t0=0.3 + TICK, first=15, quiet=True)
    jb = JitterBuffer()
    out = run(jb, burst + rest, ticks=220)
    assert jb.stats.dropped > 5
    assert jb.stats.depth_ms <= 80
    played = real(out)
    assert played == sorted(played) and len(played) + jb.stats.dropped == 200
    loud_burst = [(0.3, i * FRAME_SAMPLES, frame(i)) for i in range(15)]
    loud_rest = steady(185, start_ts=15 * FRAME_SAMPLES, t0=0.3 + TICK, first=15)
    loud = JitterBuffer()
    assert real(run(loud, loud_burst + loud_rest, ticks=240)) == list(range(200))
    assert loud.stats.dropped == 0  # speech is never cut while under max_delay


def test_delay_grows_at_quiet_frames_when_jitter_grows() -> None:
    rnd = random.Random(3)
    arrivals = [(t + (rnd.uniform(0, 0.15) if i > 100 else 0.0), ts, p)
                for i, (t, ts, p) in enumerate(steady(400, quiet=True))]
    jb = JitterBuffer()
    run(jb, arrivals, ticks=450)
    assert jb.stats.stretched > 0
    assert jb.stats.target_delay_ms > 100
    assert_accounting(jb)


def test_the_buffer_is_bounded() -> None:
    jb = JitterBuffer(max_delay=0.3)
    for i in range(100):
        jb.push(i * FRAME_SAMPLES, frame(i), 0.0)
    assert jb.stats.buffered == 30
    assert jb.stats.dropped == 70
    out = [jb.pop(0.05 + k * TICK) for k in range(40)]
    played = real(out)
    assert played[0] >= 70 and played[-1] == 99  # the newest audio is kept
    assert_accounting(jb)


def test_a_sender_clock_restart_resynchronises() -> None:
    jb = JitterBuffer()
    out = run(jb, steady(20, start_ts=10**6) + steady(20, t0=0.6, first=100), ticks=80)
    played = real(out)
    assert played[-20:] == list(range(100, 120))
    assert played[:20] == list(range(20))
    assert jb.stats.late < 3
    assert_accounting(jb)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        JitterBuffer().push(0, bytes(639), 0.0)
    with pytest.raises(ValueError):
        JitterBuffer(min_delay=0.5, max_delay=0.3)
    with pytest.raises(ValueError):
        JitterBuffer(min_delay=0.0)


@st.composite
def lossy_reordered(draw: st.DrawFn) -> tuple[int, list[int], set[int]]:
    """(window, arrival order of slots, dropped slots): each slot moves < window places."""
    n = draw(st.integers(2, 120))
    window = draw(st.integers(1, 6))
    jitter = draw(st.lists(st.floats(0, window - 1e-6), min_size=n, max_size=n))
    order = sorted(range(n), key=lambda s: s + jitter[s])
    drops = draw(st.sets(st.integers(0, n - 1), max_size=n // 3))
    # No run of losses over 10 frames: that would be a talk-spurt gap, not loss.
    runs = 0
    for s in range(n):
        runs = runs + 1 if s in drops else 0
        if runs > 10:
            drops.discard(s)
            runs = 0
    if len(drops) == n:
        drops.discard(0)
    return window, order, drops


@settings(max_examples=150, deadline=None)
@given(lossy_reordered(), st.integers(0, 2**32 - 1))
def test_reordering_and_loss_within_the_delay(
    case: tuple[int, list[int], set[int]], start_ts: int
) -> None:
    window, order, drops = case
    arriving = [s for s in order if s not in drops]
    arrivals = [
        (p * TICK, (start_ts + s * FRAME_SAMPLES) % 2**32, frame(s))
        for p, s in enumerate(arriving)
    ]
    jb = JitterBuffer(min_delay=(window + 2) * TICK, max_delay=2.0)
    out = run(jb, arrivals, ticks=len(order) + 200)
    outputs = [o for o in out if o is not None]
    played = [ident(o) for o in outputs]
    delivered = sorted(arriving)
    # Every frame that arrived plays exactly once, in timestamp order; nothing is late.
    assert [i for i in played if i is not None] == delivered
    s = jb.stats
    assert (s.late, s.dropped, s.duplicate, s.buffered) == (0, 0, 0, 0)
    # Every missing slot between the first and last frame is concealed exactly once.
    missing = set(range(delivered[0], delivered[-1] + 1)) - set(delivered)
    assert s.lost == len(missing)
    assert s.concealed == s.lost + s.stretched == played.count(None)
    positions = [k for k, i in enumerate(played) if i is not None]
    for (a, pa), (b, pb) in zip(
        zip(delivered, positions, strict=True), zip(delivered[1:], positions[1:], strict=True),
        strict=False,
    ):
        assert pb - pa - 1 >= b - a - 1  # at least one concealment per missing slot
    assert s.received == len(arriving)
    assert_accounting(jb)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 300),
    st.floats(0.0, 0.25),
    st.floats(0.0, 0.3),
    st.floats(0.0, 0.2),
    st.booleans(),
    st.integers(0, 2**32),
)
def test_any_network_keeps_order_and_accounting(
    n: int, jitter: float, loss: float, duplicates: float, quiet: bool, seed: int
) -> None:
    rnd = random.Random(seed)
    arrivals = []
    for t, ts, payload in steady(n, quiet=quiet):
        if rnd.random() < loss:
            continue
        arrivals.append((t + rnd.uniform(0, jitter), ts, payload))
        if rnd.random() < duplicates:
            arrivals.append((t + rnd.uniform(0, jitter), ts, payload))
    jb = JitterBuffer()
    out = run(jb, arrivals, ticks=n + 100)
    played = real(out)
    assert played == sorted(set(played))  # strictly increasing: timestamp order, no repeats
    assert all(o is None or len(o) == FRAME_BYTES for o in out)
    s = jb.stats
    assert s.received == len(arrivals)
    assert s.played == len(played)
    assert s.concealed == sum(o is not None for o in out) - s.played
    assert 0.0 <= s.loss_percent <= 100.0
    assert 40.0 <= s.target_delay_ms <= 300.0
    assert_accounting(jb)
