"""The replay window (PROTOCOL.md §4.3 step 3): each seq once, nothing too old."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymeet.protocol.errors import MediaPacketError
from pymeet.protocol.replay_window import ReplayWindow


def accept(window: ReplayWindow, seq: int) -> bool:
    assert window.check(seq)
    return window.update(seq)


def reason(window: ReplayWindow, seq: int) -> str:
    assert not window.check(seq)
    with pytest.raises(MediaPacketError) as caught:
        window.update(seq)
    return caught.value.reason


def test_in_order_stream_is_accepted_and_each_is_newest() -> None:
    window = ReplayWindow()
    assert window.highest is None
    assert all(accept(window, seq) for seq in range(1, 2000))
    assert window.highest == 1999
    assert window.accepted == 1999


def test_a_replay_is_refused_and_counted() -> None:
    window = ReplayWindow()
    for seq in (5, 6, 7):
        accept(window, seq)
    assert reason(window, 6) == "replayed"
    assert reason(window, 7) == "replayed"
    assert (window.replayed, window.late, window.accepted) == (2, 0, 3)


def test_reordering_inside_the_window_is_accepted_once_but_not_newest() -> None:
    window = ReplayWindow(width=256)
    accept(window, 1000)
    assert accept(window, 1000 - 255) is False  # oldest seq still inside the window
    assert accept(window, 999) is False
    assert reason(window, 999) == "replayed"
    assert accept(window, 1001) is True
    assert window.highest == 1001


def test_too_old_is_refused_as_late() -> None:
    window = ReplayWindow(width=256)
    accept(window, 1000)
    assert reason(window, 1000 - 256) == "late"
    assert reason(window, 0) == "late"
    assert window.late == 2
    assert window.highest == 1000  # refusals move nothing


def test_a_big_jump_forgets_the_old_window() -> None:
    window = ReplayWindow(width=256)
    accept(window, 10)
    accept(window, 10_000)
    assert reason(window, 10) == "late"
    assert window.check(9_999) and window.check(10_000 - 255)
    assert not window.check(10_000)


def test_seq_zero_and_the_last_seq() -> None:
    window = ReplayWindow()
    assert accept(window, 0)
    assert reason(window, 0) == "replayed"
    assert accept(window, 0xFFFF_FFFF)
    assert reason(window, 0xFFFF_FFFF) == "replayed"


def test_width_has_a_floor() -> None:
    with pytest.raises(ValueError):
        ReplayWindow(width=255)
    assert ReplayWindow(width=256).width == 256


@settings(max_examples=100, deadline=None)
@given(
    st.integers(256, 2048),
    st.lists(st.integers(0, 5000), max_size=300),
)
def test_matches_a_reference_model(width: int, seqs: list[int]) -> None:
    window = ReplayWindow(width)
    seen: set[int] = set()
    highest = -1
    for seq in seqs:
        expected_ok = seq not in seen and seq > highest - width
        assert window.check(seq) is expected_ok
        if expected_ok:
            assert window.update(seq) is (seq > highest)
            seen.add(seq)
            highest = max(highest, seq)
        else:
            with pytest.raises(MediaPacketError):
                window.update(seq)
    assert window.accepted == len(seen)
    assert window.accepted + window.late + window.replayed == len(seqs)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 64), st.integers(0, 2**32))
def test_reordered_and_duplicated_stream_delivers_each_seq_once(
    start: int, spread: int, seed: int
) -> None:
    rnd = random.Random(seed)
    sent = list(range(start, start + 500))
    arrivals = sorted(sent + rnd.sample(sent, 50), key=lambda s: s + rnd.uniform(0, spread))
    window = ReplayWindow()
    delivered = []
    for seq in arrivals:
        if window.check(seq):
            window.update(seq)
            delivered.append(seq)
    assert sorted(delivered) == sent
    assert window.replayed == 0 and window.accepted == 500
