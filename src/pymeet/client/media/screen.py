"""Screen sources: what a member shares instead of the camera.

A shared screen travels exactly like camera video (§4.2 kind 4: JPEG frames,
fragmented, relayed, reassembled); only the source and the preset differ — more pixels,
fewer frames per second (`SCREEN_PRESET` in engine.py).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from pymeet.client.media.errors import MediaUnavailable
from pymeet.client.media.sources import Image, SyntheticCamera

logger = logging.getLogger(__name__)


class ScreenSource:
    """The screen through ``mss``: one monitor (1 = the first; 0 = all of them).

    ``open`` raises `MediaUnavailable` (device ``"screen"``) without mss or without a
    display to capture. Frames are returned at the capture size; the engine scales them
    to the preset, keeping the aspect ratio.
    """

    paced = False

    def __init__(self, monitor: int = 1, width: int = 1280, height: int = 720,
                 fps: float = 5.0) -> None:
        self.monitor = monitor
        self.width, self.height, self.fps = width, height, fps
        self.name = f"screen {monitor}"
        self._grabber: Any = None
        self._area: dict[str, int] | None = None

    def open(self) -> None:
        try:
            import mss
        except ImportError:
            raise MediaUnavailable("screen", "screen capture needs the mss package "
                                   "(pip install mss)") from None
        if os.name == "posix" and not os.environ.get("DISPLAY") \
                and not os.environ.get("WAYLAND_DISPLAY"):
            raise MediaUnavailable("screen", "there is no display to share "
                                   "(DISPLAY is not set)")
        try:
            # mss 10 names the class MSS; older releases only have the mss() factory.
            grabber = mss.MSS() if hasattr(mss, "MSS") else mss.mss()
            monitors = grabber.monitors
        except Exception as exc:  # mss raises its own ScreenShotError and OSErrors
            raise MediaUnavailable("screen", f"the screen cannot be captured: {exc}") from None
        if not 0 <= self.monitor < len(monitors):
            grabber.close()
            raise MediaUnavailable("screen", f"there is no monitor {self.monitor} "
                                   f"({len(monitors) - 1} found)")
        self._grabber, self._area = grabber, dict(monitors[self.monitor])
        logger.info("sharing %s (%dx%d)", self.name, self._area["width"],
                    self._area["height"])

    def configure(self, width: int, height: int, fps: float) -> None:
        self.width, self.height, self.fps = width, height, fps

    def read(self) -> Image | None:
        if self._grabber is None or self._area is None:
            raise MediaUnavailable("screen", f"{self.name} is not open")
        try:
            shot = self._grabber.grab(self._area)
        except Exception as exc:
            raise MediaUnavailable("screen", f"screen capture stopped: {exc}") from None
        bgra = np.frombuffer(shot.bgra, dtype=np.uint8).reshape(shot.height, shot.width, 4)
        image: Image = np.ascontiguousarray(bgra[:, :, :3])
        return image

    def close(self) -> None:
        grabber, self._grabber = self._grabber, None
        if grabber is not None:
            grabber.close()


class SyntheticScreen(SyntheticCamera):
    """A slide-like test screen with the same readable marker as `SyntheticCamera`, for
    demos and tests of screen sharing without a display."""

    def __init__(self, sender_id: int = 0, width: int = 1280, height: int = 720,
                 fps: float = 5.0, *, start_frame: int = 0) -> None:
        super().__init__(sender_id, width, height, fps, start_frame=start_frame)
        self.name = f"synthetic screen {sender_id}"

    def _make_background(self) -> Image:
        height, width = self.height, self.width
        slide: Image = np.full((height, width, 3), 245, dtype=np.uint8)
        slide[: height // 3] = (120, 60, 20)  # a title band (under the marker)
        rng = np.random.default_rng(self.sender_id + 1)
        line, margin = max(6, height // 24), width // 12
        for top in range(height // 3 + line, height - line, 2 * line):
            length = int(width * rng.uniform(0.35, 0.8))
            slide[top : top + line // 2, margin : margin + length] = (60, 60, 60)
        return slide
