"""Mixing and measuring 16-bit PCM audio (PROTOCOL.md §4.4: all speakers mixed).

Every buffer here is s16le mono, the audio payload format of §4.2. This module needs
numpy (the ``client`` extra); nothing else in `pymeet.protocol` imports it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

FRAME_BYTES = 640  # one 20 ms frame at 16 kHz (§4.2)
FULL_SCALE = 32768.0
SILENCE_DBFS = -96.0
"""`level_dbfs` of digital silence: the floor of 16-bit audio (about 6 dB per bit)."""
SPEAKING_THRESHOLD_DBFS = -40.0
"""A frame louder than this counts as speech for the speaking indicator."""

_PCM = np.dtype("<i2")
_INT16_MIN = -32768
_INT16_MAX = 32767


def _samples(pcm: bytes) -> np.ndarray[tuple[int], np.dtype[np.int16]]:
    if len(pcm) % 2:
        raise ValueError(f"s16le audio has an even length, not {len(pcm)}")
    return np.frombuffer(pcm, dtype=_PCM)


def mix(frames: Sequence[bytes]) -> bytes:
    """Sum equal-length s16le frames sample by sample, clipping to the int16 range.

    The sum is computed in int32, so it never wraps around. One frame comes back
    unchanged. No frames at all give one 20 ms frame of silence (640 zero bytes), so a
    playout tick with nobody speaking still has something to play. Raises ValueError
    when the frames differ in length or one has an odd length.
    """
    if not frames:
        return bytes(FRAME_BYTES)
    size = len(frames[0])
    if any(len(frame) != size for frame in frames):
        raise ValueError("frames to mix must all have the same length")
    if len(frames) == 1:
        _samples(frames[0])
        return bytes(frames[0])
    total = np.zeros(size // 2, dtype=np.int32)
    for frame in frames:
        total += _samples(frame)
    return np.clip(total, _INT16_MIN, _INT16_MAX).astype(_PCM).tobytes()


def level(pcm: bytes) -> float:
    """RMS level of ``pcm`` in 0..1, where 1 is a full-scale square wave; 0 when empty."""
    samples = _samples(pcm)
    if samples.size == 0:
        return 0.0
    squares = np.square(samples, dtype=np.float64)
    return min(1.0, math.sqrt(float(squares.mean())) / FULL_SCALE)


def level_dbfs(pcm: bytes) -> float:
    """RMS level in dBFS (0 for a full-scale square wave, about −3 for a full-scale sine).

    Never below `SILENCE_DBFS`, which is what digital silence and empty input return.
    """
    rms = level(pcm)
    if rms <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(rms))


def is_speaking(pcm: bytes, threshold_dbfs: float = SPEAKING_THRESHOLD_DBFS) -> bool:
    """True when ``pcm`` is louder than ``threshold_dbfs``: drives speaking indicators."""
    return level_dbfs(pcm) > threshold_dbfs
