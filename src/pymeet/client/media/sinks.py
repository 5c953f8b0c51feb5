"""Where received, mixed audio goes: the speaker, or a recording.

A sink takes 640-byte frames (20 ms of s16le mono at 16 kHz) through ``write``, after
``open`` and until ``close``. ``blocking`` tells the engine whether ``write`` may wait
for the device (it then runs in a writer thread, never on the event loop).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from typing import Any, Protocol

import numpy as np

from pymeet.client.media.devices import open_pcm_stream, quiet_stderr
from pymeet.client.media.errors import MediaUnavailable
from pymeet.client.media.sources import AUDIO_FRAME_SAMPLES, SAMPLE_RATE
from pymeet.protocol.mixer import SILENCE_DBFS

__all__ = ["AudioSink", "RecordingSink", "SpeakerSink"]

logger = logging.getLogger(__name__)


class AudioSink(Protocol):
    """A destination for mixed 20 ms PCM frames."""

    name: str
    blocking: bool

    def open(self) -> None: ...

    def write(self, pcm: bytes) -> None: ...

    def close(self) -> None: ...


class SpeakerSink:
    """The default (or a chosen) audio output through PyAudio, 16 kHz mono s16.

    ``open`` raises `MediaUnavailable` (device ``"speaker"``) when PyAudio is missing,
    PortAudio finds no device, or the device refuses 16 kHz mono.
    """

    blocking = True

    def __init__(self, device_index: int | None = None) -> None:
        self.device_index = device_index
        self.name = "speaker" if device_index is None else f"speaker #{device_index}"
        self._pa: Any = None
        self._stream: Any = None

    def open(self) -> None:
        self._pa, self._stream, index = open_pcm_stream(
            "speaker", self.device_index, output=True, rate=SAMPLE_RATE,
            frames_per_buffer=AUDIO_FRAME_SAMPLES)
        logger.info("opened %s (device #%s)", self.name, index)

    def write(self, pcm: bytes) -> None:
        """Play ``pcm``; blocks while the device buffer is full. Raises `MediaUnavailable`."""
        stream = self._stream
        if stream is None:
            raise MediaUnavailable("speaker", "the speaker is not open")
        try:
            stream.write(pcm, exception_on_underflow=False)
        except OSError as exc:
            raise MediaUnavailable("speaker", f"the speaker failed: {exc}") from None

    def close(self) -> None:
        stream, self._stream = self._stream, None
        pa, self._pa = self._pa, None
        with quiet_stderr():
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.stop_stream()
                    stream.close()
            if pa is not None:
                pa.terminate()


class RecordingSink:
    """Keeps the newest ``max_seconds`` of what was written (all of it when None).

    Thread-safe: the engine writes from the event loop while a test or a bot reads.
    """

    blocking = False

    def __init__(self, max_seconds: float | None = 120.0) -> None:
        self.name = "recording"
        self.max_frames = None if max_seconds is None else max(1, int(max_seconds * 50))
        self._frames: deque[bytes] = deque(maxlen=self.max_frames)
        self._lock = threading.Lock()
        self.frames_written = 0

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def write(self, pcm: bytes) -> None:
        with self._lock:
            self._frames.append(bytes(pcm))
            self.frames_written += 1

    def clear(self) -> None:
        """Forget everything recorded so far (``frames_written`` keeps counting)."""
        with self._lock:
            self._frames.clear()

    def pcm(self, seconds: float | None = None) -> bytes:
        """The recording (or its newest ``seconds``) as s16le bytes."""
        with self._lock:
            frames = list(self._frames)
        if seconds is not None:
            frames = frames[-max(0, int(seconds * 50)):] if seconds > 0 else []
        return b"".join(frames)

    def samples(self, seconds: float | None = None) -> np.ndarray[Any, np.dtype[np.int16]]:
        """The recording (or its newest ``seconds``) as int16 samples."""
        return np.frombuffer(self.pcm(seconds), dtype="<i2").astype(np.int16)

    @property
    def duration(self) -> float:
        """Seconds currently held."""
        with self._lock:
            return len(self._frames) * AUDIO_FRAME_SAMPLES / SAMPLE_RATE

    def level_dbfs(self, seconds: float | None = None) -> float:
        """RMS level in dBFS of the recording (or its newest ``seconds``)."""
        samples = self.samples(seconds).astype(np.float64)
        if samples.size == 0:
            return SILENCE_DBFS
        rms = float(np.sqrt(np.mean(samples * samples))) / 32768.0
        return SILENCE_DBFS if rms <= 0 else max(SILENCE_DBFS, 20 * float(np.log10(rms)))
