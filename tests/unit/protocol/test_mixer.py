"""Mixing and levels of s16le audio (PROTOCOL.md §4.4: all speakers mixed)."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymeet.protocol.mixer import (
    FRAME_BYTES,
    SILENCE_DBFS,
    is_speaking,
    level,
    level_dbfs,
    mix,
)


def pcm(*samples: int) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def constant(value: int, n: int = 320) -> bytes:
    return pcm(*([value] * n))


def sine(amplitude: float, n: int = 320, hz: float = 440.0) -> bytes:
    t = np.arange(n) / 16000
    return (amplitude * np.sin(2 * np.pi * hz * t)).round().astype("<i2").tobytes()


frames_strategy = st.integers(1, 64).flatmap(
    lambda n: st.lists(st.lists(st.integers(-32768, 32767), min_size=n, max_size=n),
                       min_size=1, max_size=6)
)


def test_mix_adds_sample_by_sample() -> None:
    assert mix([pcm(1, -2, 300), pcm(10, 20, -300)]) == pcm(11, 18, 0)


def test_mix_clips_instead_of_wrapping() -> None:
    loud = constant(30000, 4)
    assert mix([loud, loud]) == constant(32767, 4)
    assert mix([constant(-30000, 4)] * 3) == constant(-32768, 4)


def test_mix_of_nothing_is_one_silent_frame_and_of_one_is_itself() -> None:
    assert mix([]) == bytes(FRAME_BYTES) == bytes(640)
    assert mix([pcm(1, 2, 3)]) == pcm(1, 2, 3)


def test_mix_refuses_mismatched_or_odd_frames() -> None:
    with pytest.raises(ValueError):
        mix([pcm(1, 2), pcm(1)])
    with pytest.raises(ValueError):
        mix([b"abc", b"abc"])
    with pytest.raises(ValueError):
        mix([b"abc"])


@settings(max_examples=100, deadline=None)
@given(frames_strategy)
def test_mix_matches_clipped_integer_sum(frames: list[list[int]]) -> None:
    out = struct.unpack(f"<{len(frames[0])}h", mix([pcm(*f) for f in frames]))
    expected = [max(-32768, min(32767, sum(column))) for column in zip(*frames, strict=True)]
    assert list(out) == expected


def test_levels() -> None:
    assert level(bytes(640)) == 0.0
    assert level(b"") == 0.0
    assert level(constant(-32768)) == 1.0
    assert level(constant(16384)) == pytest.approx(0.5)
    assert level_dbfs(constant(16384)) == pytest.approx(20 * math.log10(0.5))
    assert level_dbfs(sine(32767, n=16000)) == pytest.approx(-3.01, abs=0.01)
    assert level_dbfs(bytes(640)) == SILENCE_DBFS
    assert level_dbfs(constant(1)) == pytest.approx(-90.3, abs=0.1)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-32768, 32767), max_size=400))
def test_level_is_always_in_range(samples: list[int]) -> None:
    value = level(pcm(*samples))
    assert 0.0 <= value <= 1.0
    assert SILENCE_DBFS <= level_dbfs(pcm(*samples)) <= 0.0


def test_speaking_indicator() -> None:
    assert is_speaking(sine(3000))  # about -24 dBFS: a voice
    assert not is_speaking(sine(100))  # about -53 dBFS: room noise
    assert not is_speaking(bytes(640))
    assert is_speaking(sine(100), threshold_dbfs=-60.0)
