"""Media statistics, driven with synthetic clocks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pymeet.client.media.stats import (
    InterarrivalJitter,
    MediaLoss,
    MediaStats,
    RateMeter,
    SendStats,
    StreamStats,
)


def test_rate_meter_measures_a_steady_rate() -> None:
    meter = RateMeter(window=2.0)
    assert meter.rate(0.0) == 0.0
    for i in range(50):  # 10 events per second for 5 s
        meter.add(i / 10)
    assert meter.rate(4.95) == pytest.approx(10.0, rel=0.06)
    assert meter.total == 50
    assert meter.rate(4.95 + 2.0) == 0.0  # everything left the window


def test_rate_meter_is_not_diluted_at_the_start() -> None:
    meter = RateMeter(window=5.0)
    for i in range(10):
        meter.add(100 + i / 10, amount=1000)  # 10 kB/s for 1 s
    assert meter.rate(101.0) == pytest.approx(10_000, rel=0.1)


def test_audio_loss_counts_missing_frames_but_not_pings_or_pauses() -> None:
    loss = MediaLoss()
    for frame in range(100):
        if frame % 10 != 3:  # every tenth frame lost
            loss.add_audio(frame * 320, frame * 0.02)
    # A sender's pings consume seq numbers, never timestamps: nothing to see here.
    assert loss.expected == 100 and loss.received == 90 and loss.lost == 10
    assert loss.loss_percent == pytest.approx(10.0)
    loss.add_audio((100 + 500) * 320, 3.0)  # 10 s of muted microphone: a pause, not loss
    assert loss.lost == 10


def test_audio_loss_credits_late_frames_and_wraps() -> None:
    loss = MediaLoss()
    start = 2**32 - 2 * 320
    for frame in (0, 2, 1, 3, 4):  # frame 1 late, timestamps wrap past 2^32
        loss.add_audio((start + frame * 320) % 2**32, 0.0)
    assert loss.expected == 5 and loss.lost == 0


def test_video_loss_counts_fragments_and_skipped_frames() -> None:
    loss = MediaLoss()
    for frame_id in range(1, 11):
        for index in range(8):
            if not (frame_id == 4 and index == 5):  # one fragment lost
                loss.add_video(frame_id, 8, frame_id * 0.1)
    assert loss.expected == 80 and loss.lost == 1
    for _ in range(8):  # frames 11 and 12 never arrive
        loss.add_video(13, 8, 1.3)
    assert loss.expected == 80 + 8 + 16 and loss.lost == 17


@given(st.lists(st.integers(0, 500), unique=True, min_size=1))
def test_media_loss_is_never_negative_and_never_over_100(frames: list[int]) -> None:
    loss = MediaLoss()
    for frame in frames:
        loss.add_audio(frame * 320, 0.0)
    assert loss.lost >= 0
    assert 0.0 <= loss.loss_percent < 100.0


def test_recent_loss_forgets_an_old_outage() -> None:
    loss = MediaLoss(recent_window=5.0)
    now = 0.0
    frame = 0
    for _ in range(100):  # 10 s, half of the frames lost
        now += 0.1
        frame += 2
        loss.add_audio(frame * 320, now)
    for _ in range(100):  # then 10 s without loss
        now += 0.1
        frame += 1
        loss.add_audio(frame * 320, now)
    assert loss.loss_percent > 20
    assert loss.recent_loss_percent() == pytest.approx(0.0, abs=0.5)


def test_jitter_is_zero_for_a_steady_stream_and_grows_with_irregularity() -> None:
    steady = InterarrivalJitter(16_000)
    for i in range(100):
        steady.add((i * 320) % 2**32, 5.0 + i * 0.02)
    assert steady.jitter == pytest.approx(0.0, abs=1e-9)

    shaky = InterarrivalJitter(16_000)
    for i in range(400):
        shaky.add(i * 320, i * 0.02 + (0.005 if i % 2 else 0.0))
    # |D| is 5 ms on every packet: the estimate converges to 5 ms.
    assert shaky.jitter == pytest.approx(0.005, rel=0.05)


def test_jitter_survives_timestamp_wraparound() -> None:
    jitter = InterarrivalJitter(90_000)
    start = 2**32 - 9000
    for i in range(50):
        jitter.add((start + i * 3000) % 2**32, i * 3000 / 90_000)
    assert jitter.jitter == pytest.approx(0.0, abs=1e-9)


def test_stream_snapshot_reports_what_a_person_reads() -> None:
    stream = StreamStats(1234, "alice")
    now = 0.0
    for i in range(100):  # 2 s: audio every 20 ms, a 3-fragment frame every 100 ms
        now = i * 0.02
        stream.on_packet(audio=True, seq=i * 2, timestamp=i * 320, size=672, now=now)
        if i % 5 == 0:
            stream.on_frame_shown(i // 5, now)
    snap = stream.snapshot(now)
    assert snap["username"] == "alice" and snap["ssrc"] == 1234
    assert snap["audio_packets"] == 100 and snap["video_packets"] == 0
    # Every odd seq is missing, as if the sender had pinged in between: not loss.
    assert snap["loss_percent"] == 0.0
    assert snap["fps"] == pytest.approx(10.0, rel=0.1)
    assert snap["kbps"] == pytest.approx(50 * 672 * 8 / 1000, rel=0.05)
    assert snap["frames_shown"] == 20 and snap["last_frame_id"] == 19
    assert snap["audio_jitter_ms"] == pytest.approx(0.0, abs=0.01)


def test_send_stats_and_the_whole_snapshot() -> None:
    stats = MediaStats()
    send: SendStats = stats.send
    for i in range(50):
        send.on_audio(672, i * 0.02)
    send.on_audio(672, 1.0, sent=False)
    for i in range(10):
        for _ in range(3):
            send.on_video_packet(1200, i * 0.1)
        send.on_video_frame(i * 0.1)
    stats.rtt = 0.0123
    stats.path = "tunnel"
    stats.stream(7, "bob").on_packet(audio=False, seq=1, timestamp=0, size=1200, now=0.5)
    snap = stats.snapshot(1.0)
    assert snap["path"] == "tunnel" and snap["rtt_ms"] == pytest.approx(12.3)
    assert snap["send"]["audio_packets"] == 50 and snap["send"]["failures"] == 1
    assert snap["send"]["video_packets"] == 30 and snap["send"]["video_frames"] == 10
    assert snap["send"]["fps"] == pytest.approx(10.0, rel=0.1)
    assert snap["send"]["audio_pps"] == pytest.approx(50, rel=0.05)
    assert snap["streams"][7]["username"] == "bob" and snap["streams"][7]["video_packets"] == 1
    stats.forget(7)
    assert stats.snapshot(1.0)["streams"] == {}
