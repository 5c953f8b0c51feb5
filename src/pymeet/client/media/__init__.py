"""The client media engine: sources, sinks, the media transport and the engine.

Importing this package needs numpy (the ``client`` extra); OpenCV and PyAudio are
imported only when a camera, JPEG coding or an audio device is actually used, and
their absence is reported as `MediaUnavailable`, never as a crash.

::

    engine = MediaEngine(client, video_source=SyntheticCamera(7), audio_source=ToneSource(440),
                         speaker=RecordingSink(), on_frame=show)
    await engine.start()
    await engine.set_cam(True)
    await engine.set_mic(True)
"""

from __future__ import annotations

from pymeet.client.media.devices import DeviceReport, probe_devices, quiet_stderr
from pymeet.client.media.engine import (
    PRESETS,
    FrameCallback,
    LevelCallback,
    MediaEngine,
    VideoPreset,
    decode_jpeg,
    encode_jpeg,
)
from pymeet.client.media.errors import MediaUnavailable
from pymeet.client.media.screen import ScreenSource, SyntheticScreen
from pymeet.client.media.sinks import AudioSink, RecordingSink, SpeakerSink
from pymeet.client.media.sources import (
    AudioSource,
    CameraSource,
    MicrophoneSource,
    SyntheticCamera,
    ToneSource,
    VideoSource,
    WavSource,
    read_marker,
)
from pymeet.client.media.stats import MediaStats
from pymeet.client.media.transport import MediaTransport

__all__ = [
    "PRESETS",
    "AudioSink",
    "AudioSource",
    "CameraSource",
    "DeviceReport",
    "FrameCallback",
    "LevelCallback",
    "MediaEngine",
    "MediaStats",
    "MediaTransport",
    "MediaUnavailable",
    "MicrophoneSource",
    "RecordingSink",
    "ScreenSource",
    "SpeakerSink",
    "SyntheticCamera",
    "SyntheticScreen",
    "ToneSource",
    "VideoPreset",
    "VideoSource",
    "WavSource",
    "decode_jpeg",
    "encode_jpeg",
    "probe_devices",
    "quiet_stderr",
    "read_marker",
]
