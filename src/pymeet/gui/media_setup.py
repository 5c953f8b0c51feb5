"""The sources and sink a room session uses, and taps that let the GUI see them.

`MediaEngine` has no callback for what *this* side captures, so the GUI wraps its
sources: `PreviewTap` hands each captured camera or screen frame to a mailbox (the own
preview tile) and `LevelTap` measures each microphone frame (the own speaking
indicator). Both run in the engine's capture threads and only ever touch a
thread-safe `Mailbox`.
"""

from __future__ import annotations

import binascii
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from pymeet.client.media import (
    AudioSink,
    AudioSource,
    CameraSource,
    MediaUnavailable,
    MicrophoneSource,
    ScreenSource,
    SpeakerSink,
    SyntheticCamera,
    SyntheticScreen,
    ToneSource,
    VideoSource,
)
from pymeet.gui.bridge import Mailbox
from pymeet.gui.presenters.devices import NONE, SYNTHETIC, TONE, MediaChoice
from pymeet.protocol.mixer import SPEAKING_THRESHOLD_DBFS, level

__all__ = ["SELF", "BeepingTone", "LevelTap", "MediaSet", "PreviewTap", "build_media",
           "probe_screen"]

SELF = ""
"""The mailbox key of this side's own preview frame and level."""

Image = np.ndarray[Any, np.dtype[np.uint8]]


def sender_id(username: str) -> int:
    """The id a synthetic camera draws for ``username`` (as `pymeet bot` does)."""
    return binascii.crc_hqx(username.casefold().encode(), 0) or 1


class PreviewTap:
    """A `VideoSource` that also posts every frame it reads to ``mailbox[SELF]``."""

    def __init__(self, source: VideoSource, mailbox: Mailbox[str, Image]) -> None:
        self.source = source
        self.mailbox = mailbox
        self.name = source.name
        self.paced = source.paced

    def open(self) -> None:
        self.source.open()

    def read(self) -> Image | None:
        frame = self.source.read()
        if frame is not None:
            self.mailbox.put(SELF, frame)
        return frame

    def close(self) -> None:
        self.source.close()

    def configure(self, width: int, height: int, fps: float) -> None:
        self.source.configure(width, height, fps)


class LevelTap:
    """An `AudioSource` that also posts each frame's level to ``mailbox[SELF]`` as
    ``(level 0..1, speaking)``."""

    def __init__(self, source: AudioSource,
                 mailbox: Mailbox[str, tuple[float, bool]]) -> None:
        self.source = source
        self.mailbox = mailbox
        self.name = source.name
        self.paced = source.paced

    def open(self) -> None:
        self.source.open()

    def read(self) -> bytes:
        pcm = self.source.read()
        rms = level(pcm)
        dbfs = 20 * float(np.log10(rms)) if rms > 0 else -96.0
        self.mailbox.put(SELF, (rms, dbfs > SPEAKING_THRESHOLD_DBFS))
        return pcm

    def close(self) -> None:
        self.source.close()


class BeepingTone:
    """A tone that sounds for ``on`` seconds in every ``period``: a demo "voice" whose
    speaking indicator visibly comes and goes."""

    paced = False

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.2,
                 on: float = 0.8, period: float = 2.0) -> None:
        self._tone = ToneSource(frequency, amplitude)
        self.name = f"test tone ({frequency:g} Hz)"
        self._on = on
        self._period = period
        self._silence = bytes(640)

    def open(self) -> None:
        self._tone.open()

    def read(self) -> bytes:
        pcm = self._tone.read()
        return pcm if time.monotonic() % self._period < self._on else self._silence

    def close(self) -> None:
        self._tone.close()


@dataclass(frozen=True)
class MediaSet:
    """What a `MediaEngine` is built with."""

    video: VideoSource
    screen: VideoSource
    audio: AudioSource
    speaker: AudioSink | None


def probe_screen() -> str | None:
    """Why the screen cannot be shared here, or None when one frame could be captured.
    Blocks briefly: call it in a worker thread."""
    source = ScreenSource()
    try:
        source.open()
        source.read()
    except MediaUnavailable as exc:
        return str(exc)
    except Exception as exc:  # a broken capture backend is "unavailable", not a crash
        return f"the screen cannot be captured: {exc}"
    finally:
        source.close()
    return None


def build_media(choice: MediaChoice, username: str, *, have_speaker: bool,
                frames: Mailbox[str, Image], levels: Mailbox[str, tuple[float, bool]]
                ) -> MediaSet:
    """The camera, screen and microphone sources (tapped for the GUI) and the speaker.

    With the test pattern as camera, the screen is a test slide (`SyntheticScreen`)
    too. A real device that turns out to be missing is still returned: the engine then
    reports why in its ``problems`` and keeps that medium off.
    """
    video: VideoSource
    screen: VideoSource
    if choice.camera == SYNTHETIC:
        video = SyntheticCamera(sender_id(username))
        screen = SyntheticScreen(sender_id(username))
    else:
        video = CameraSource(choice.camera_index or 0)
        screen = ScreenSource()
    audio: AudioSource
    if choice.microphone == TONE:
        audio = BeepingTone()
    else:
        audio = MicrophoneSource(choice.microphone_index)
    speaker: AudioSink | None = None
    if choice.speaker != NONE and have_speaker:
        speaker = SpeakerSink(choice.speaker_index)
    return MediaSet(PreviewTap(video, frames), PreviewTap(screen, frames),
                    LevelTap(audio, levels), speaker)
