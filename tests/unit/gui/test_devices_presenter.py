from __future__ import annotations

from dataclasses import dataclass, field

from pymeet.gui.presenters.devices import Control, DevicesPresenter, MediaChoice


@dataclass
class Device:
    index: int
    name: str


@dataclass
class Report:
    audio_inputs: tuple[Device, ...] = ()
    audio_outputs: tuple[Device, ...] = ()
    cameras: tuple[int, ...] = ()
    problems: dict[str, str] = field(default_factory=dict)


NOTHING = Report(problems={"microphone": "PortAudio found no audio devices",
                           "speaker": "PortAudio found no audio devices",
                           "camera": "camera 0: /dev/video0 does not exist; "
                                     "camera 1: /dev/video1 does not exist"})


def test_without_hardware_every_control_says_why() -> None:
    d = DevicesPresenter()
    assert not d.camera().available and "Looking" in d.camera().reason
    d.set_report(NOTHING)
    assert d.camera() == Control(False, "No camera: camera 0: /dev/video0 does not exist.",
                                 "No camera found.")
    assert not d.microphone().available and "No microphone" in d.microphone().reason
    assert d.microphone().short == "No microphone found."
    assert not d.speaker().available and "will not hear" in d.speaker().reason
    assert d.unavailable_summary() == [
        "Camera: camera 0: /dev/video0 does not exist.",
        "Microphone: PortAudio found no audio devices.",
        "Speaker: PortAudio found no audio devices."]


def test_synthetic_media_needs_no_hardware() -> None:
    d = DevicesPresenter(choice=MediaChoice.synthetic())
    d.set_report(NOTHING)
    assert d.camera().available and "test pattern" in d.camera().reason
    assert d.microphone().available and "tone" in d.microphone().reason


def test_real_devices_and_engine_problems() -> None:
    d = DevicesPresenter(choice=MediaChoice("camera:1", "device:3", "default"))
    d.set_report(Report(audio_inputs=(Device(3, "USB mic"),),
                        audio_outputs=(Device(4, "Speakers"),), cameras=(1,)))
    assert d.camera().available and d.camera().reason == "Camera 1."
    assert d.microphone().reason == "Microphone: USB mic."
    assert d.speaker().reason == "Speaker: the default device."
    d.set_problems({"camera": "camera 1 is in use"})
    assert not d.camera().available and "in use" in d.camera().reason
    assert d.camera().short == "The camera stopped working."
    d.set_problems({})
    d.choice = MediaChoice("camera:0", "device:3", "default")
    assert d.camera().short == "Camera 0 not found."
    assert d.camera_options() == [("Test pattern (no camera needed)", "synthetic"),
                                  ("Camera 1", "camera:1")]
    assert ("USB mic", "device:3") in d.microphone_options()
    assert d.speaker_options()[0] == ("No sound", "none")


def test_choice_indices() -> None:
    choice = MediaChoice("camera:2", "device:5", "none")
    assert (choice.camera_index, choice.microphone_index, choice.speaker_index) == (2, 5, None)
    assert MediaChoice.synthetic().camera_index is None


def test_screen_sharing_says_why_it_cannot_be_used() -> None:
    d = DevicesPresenter(choice=MediaChoice("camera:0", "default", "default"))
    assert not d.screen().available and "Checking" in d.screen().reason
    assert d.screen().short == "", "no hint while still checking"
    d.set_screen_probe("screen capture needs the mss package (pip install mss)")
    assert d.screen() == Control(
        False, "Screen sharing unavailable: screen capture needs the mss package "
               "(pip install mss).", "Screen sharing is unavailable.")
    d.set_screen_probe(None)
    assert d.screen().available and "whole screen" in d.screen().reason
    d.set_problems({"screen": "screen capture stopped: XGetImage failed"})
    assert not d.screen().available and "XGetImage" in d.screen().reason
    assert d.screen().short == "Screen sharing stopped working."


def test_synthetic_media_shares_a_test_slide() -> None:
    d = DevicesPresenter(choice=MediaChoice.synthetic())
    assert d.screen().available and "test slide" in d.screen().reason
    d.set_screen_probe("there is no display to share (DISPLAY is not set)")
    assert d.screen().available, "the slide needs no display"
