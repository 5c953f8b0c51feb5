"""Media sources, sinks, JPEG coding and device probing, without a server."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymeet.client.media import (
    PRESETS,
    CameraSource,
    MediaUnavailable,
    MicrophoneSource,
    RecordingSink,
    SpeakerSink,
    SyntheticCamera,
    ToneSource,
    VideoPreset,
    WavSource,
    decode_jpeg,
    encode_jpeg,
    probe_devices,
    quiet_stderr,
    read_marker,
)
from pymeet.client.media.sources import AUDIO_FRAME_BYTES, SAMPLE_RATE

# -- the synthetic camera and its marker --------------------------------------------------


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_marker_survives_jpeg_at_every_preset(preset: str) -> None:
    settings_ = PRESETS[preset]
    camera = SyntheticCamera(4321, settings_.width, settings_.height, start_frame=1000)
    for expected in range(1000, 1010):
        jpeg = encode_jpeg(camera.read(), settings_)
        assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
        image = decode_jpeg(jpeg)
        assert image is not None
        assert image.shape == (settings_.height, settings_.width, 3)
        assert read_marker(image) == (expected, 4321)


def test_marker_survives_low_quality_and_shrinking() -> None:
    camera = SyntheticCamera(7, 640, 480, start_frame=2**32 - 2)
    for expected in (2**32 - 2, 2**32 - 1, 0):  # the frame number wraps like a u32
        jpeg = encode_jpeg(camera.read(), VideoPreset("tiny", 160, 120, 25, 10.0))
        assert jpeg is not None
        image = decode_jpeg(jpeg)
        assert image is not None and image.shape == (120, 160, 3)
        assert read_marker(image) == (expected, 7)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 0xFFFF))
def test_marker_round_trips_any_numbers(frame_number: int, sender_id: int) -> None:
    image = SyntheticCamera(sender_id, 320, 240, start_frame=frame_number).read()
    assert read_marker(image) == (frame_number, sender_id)


def test_images_without_a_marker_are_not_misread() -> None:
    rng = np.random.default_rng(1)
    assert read_marker(np.zeros((240, 320, 3), np.uint8)) is None
    assert read_marker(np.full((240, 320, 3), 255, np.uint8)) is None
    assert read_marker(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)) is None
    for _ in range(50):  # random black-and-white blocks fail the CRC
        blocks = rng.integers(0, 2, (4, 16), dtype=np.uint8) * 255
        band = np.kron(blocks, np.ones((18, 20), np.uint8))
        image = np.zeros((240, 320, 3), np.uint8)
        image[:72] = band[:, :, None]
        assert read_marker(image) is None
    assert read_marker(np.zeros((10, 10, 3), np.uint8)) is None


def test_synthetic_frames_move_and_differ_between_senders() -> None:
    camera = SyntheticCamera(1, 320, 240)
    first, second = camera.read(), camera.read()
    assert first.shape == (240, 320, 3) and first.dtype == np.uint8
    assert np.mean(first[80:] != second[80:]) > 0.5  # the pattern moves
    other = SyntheticCamera(2, 320, 240).read()
    assert np.mean(first[80:] != other[80:]) > 0.5
    camera.configure(640, 480, 15.0)
    assert camera.read().shape == (480, 640, 3)


def test_synthetic_frames_span_several_datagrams_at_low_quality() -> None:
    jpeg = encode_jpeg(SyntheticCamera(3).read(), PRESETS["low"])
    assert jpeg is not None and len(jpeg) > 3 * 1160  # so loss can break a frame


def test_encode_keeps_the_aspect_ratio_and_never_enlarges() -> None:
    wide = np.zeros((720, 1280, 3), np.uint8)
    jpeg = encode_jpeg(wide, PRESETS["low"])
    assert jpeg is not None
    image = decode_jpeg(jpeg)
    assert image is not None and image.shape == (180, 320, 3)
    small = np.zeros((100, 100, 3), np.uint8)
    image = decode_jpeg(encode_jpeg(small, PRESETS["high"]) or b"")
    assert image is not None and image.shape == (100, 100, 3)


def test_decode_refuses_what_is_not_a_whole_jpeg() -> None:
    jpeg = encode_jpeg(SyntheticCamera(5).read(), PRESETS["low"])
    assert jpeg is not None
    assert decode_jpeg(b"") is None
    assert decode_jpeg(b"not a jpeg" * 100) is None
    assert decode_jpeg(b"\xff\xd8" + bytes(2000)) is None
    assert decode_jpeg(jpeg[: len(jpeg) // 2]) is None


# -- audio sources --------------------------------------------------------------------------


def dominant_frequency(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / SAMPLE_RATE)[int(np.argmax(spectrum))])


@pytest.mark.parametrize("frequency", [220.0, 440.0, 1000.0, 3150.0])
def test_tone_has_its_frequency_and_level(frequency: float) -> None:
    source = ToneSource(frequency, amplitude=0.5)
    source.open()
    frames = [source.read() for _ in range(50)]  # one second
    assert all(len(frame) == AUDIO_FRAME_BYTES for frame in frames)
    pcm = b"".join(frames)
    assert abs(dominant_frequency(pcm) - frequency) <= 1.0
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    rms = float(np.sqrt(np.mean(samples**2))) / 32767
    assert abs(rms - 0.5 / np.sqrt(2)) < 0.01


def test_tone_is_phase_continuous_across_frames() -> None:
    source = ToneSource(997.0, amplitude=0.8)
    samples = np.frombuffer(b"".join(source.read() for _ in range(200)), dtype="<i2")
    steps = np.abs(np.diff(samples.astype(np.int64)))
    # The steepest step of a sine: 2π f / rate × amplitude, plus rounding.
    assert steps.max() <= 2 * np.pi * 997 / SAMPLE_RATE * 0.8 * 32767 + 2


def test_tone_rejects_impossible_settings() -> None:
    with pytest.raises(ValueError):
        ToneSource(9000.0)
    with pytest.raises(ValueError):
        ToneSource(440.0, amplitude=1.5)


def write_wav(path: Path, samples: np.ndarray, rate: int, width: int = 2,
              channels: int = 1) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        if width == 1:
            data = (samples / 256 + 128).astype(np.uint8).tobytes()
        elif width == 3:
            ints = samples.astype(np.int32) * 256
            data = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints)
        else:
            data = samples.astype("<i2").tobytes()
        wav.writeframes(data)


def test_wav_is_resampled_and_mixed_down(tmp_path: Path) -> None:
    rate = 44_100
    t = np.arange(rate) / rate  # one second
    left = np.sin(2 * np.pi * 1000 * t) * 12000
    stereo = np.stack([left, left], axis=1).reshape(-1)
    path = tmp_path / "tone.wav"
    write_wav(path, stereo, rate, channels=2)
    source = WavSource(path, loop=False)
    source.open()
    frames = [source.read() for _ in range(50)]
    assert all(len(frame) == AUDIO_FRAME_BYTES for frame in frames)
    assert abs(dominant_frequency(b"".join(frames)) - 1000) <= 1.0
    samples = np.frombuffer(b"".join(frames), dtype="<i2")
    assert 11000 < np.abs(samples).max() <= 12001
    # After the end: silence, and finished.
    assert source.read() == bytes(AUDIO_FRAME_BYTES)
    assert source.finished


@pytest.mark.parametrize("width", [1, 3])
def test_wav_other_sample_widths(tmp_path: Path, width: int) -> None:
    t = np.arange(8000) / 8000
    path = tmp_path / f"w{width}.wav"
    write_wav(path, np.sin(2 * np.pi * 500 * t) * 20000, 8000, width=width)
    source = WavSource(path)
    source.open()
    pcm = b"".join(source.read() for _ in range(50))
    assert abs(dominant_frequency(pcm) - 500) <= 1.0


def test_wav_loops_seamlessly(tmp_path: Path) -> None:
    samples = np.arange(SAMPLE_RATE // 10, dtype=np.int16)  # 0.1 s ramp, 1600 samples
    path = tmp_path / "ramp.wav"
    write_wav(path, samples, SAMPLE_RATE)
    source = WavSource(path, loop=True)
    source.open()
    got = np.frombuffer(b"".join(source.read() for _ in range(15)), dtype="<i2")
    assert np.array_equal(got, np.tile(samples, 3))
    assert not source.finished


def test_wav_problems_are_media_unavailable(tmp_path: Path) -> None:
    with pytest.raises(MediaUnavailable, match="no such file"):
        WavSource(tmp_path / "missing.wav").open()
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF nonsense")
    with pytest.raises(MediaUnavailable, match="not a PCM WAV"):
        WavSource(junk).open()


# -- devices that are not there -------------------------------------------------------------


def test_a_missing_camera_is_explained() -> None:
    with pytest.raises(MediaUnavailable, match="camera 63 could not be opened") as info:
        CameraSource(63).open()
    assert info.value.device == "camera"


def test_a_missing_microphone_is_explained() -> None:
    with pytest.raises(MediaUnavailable,
                       match=r"no audio input device|audio device #10000 does not exist") as info:
        MicrophoneSource(device_index=10_000).open()
    assert info.value.device == "microphone"


def test_a_missing_speaker_is_explained() -> None:
    with pytest.raises(MediaUnavailable,
                       match=r"no audio output device|audio device #10000 does not exist") as info:
        SpeakerSink(device_index=10_000).open()
    assert info.value.device == "speaker"


def test_default_devices_open_or_are_explained() -> None:
    """On a machine without sound hardware (like this one) the defaults are explained;
    with hardware they open and close cleanly. Either way, nothing else is raised."""
    for device in (MicrophoneSource(), SpeakerSink()):
        try:
            device.open()
        except MediaUnavailable as exc:
            assert "audio" in str(exc) or "PortAudio" in str(exc)
        else:
            device.close()


def test_probing_never_crashes_and_explains_what_is_missing() -> None:
    report = probe_devices(cameras=(63,))
    assert not report.has_camera
    assert "/dev/video63" in report.problems["camera"] or "camera 63" in report.problems["camera"]
    lines = report.summary().splitlines()
    assert [line.split(":")[0] for line in lines] == ["microphone", "speaker", "camera"]
    assert report.has_microphone or "microphone" in report.problems
    assert report.has_speaker or "speaker" in report.problems


def test_quiet_stderr_silences_c_level_output(capfd: pytest.CaptureFixture[str]) -> None:
    os.write(2, b"before\n")
    with quiet_stderr(), quiet_stderr():  # nested uses are fine
        os.write(2, b"noise from a C library\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "before\nafter\n"


# -- the recording sink ------------------------------------------------------------------------


def test_recording_sink_keeps_the_newest_audio() -> None:
    sink = RecordingSink(max_seconds=0.1)  # five frames
    for value in range(8):
        sink.write(np.full(320, value, dtype="<i2").tobytes())
    assert sink.frames_written == 8
    assert sink.duration == pytest.approx(0.1)
    assert list(sink.samples()[::320]) == [3, 4, 5, 6, 7]
    assert list(sink.samples(0.04)[::320]) == [6, 7]
    sink.clear()
    assert sink.pcm() == b"" and sink.level_dbfs() == -96.0
    sink.write(np.full(320, 16384, dtype="<i2").tobytes())
    assert sink.level_dbfs() == pytest.approx(-6.02, abs=0.01)
