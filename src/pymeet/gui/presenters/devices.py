"""Which media controls work, which device each uses, and why one is disabled.

A machine without a camera, a microphone, a sound card or PyAudio still runs the app:
the matching control is disabled and says why, in words (the reasons come from
`pymeet.client.media.probe_devices` and from the engine's ``problems``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "DEFAULT",
    "NONE",
    "SYNTHETIC",
    "TONE",
    "Control",
    "DevicesPresenter",
    "MediaChoice",
]

SYNTHETIC = "synthetic"
TONE = "tone"
DEFAULT = "default"
NONE = "none"


class _Device(Protocol):
    index: int
    name: str


class _Report(Protocol):
    audio_inputs: Sequence[_Device]
    audio_outputs: Sequence[_Device]
    cameras: Sequence[int]
    problems: Mapping[str, str]


@dataclass(frozen=True)
class MediaChoice:
    """The devices a session uses.

    ``camera``: ``"synthetic"`` or ``"camera:N"``; ``microphone``: ``"tone"``,
    ``"default"`` or ``"device:N"``; ``speaker``: ``"none"``, ``"default"`` or
    ``"device:N"``.
    """

    camera: str = "camera:0"
    microphone: str = DEFAULT
    speaker: str = DEFAULT

    @classmethod
    def synthetic(cls) -> MediaChoice:
        """A test pattern and a beeping tone (demos, tests); no speaker."""
        return cls(SYNTHETIC, TONE, DEFAULT)

    @property
    def camera_index(self) -> int | None:
        """The OpenCV camera index, or None for the test pattern."""
        return _index(self.camera)

    @property
    def microphone_index(self) -> int | None:
        """The PortAudio input index (None: the default device or the tone)."""
        return _index(self.microphone)

    @property
    def speaker_index(self) -> int | None:
        """The PortAudio output index (None: the default device, or none)."""
        return _index(self.speaker)


def _index(value: str) -> int | None:
    _, sep, number = value.partition(":")
    return int(number) if sep and number.isdigit() else None


@dataclass(frozen=True)
class Control:
    """A media control's state: whether it can be used, a sentence saying why (for a
    tooltip) and a few words for the hint line under the controls."""

    available: bool
    reason: str
    short: str = ""


def _first(reason: str) -> str:
    """The first of several "; "-joined reasons, without its final full stop."""
    return reason.split("; ")[0].rstrip(".")


@dataclass
class DevicesPresenter:
    """Device availability and choices (see the module docstring)."""

    choice: MediaChoice = field(default_factory=MediaChoice)
    report: _Report | None = None
    problems: dict[str, str] = field(default_factory=dict)
    """What the media engine found broken while using a device (medium -> why)."""
    screen_probed: bool = False
    screen_problem: str | None = None
    """Why this machine's screen cannot be captured (None when it can)."""

    def set_report(self, report: _Report) -> None:
        """The result of probing the machine."""
        self.report = report

    def set_problems(self, problems: Mapping[str, Any]) -> None:
        """The engine's ``problems`` (replaces the previous ones)."""
        self.problems = {str(k): str(v) for k, v in problems.items()}

    def set_screen_probe(self, problem: str | None) -> None:
        """The result of trying to capture the screen once (None: it works)."""
        self.screen_probed = True
        self.screen_problem = problem

    # -- the controls ----------------------------------------------------------------

    def screen(self) -> Control:
        """The Share-screen button. With the test pattern as camera (``--synthetic-media``)
        a test slide is shared instead of the screen."""
        if "screen" in self.problems:
            return Control(False, f"Screen sharing unavailable: {_first(self.problems['screen'])}.",
                           "Screen sharing stopped working.")
        if self.choice.camera == SYNTHETIC:
            return Control(True, "Shares a test slide instead of your screen.")
        if not self.screen_probed:
            return Control(False, "Checking whether the screen can be shared…")
        if self.screen_problem:
            return Control(False, f"Screen sharing unavailable: {_first(self.screen_problem)}.",
                           "Screen sharing is unavailable.")
        return Control(True, "Shares your whole screen with the room.")

    def camera(self) -> Control:
        """The camera button."""
        if "camera" in self.problems:
            return Control(False, f"Camera unavailable: {_first(self.problems['camera'])}.",
                           "The camera stopped working.")
        if self.choice.camera == SYNTHETIC:
            return Control(True, "Sending a test pattern instead of a camera.")
        if self.report is None:
            return Control(False, "Looking for cameras…", "Looking for cameras…")
        index = self.choice.camera_index
        if index in self.report.cameras:
            return Control(True, f"Camera {index}.")
        if self.report.cameras:
            return Control(False, f"Camera {index} was not found. Choose another one "
                                  "under Devices.", f"Camera {index} not found.")
        reason = _first(self.report.problems.get("camera") or "none was found")
        return Control(False, f"No camera: {reason}.", "No camera found.")

    def microphone(self) -> Control:
        """The microphone button."""
        if "microphone" in self.problems:
            return Control(False, "Microphone unavailable: "
                                  f"{_first(self.problems['microphone'])}.",
                           "The microphone stopped working.")
        if self.choice.microphone == TONE:
            return Control(True, "Sending a test tone instead of a microphone.")
        if self.report is None:
            return Control(False, "Looking for microphones…", "Looking for microphones…")
        if not self.report.audio_inputs:
            reason = _first(self.report.problems.get("microphone") or "none was found")
            return Control(False, f"No microphone: {reason}.", "No microphone found.")
        return Control(True, f"Microphone: {self._device_name(self.choice.microphone, True)}.")

    def speaker(self) -> Control:
        """The speaker (what plays what others say)."""
        if "speaker" in self.problems:
            return Control(False, f"Speaker unavailable: {_first(self.problems['speaker'])}.",
                           "The speaker stopped working: you will not hear others.")
        if self.choice.speaker == NONE:
            return Control(False, "Sound from others is not played (no speaker chosen).",
                           "Sound is off.")
        if self.report is None:
            return Control(False, "Looking for speakers…", "Looking for speakers…")
        if not self.report.audio_outputs:
            reason = _first(self.report.problems.get("speaker") or "none was found")
            return Control(False, f"No speaker: {reason}. You will not hear others.",
                           "No speaker found: you will not hear others.")
        return Control(True, f"Speaker: {self._device_name(self.choice.speaker, False)}.")

    def _device_name(self, value: str, inputs: bool) -> str:
        if value == DEFAULT:
            return "the default device"
        index = _index(value)
        devices = (self.report.audio_inputs if inputs else self.report.audio_outputs
                   ) if self.report else ()
        for device in devices:
            if device.index == index:
                return device.name
        return f"device {index}"

    # -- the chooser -----------------------------------------------------------------

    def camera_options(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the camera chooser."""
        options = [("Test pattern (no camera needed)", SYNTHETIC)]
        for index in self.report.cameras if self.report else ():
            options.append((f"Camera {index}", f"camera:{index}"))
        return options

    def microphone_options(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the microphone chooser."""
        options = [("Test tone (no microphone needed)", TONE)]
        inputs = self.report.audio_inputs if self.report else ()
        if inputs:
            options.append(("Default microphone", DEFAULT))
        for device in inputs:
            options.append((device.name, f"device:{device.index}"))
        return options

    def speaker_options(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the speaker chooser."""
        options = [("No sound", NONE)]
        outputs = self.report.audio_outputs if self.report else ()
        if outputs:
            options.append(("Default speaker", DEFAULT))
        for device in outputs:
            options.append((device.name, f"device:{device.index}"))
        return options

    def unavailable_summary(self) -> list[str]:
        """One sentence per missing device, for the device chooser."""
        if self.report is None:
            return ["Still looking for devices…"]
        lines = []
        for medium, label in (("camera", "Camera"), ("microphone", "Microphone"),
                              ("speaker", "Speaker")):
            reason = self.problems.get(medium) or self.report.problems.get(medium)
            if reason:
                lines.append(f"{label}: {_first(reason)}.")
        return lines
