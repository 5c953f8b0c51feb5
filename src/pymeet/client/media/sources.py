"""Where outgoing media comes from: cameras and test patterns, microphones and tones.

Video sources return BGR ``uint8`` images of shape ``(height, width, 3)``. Audio sources
return 640-byte frames: 20 ms of signed 16-bit little-endian mono PCM at 16 kHz, the
audio payload of PROTOCOL.md §4.2.

Every source has the same small life cycle, which the engine drives from a worker
thread (never from the event loop): ``open()``, then ``read()`` as often as it needs,
then ``close()``. ``paced`` tells whether ``read()`` itself waits for the next frame
(a real device) or returns at once (synthetic sources, which the engine paces). A
device that cannot be used raises `MediaUnavailable` with a sentence for the user.

`SyntheticCamera` draws a moving test pattern that carries its frame number and a
sender id in big black and white blocks; `read_marker` reads them back from a decoded
image, even after JPEG at low quality and resizing, so tests and bots can tell whose
frame they see and whether frames move forward.
"""

from __future__ import annotations

import binascii
import logging
import math
import struct
import sys
import wave
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pymeet.client.media.devices import (
    camera_missing_reason,
    open_pcm_stream,
    quiet_stderr,
)
from pymeet.client.media.errors import MediaUnavailable

__all__ = [
    "AUDIO_FRAME_BYTES",
    "AUDIO_FRAME_SAMPLES",
    "SAMPLE_RATE",
    "AudioSource",
    "CameraSource",
    "MicrophoneSource",
    "SyntheticCamera",
    "ToneSource",
    "VideoSource",
    "WavSource",
    "read_marker",
]

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
AUDIO_FRAME_SAMPLES = 320  # 20 ms
AUDIO_FRAME_BYTES = 2 * AUDIO_FRAME_SAMPLES  # §4.2: exactly 640 bytes
_PCM = np.dtype("<i2")

Image = np.ndarray[Any, np.dtype[np.uint8]]


class VideoSource(Protocol):
    """A source of BGR frames (see the module docstring for the life cycle)."""

    name: str
    paced: bool

    def open(self) -> None: ...

    def read(self) -> Image | None:
        """The next frame, or None when none is ready this time."""
        ...

    def close(self) -> None: ...

    def configure(self, width: int, height: int, fps: float) -> None:
        """Ask for another size and rate (best effort; the engine resizes anyway)."""
        ...


class AudioSource(Protocol):
    """A source of 640-byte 20 ms PCM frames (see the module docstring)."""

    name: str
    paced: bool

    def open(self) -> None: ...

    def read(self) -> bytes: ...

    def close(self) -> None: ...


# -- video ---------------------------------------------------------------------------------


class CameraSource:
    """A camera through OpenCV's ``VideoCapture``.

    ``open`` raises `MediaUnavailable` (device ``"camera"``) when the camera cannot be
    opened; ``read`` raises it after ten frames in a row fail (unplugged, taken away).
    """

    paced = True
    MAX_FAILED_READS = 10

    def __init__(self, index: int = 0, width: int = 640, height: int = 480,
                 fps: float = 15.0) -> None:
        self.index = index
        self.width = width
        self.height = height
        self.fps = fps
        self.name = f"camera {index}"
        self._capture: Any = None
        self._failures = 0

    def open(self) -> None:
        try:
            import cv2
        except ImportError:
            raise MediaUnavailable("camera", "OpenCV is not installed "
                                   "(pip install opencv-python-headless)") from None
        if sys.platform.startswith("linux") and not Path(f"/dev/video{self.index}").exists():
            raise MediaUnavailable(
                "camera", f"camera {self.index} could not be opened: "
                          f"{camera_missing_reason(self.index)}")
        with quiet_stderr():
            capture = cv2.VideoCapture(self.index)
            opened = bool(capture.isOpened())
        if not opened:
            capture.release()
            raise MediaUnavailable(
                "camera", f"camera {self.index} could not be opened: "
                          f"{camera_missing_reason(self.index)}")
        self._capture = capture
        self._failures = 0
        self.configure(self.width, self.height, self.fps)
        logger.info("opened %s", self.name)

    def configure(self, width: int, height: int, fps: float) -> None:
        self.width, self.height, self.fps = width, height, fps
        capture = self._capture
        if capture is None:
            return
        import cv2

        capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        capture.set(cv2.CAP_PROP_FPS, fps)

    def read(self) -> Image | None:
        capture = self._capture
        if capture is None:
            raise MediaUnavailable("camera", f"{self.name} is not open")
        ok, frame = capture.read()
        if not ok or frame is None:
            self._failures += 1
            if self._failures >= self.MAX_FAILED_READS:
                raise MediaUnavailable("camera", f"{self.name} stopped delivering frames")
            return None
        self._failures = 0
        image: Image = frame
        return image

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()


# The marker: MARKER_ROWS x MARKER_COLS cells across the top of the image, one bit each
# (black 0, white 1): frame number (32 bits), sender id (16), CRC-16 of both (16).
MARKER_ROWS = 4
MARKER_COLS = 16
MARKER_BAND = 0.3  # fraction of the image height the marker occupies
_MARKER = struct.Struct(">IHH")
_BLACK_MAX = 90  # a cell's centre must be clearly black or clearly white
_WHITE_MIN = 165


def _marker_bits(frame_number: int, sender_id: int) -> list[int]:
    body = struct.pack(">IH", frame_number, sender_id)
    data = body + struct.pack(">H", binascii.crc_hqx(body, 0xFFFF))
    return [(byte >> (7 - bit)) & 1 for byte in data for bit in range(8)]


def _cell_edges(size: int, cells: int) -> list[int]:
    return [round(i * size / cells) for i in range(cells + 1)]


def read_marker(image: np.ndarray[Any, Any]) -> tuple[int, int] | None:
    """``(frame_number, sender_id)`` from a `SyntheticCamera` frame, else None.

    Works on BGR or grey images of any size, after JPEG compression at the presets'
    qualities. Returns None for an image without a valid marker (checked by CRC-16).
    """
    if image.ndim not in (2, 3):
        return None
    height, width = image.shape[:2]
    if height < 4 * MARKER_ROWS / MARKER_BAND or width < 2 * MARKER_COLS:
        return None
    band = max(MARKER_ROWS, int(height * MARKER_BAND))
    rows = _cell_edges(band, MARKER_ROWS)
    cols = _cell_edges(width, MARKER_COLS)
    bits: list[int] = []
    for r in range(MARKER_ROWS):
        y0, y1 = rows[r], rows[r + 1]
        dy = (y1 - y0) // 4
        for c in range(MARKER_COLS):
            x0, x1 = cols[c], cols[c + 1]
            dx = (x1 - x0) // 4
            value = float(image[y0 + dy:y1 - dy, x0 + dx:x1 - dx].mean())
            if value <= _BLACK_MAX:
                bits.append(0)
            elif value >= _WHITE_MIN:
                bits.append(1)
            else:
                return None
    data = bytes(
        sum(bit << (7 - i) for i, bit in enumerate(bits[start:start + 8]))
        for start in range(0, len(bits), 8)
    )
    frame_number, sender_id, check = _MARKER.unpack(data)
    if binascii.crc_hqx(data[:6], 0xFFFF) != check:
        return None
    return frame_number, sender_id


class SyntheticCamera:
    """A moving colour test pattern with a readable marker (see `read_marker`).

    Each `read` returns the next frame, numbered from ``start_frame`` up (wrapping at
    2^32), carrying ``sender_id`` (0..65535). Frames are drawn at the configured size,
    so they need no resizing. It is never unavailable.
    """

    paced = False

    def __init__(self, sender_id: int = 0, width: int = 320, height: int = 240,
                 fps: float = 15.0, *, start_frame: int = 0) -> None:
        if not 0 <= sender_id <= 0xFFFF:
            raise ValueError("sender_id must be in 0..65535")
        self.sender_id = sender_id
        self.name = f"synthetic camera {sender_id}"
        self.frame_number = start_frame & 0xFFFF_FFFF
        self.width = width
        self.height = height
        self.fps = fps
        self._background: Image | None = None

    def open(self) -> None:
        self._background = None

    def configure(self, width: int, height: int, fps: float) -> None:
        if (width, height) != (self.width, self.height):
            self._background = None
        self.width, self.height, self.fps = width, height, fps

    def close(self) -> None:
        self._background = None

    def _make_background(self) -> Image:
        height, width = self.height, self.width
        rng = np.random.default_rng(self.sender_id)
        y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
        x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
        hue = (self.sender_id * 0.137) % 1.0
        blue = 128 + 100 * np.sin(2 * np.pi * (x + hue))
        green = 128 + 100 * np.sin(2 * np.pi * (y + x / 2 + hue + 1 / 3))
        red = 128 + 100 * np.sin(2 * np.pi * (y - x + hue + 2 / 3))
        image = np.stack(np.broadcast_arrays(blue, green, red), axis=-1)
        # Some texture, so frames weigh what camera frames weigh and span several datagrams.
        # Texture in grains that grow with the size, so that frames weigh about what a
        # webcam's do at each preset and span several datagrams.
        grain = max(2, width // 160)
        grains = rng.normal(0.0, 12.0, size=(-(-height // grain), -(-width // grain), 3))
        image = image + np.repeat(np.repeat(grains, grain, axis=0), grain, axis=1)[
            :height, :width]
        background: Image = np.clip(image, 0, 255).astype(np.uint8)
        return background

    def read(self) -> Image:
        if self._background is None:
            self._background = self._make_background()
        number = self.frame_number
        self.frame_number = (number + 1) & 0xFFFF_FFFF
        height, width = self.height, self.width
        shift = (number * max(1, width // 80)) % width
        frame = np.roll(self._background, shift, axis=1)
        # A moving white box with a black border below the marker.
        band = max(MARKER_ROWS, int(height * MARKER_BAND))
        box = max(4, height // 6)
        span = max(1, width - box)
        left = (number * max(1, width // 40)) % (2 * span)
        left = left if left < span else 2 * span - left
        top = band + (height - band - box) // 2
        frame[top:top + box, left:left + box] = 0
        frame[top + 2:top + box - 2, left + 2:left + box - 2] = 255
        # The marker band.
        rows = _cell_edges(band, MARKER_ROWS)
        cols = _cell_edges(width, MARKER_COLS)
        bits = _marker_bits(number, self.sender_id)
        for index, bit in enumerate(bits):
            r, c = divmod(index, MARKER_COLS)
            frame[rows[r]:rows[r + 1], cols[c]:cols[c + 1]] = 255 if bit else 0
        return frame


# -- audio ---------------------------------------------------------------------------------


class MicrophoneSource:
    """The default (or a chosen) audio input through PyAudio: 16 kHz mono s16, 320-frame
    buffers.

    ``open`` raises `MediaUnavailable` (device ``"microphone"``) when PyAudio is missing,
    PortAudio finds no device, or the device refuses 16 kHz mono.
    """

    paced = True

    def __init__(self, device_index: int | None = None) -> None:
        self.device_index = device_index
        self.name = "microphone" if device_index is None else f"microphone #{device_index}"
        self._pa: Any = None
        self._stream: Any = None

    def open(self) -> None:
        self._pa, self._stream, index = open_pcm_stream(
            "microphone", self.device_index, output=False, rate=SAMPLE_RATE,
            frames_per_buffer=AUDIO_FRAME_SAMPLES)
        logger.info("opened %s (device #%s)", self.name, index)

    def read(self) -> bytes:
        stream = self._stream
        if stream is None:
            raise MediaUnavailable("microphone", "the microphone is not open")
        try:
            data: bytes = stream.read(AUDIO_FRAME_SAMPLES, exception_on_overflow=False)
        except OSError as exc:
            raise MediaUnavailable("microphone", f"the microphone failed: {exc}") from None
        if len(data) != AUDIO_FRAME_BYTES:  # a short read: pad, never send a bad payload
            data = data[:AUDIO_FRAME_BYTES].ljust(AUDIO_FRAME_BYTES, b"\0")
        return data

    def close(self) -> None:
        stream, self._stream = self._stream, None
        pa, self._pa = self._pa, None
        with quiet_stderr():
            if stream is not None:
                try:
                    stream.stop_stream()
                    stream.close()
                except OSError:
                    pass
            if pa is not None:
                pa.terminate()


class ToneSource:
    """A sine tone at ``frequency`` Hz, ``amplitude`` in 0..1 of full scale.

    Phase-continuous across frames, so the tone has no clicks and an FFT over any
    stretch of it shows one clean peak.
    """

    paced = False

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.3) -> None:
        if not 0 < frequency < SAMPLE_RATE / 2:
            raise ValueError(f"frequency must be between 0 and {SAMPLE_RATE // 2} Hz")
        if not 0 <= amplitude <= 1:
            raise ValueError("amplitude must be between 0 and 1")
        self.frequency = frequency
        self.amplitude = amplitude
        self.name = f"{frequency:g} Hz tone"
        self._phase = 0.0
        self._step = 2 * math.pi * frequency / SAMPLE_RATE
        self._ramp = np.arange(AUDIO_FRAME_SAMPLES, dtype=np.float64) * self._step

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def read(self) -> bytes:
        samples = np.sin(self._phase + self._ramp) * (self.amplitude * 32767.0)
        self._phase = (self._phase + self._step * AUDIO_FRAME_SAMPLES) % (2 * math.pi)
        return np.round(samples).astype(_PCM).tobytes()


class WavSource:
    """A WAV file played as 16 kHz mono, looped or followed by silence.

    Any channel count (mixed down), any sample rate (resampled linearly with numpy) and
    8, 16, 24 or 32-bit integer PCM. ``open`` raises `MediaUnavailable` (device
    ``"file"``) when the file is missing or not PCM WAV. With ``loop=False``, silence
    follows the end and ``finished`` becomes True.
    """

    paced = False

    def __init__(self, path: str | Path, loop: bool = True) -> None:
        self.path = Path(path)
        self.loop = loop
        self.name = f"file {self.path.name}"
        self.finished = False
        self._samples: np.ndarray[Any, np.dtype[np.int16]] | None = None
        self._position = 0

    def open(self) -> None:
        self._samples = load_wav(self.path)
        self._position = 0
        self.finished = False

    def close(self) -> None:
        self._samples = None

    def read(self) -> bytes:
        samples = self._samples
        if samples is None:
            raise MediaUnavailable("file", f"{self.path} is not open")
        out = np.zeros(AUDIO_FRAME_SAMPLES, dtype=_PCM)
        filled = 0
        while filled < AUDIO_FRAME_SAMPLES and samples.size:
            if self._position >= samples.size:
                if not self.loop:
                    self.finished = True
                    break
                self._position = 0
            take = min(AUDIO_FRAME_SAMPLES - filled, samples.size - self._position)
            out[filled:filled + take] = samples[self._position:self._position + take]
            filled += take
            self._position += take
        if not self.loop and self._position >= samples.size:
            self.finished = True
        return out.tobytes()


def load_wav(path: Path) -> np.ndarray[Any, np.dtype[np.int16]]:
    """The whole file as 16 kHz mono int16 samples; raises `MediaUnavailable`."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise MediaUnavailable("file", f"{path}: no such file") from None
    except (OSError, EOFError, wave.Error) as exc:
        raise MediaUnavailable("file", f"{path}: not a PCM WAV file ({exc})") from None
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    elif width == 3:
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = bytes3[:, 0] | (bytes3[:, 1] << 8) | (bytes3[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        data = value.astype(np.float64) / 256.0
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float64) / 65536.0
    else:
        raise MediaUnavailable("file", f"{path}: {8 * width}-bit samples are not supported")
    if channels > 1:
        usable = data.size - data.size % channels
        data = data[:usable].reshape(-1, channels).mean(axis=1)
    if rate != SAMPLE_RATE and data.size:
        duration = data.size / rate
        count = max(1, round(duration * SAMPLE_RATE))
        source_times = np.arange(data.size) / rate
        target_times = np.arange(count) / SAMPLE_RATE
        data = np.interp(target_times, source_times, data)
    result: np.ndarray[Any, np.dtype[np.int16]] = np.clip(
        np.round(data), -32768, 32767).astype(np.int16)
    return result
