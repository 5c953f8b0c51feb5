"""Probing the local media hardware without ever crashing.

`probe_devices` answers "what can this machine do?" with a `DeviceReport`: whether
PyAudio is importable, which audio inputs and outputs PortAudio sees, which cameras
OpenCV can open, and a human-readable reason for everything that is missing. Zero
PortAudio devices means "no audio hardware" (TESTING.md).

PortAudio prints dozens of lines of ALSA and JACK noise on stderr while it looks for
devices, and OpenCV warns about every camera it cannot open. `quiet_stderr` silences
file descriptor 2 around such calls; everything here, and the sources and sinks, use it.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pymeet.client.media.errors import MediaUnavailable

__all__ = [
    "AudioDevice",
    "DeviceReport",
    "camera_missing_reason",
    "load_pyaudio",
    "open_pyaudio",
    "probe_audio",
    "probe_cameras",
    "probe_devices",
    "quiet_stderr",
]

logger = logging.getLogger(__name__)

_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_fd: int | None = None

PYAUDIO_MISSING = ("PyAudio is not installed (pip install pyaudio; building it needs the "
                   "portaudio19-dev system package)")
NO_AUDIO_DEVICES = "PortAudio found no audio devices (is there a sound card?)"


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration of the block.

    C libraries (PortAudio's ALSA and JACK probing, OpenCV's camera backends) write
    straight to fd 2, so redirecting ``sys.stderr`` is not enough. Nested and concurrent
    uses are safe: fd 2 is restored when the last one leaves (what other threads write
    to stderr meanwhile is lost too, so keep the block short). Python's own ``sys.stderr``
    is flushed first, so nothing already printed is lost. If the redirection cannot be
    done, the block simply runs with stderr as it is.
    """
    global _quiet_depth, _saved_fd
    with _quiet_lock:
        if _quiet_depth == 0:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                try:
                    _saved_fd = os.dup(2)
                    os.dup2(devnull, 2)
                finally:
                    os.close(devnull)
            except OSError:
                _saved_fd = None
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _saved_fd is not None:
                with contextlib.suppress(OSError):
                    os.dup2(_saved_fd, 2)
                    os.close(_saved_fd)
                _saved_fd = None


def load_pyaudio() -> ModuleType:
    """Import PyAudio; raises `MediaUnavailable` (device ``"microphone"``) when missing."""
    try:
        return importlib.import_module("pyaudio")
    except ImportError:
        raise MediaUnavailable("microphone", PYAUDIO_MISSING) from None


def open_pcm_stream(device: str, device_index: int | None, *, output: bool, rate: int,
                    frames_per_buffer: int) -> tuple[Any, Any, int]:
    """Open a 16-bit mono PortAudio stream: the microphone (``output=False``) or the
    speaker (``output=True``); ``device_index`` None means the system default.

    Returns ``(pyaudio_instance, stream, device_index)``; the caller closes the stream and
    terminates the instance. Raises `MediaUnavailable` (for ``device``) with a sentence a
    person can act on when PyAudio, PortAudio, the device or the format is missing.
    """
    direction = "output" if output else "input"
    pa = open_pyaudio(device)
    try:
        with quiet_stderr():
            count = pa.get_device_count()
        if count == 0:
            raise MediaUnavailable(device, f"no audio {direction} device: PortAudio found "
                                   "no audio devices (is there a sound card?)")
        index = device_index
        if index is None:
            default = (pa.get_default_output_device_info if output
                       else pa.get_default_input_device_info)
            try:
                index = int(default()["index"])
            except (OSError, KeyError):
                raise MediaUnavailable(device, f"no audio {direction} device: PortAudio "
                                       f"has no default {direction}") from None
        elif not 0 <= index < count:
            raise MediaUnavailable(device, f"audio device #{index} does not exist "
                                   f"({count} found)")
        pyaudio = load_pyaudio()
        where = {"output_device_index" if output else "input_device_index": index}
        try:
            with quiet_stderr():
                stream = pa.open(format=pyaudio.paInt16, channels=1, rate=rate,
                                 output=output, input=not output,
                                 frames_per_buffer=frames_per_buffer, **where)
        except (OSError, ValueError) as exc:
            use = "playback" if output else "capture"
            raise MediaUnavailable(device, f"the {device} (#{index}) could not be opened "
                                   f"for {rate // 1000} kHz mono {use}: {exc}") from None
    except BaseException:
        with quiet_stderr():
            pa.terminate()
        raise
    return pa, stream, index


def open_pyaudio(device: str = "microphone") -> Any:
    """A fresh ``pyaudio.PyAudio()`` initialised quietly; the caller terminates it.

    Raises `MediaUnavailable` (for ``device``) when PyAudio is missing or PortAudio
    cannot start.
    """
    try:
        pyaudio = load_pyaudio()
    except MediaUnavailable as exc:
        raise MediaUnavailable(device, str(exc)) from None
    # Without this, libjack tries to launch a JACK server process while probing.
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    try:
        with quiet_stderr():
            return pyaudio.PyAudio()
    except Exception as exc:
        raise MediaUnavailable(device, f"PortAudio could not start: {exc}") from None


@dataclass(frozen=True, slots=True)
class AudioDevice:
    """One PortAudio device as probed."""

    index: int
    name: str
    inputs: int
    outputs: int
    default_rate: float


@dataclass(frozen=True)
class DeviceReport:
    """What media hardware this machine offers, and why anything is missing.

    ``problems`` maps ``"microphone"``, ``"speaker"`` and ``"camera"`` to a sentence
    for the user when that medium is unavailable; a medium absent from it works.
    """

    pyaudio: bool
    audio_inputs: tuple[AudioDevice, ...] = ()
    audio_outputs: tuple[AudioDevice, ...] = ()
    cameras: tuple[int, ...] = ()
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def has_microphone(self) -> bool:
        """True when at least one audio input device exists."""
        return bool(self.audio_inputs)

    @property
    def has_speaker(self) -> bool:
        """True when at least one audio output device exists."""
        return bool(self.audio_outputs)

    @property
    def has_camera(self) -> bool:
        """True when at least one camera could be opened."""
        return bool(self.cameras)

    def summary(self) -> str:
        """Three human-readable lines: microphone, speaker, camera."""
        lines = []
        for medium, found in (("microphone", self.audio_inputs),
                              ("speaker", self.audio_outputs)):
            if found:
                names = ", ".join(f"{d.name} (#{d.index})" for d in found)
                lines.append(f"{medium}: {names}")
            else:
                lines.append(f"{medium}: unavailable: {self.problems.get(medium, 'none found')}")
        if self.cameras:
            lines.append("camera: " + ", ".join(f"#{index}" for index in self.cameras))
        else:
            lines.append(f"camera: unavailable: {self.problems.get('camera', 'none found')}")
        return "\n".join(lines)


def probe_audio() -> tuple[bool, list[AudioDevice], list[AudioDevice], dict[str, str]]:
    """(PyAudio importable, inputs, outputs, problems); never raises."""
    problems: dict[str, str] = {}
    inputs: list[AudioDevice] = []
    outputs: list[AudioDevice] = []
    try:
        pa = open_pyaudio()
    except MediaUnavailable as exc:
        problems["microphone"] = problems["speaker"] = str(exc)
        return "not installed" not in str(exc), inputs, outputs, problems
    try:
        with quiet_stderr():
            count = pa.get_device_count()
            for index in range(count):
                try:
                    info = pa.get_device_info_by_index(index)
                except Exception:  # a device that vanished while probing
                    continue
                device = AudioDevice(index, str(info.get("name", f"device {index}")),
                                     int(info.get("maxInputChannels", 0)),
                                     int(info.get("maxOutputChannels", 0)),
                                     float(info.get("defaultSampleRate", 0.0)))
                if device.inputs > 0:
                    inputs.append(device)
                if device.outputs > 0:
                    outputs.append(device)
    except Exception as exc:
        problems["microphone"] = problems["speaker"] = f"PortAudio failed while probing: {exc}"
    finally:
        with contextlib.suppress(Exception), quiet_stderr():
            pa.terminate()
    if not inputs:
        problems.setdefault("microphone",
                            NO_AUDIO_DEVICES if not outputs else "no audio input device")
    if not outputs:
        problems.setdefault("speaker",
                            NO_AUDIO_DEVICES if not inputs else "no audio output device")
    return True, inputs, outputs, problems


def camera_missing_reason(index: int) -> str:
    """Why camera ``index`` probably cannot be opened, in words for the user."""
    if sys.platform.startswith("linux") and not os.path.exists(f"/dev/video{index}"):
        return f"/dev/video{index} does not exist (no camera attached?)"
    return "it is missing, or in use by another program"


def probe_cameras(indices: Iterable[int] = (0,)) -> tuple[list[int], str | None]:
    """(indices of cameras that open, reason when none does); never raises.

    On Linux an index without a ``/dev/videoN`` node is skipped without asking OpenCV.
    """
    try:
        import cv2
    except ImportError:
        return [], "OpenCV is not installed (pip install opencv-python-headless)"
    found: list[int] = []
    reasons: list[str] = []
    for index in indices:
        if sys.platform.startswith("linux") and not os.path.exists(f"/dev/video{index}"):
            reasons.append(f"camera {index}: {camera_missing_reason(index)}")
            continue
        try:
            with quiet_stderr():
                capture = cv2.VideoCapture(index)
                opened = bool(capture.isOpened())
                capture.release()
        except Exception as exc:
            reasons.append(f"camera {index}: {exc}")
            continue
        if opened:
            found.append(index)
        else:
            reasons.append(f"camera {index}: {camera_missing_reason(index)}")
    return found, (None if found else "; ".join(reasons) or "no camera index was probed")


def probe_devices(*, cameras: Iterable[int] = (0,)) -> DeviceReport:
    """Probe audio devices and the given camera indices; never raises."""
    try:
        has_pyaudio, inputs, outputs, problems = probe_audio()
    except Exception as exc:  # belt and braces: probing must never take the app down
        has_pyaudio, inputs, outputs = False, [], []
        problems = {"microphone": f"probing failed: {exc}", "speaker": f"probing failed: {exc}"}
    try:
        found, camera_problem = probe_cameras(cameras)
    except Exception as exc:
        found, camera_problem = [], f"probing failed: {exc}"
    if camera_problem is not None:
        problems["camera"] = camera_problem
    report = DeviceReport(has_pyaudio, tuple(inputs), tuple(outputs), tuple(found), problems)
    logger.debug("media devices:\n%s", report.summary())
    return report
