"""Small line icons drawn with Pillow at four times their size, then scaled down.

Drawing them here keeps the app free of image files and of emoji (which Tk 8.6
cannot show outside the Basic Multilingual Plane). Icons are made on the Tk thread
and cached per (name, colour, size).
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageTk

__all__ = ["ICON_NAMES", "Icons", "draw_icon"]

SCALE = 4
Drawer = Callable[[ImageDraw.ImageDraw, int, str], None]


def _mic(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    w = max(2, s // 11)
    d.rounded_rectangle((s * 0.36, s * 0.1, s * 0.64, s * 0.58), radius=s * 0.14, fill=c)
    d.arc((s * 0.24, s * 0.28, s * 0.76, s * 0.72), 0, 180, fill=c, width=w)
    d.line((s * 0.5, s * 0.72, s * 0.5, s * 0.88), fill=c, width=w)
    d.line((s * 0.34, s * 0.88, s * 0.66, s * 0.88), fill=c, width=w)


def _slash(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    w = max(2, s // 9)
    d.line((s * 0.16, s * 0.12, s * 0.86, s * 0.9), fill=c, width=w)


def _mic_off(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    _mic(d, s, c)
    _slash(d, s, c)


def _cam(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    d.rounded_rectangle((s * 0.08, s * 0.28, s * 0.66, s * 0.74), radius=s * 0.08, fill=c)
    d.polygon([(s * 0.66, s * 0.44), (s * 0.92, s * 0.3), (s * 0.92, s * 0.72),
               (s * 0.66, s * 0.58)], fill=c)


def _cam_off(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    _cam(d, s, c)
    _slash(d, s, c)


def _lock(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    w = max(2, s // 9)
    d.arc((s * 0.3, s * 0.1, s * 0.7, s * 0.58), 180, 360, fill=c, width=w)
    d.line((s * 0.3 + w / 2, s * 0.34, s * 0.3 + w / 2, s * 0.46), fill=c, width=w)
    d.line((s * 0.7 - w / 2, s * 0.34, s * 0.7 - w / 2, s * 0.46), fill=c, width=w)
    d.rounded_rectangle((s * 0.2, s * 0.44, s * 0.8, s * 0.9), radius=s * 0.08, fill=c)


def _hand(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    finger = s * 0.12
    for i, top in enumerate((0.2, 0.1, 0.14, 0.24)):
        x = s * (0.26 + i * 0.14)
        d.rounded_rectangle((x, s * top, x + finger, s * 0.6), radius=finger / 2, fill=c)
    d.rounded_rectangle((s * 0.26, s * 0.42, s * 0.8, s * 0.9), radius=s * 0.16, fill=c)
    d.rounded_rectangle((s * 0.1, s * 0.46, s * 0.3, s * 0.56), radius=s * 0.05, fill=c)
    d.polygon([(s * 0.12, s * 0.5), (s * 0.26, s * 0.46), (s * 0.34, s * 0.7)], fill=c)


def _person(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    d.ellipse((s * 0.32, s * 0.1, s * 0.68, s * 0.46), fill=c)
    d.pieslice((s * 0.14, s * 0.52, s * 0.86, s * 1.2), 180, 360, fill=c)


def _chat(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    d.rounded_rectangle((s * 0.1, s * 0.14, s * 0.9, s * 0.7), radius=s * 0.14, fill=c)
    d.polygon([(s * 0.26, s * 0.66), (s * 0.44, s * 0.66), (s * 0.22, s * 0.9)], fill=c)


def _gear(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    import math

    cx = cy = s / 2
    for k in range(8):
        a = k * math.pi / 4
        x, y = cx + math.cos(a) * s * 0.34, cy + math.sin(a) * s * 0.34
        d.ellipse((x - s * 0.1, y - s * 0.1, x + s * 0.1, y + s * 0.1), fill=c)
    d.ellipse((s * 0.2, s * 0.2, s * 0.8, s * 0.8), fill=c)
    d.ellipse((s * 0.38, s * 0.38, s * 0.62, s * 0.62), fill=(0, 0, 0, 0))


def _leave(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    w = max(2, s // 9)
    d.line((s * 0.14, s * 0.5, s * 0.7, s * 0.5), fill=c, width=w)
    d.line((s * 0.5, s * 0.3, s * 0.72, s * 0.5), fill=c, width=w)
    d.line((s * 0.5, s * 0.7, s * 0.72, s * 0.5), fill=c, width=w)
    d.line((s * 0.86, s * 0.14, s * 0.86, s * 0.86), fill=c, width=w)


def _send(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    d.polygon([(s * 0.1, s * 0.14), (s * 0.92, s * 0.5), (s * 0.1, s * 0.86),
               (s * 0.22, s * 0.5)], fill=c)


def _plus(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    w = max(2, s // 8)
    d.line((s * 0.5, s * 0.16, s * 0.5, s * 0.84), fill=c, width=w)
    d.line((s * 0.16, s * 0.5, s * 0.84, s * 0.5), fill=c, width=w)


def _dot(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    d.ellipse((s * 0.2, s * 0.2, s * 0.8, s * 0.8), fill=c)


def _screen(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    w = max(2, s // 10)
    d.rounded_rectangle((s * 0.08, s * 0.16, s * 0.92, s * 0.7), radius=s * 0.06, outline=c,
                        width=w)
    d.line((s * 0.5, s * 0.7, s * 0.5, s * 0.84), fill=c, width=w)
    d.line((s * 0.3, s * 0.86, s * 0.7, s * 0.86), fill=c, width=w)


def _file(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    w = max(2, s // 12)
    d.polygon([(s * 0.2, s * 0.06), (s * 0.58, s * 0.06), (s * 0.82, s * 0.3),
               (s * 0.82, s * 0.94), (s * 0.2, s * 0.94)], outline=c, width=w)
    d.line((s * 0.58, s * 0.06, s * 0.58, s * 0.3, s * 0.82, s * 0.3), fill=c, width=w)
    for y in (0.5, 0.64, 0.78):
        d.line((s * 0.32, s * y, s * 0.7, s * y), fill=c, width=max(1, w * 3 // 4))


def _download(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    w = max(2, s // 9)
    d.line((s * 0.5, s * 0.08, s * 0.5, s * 0.62), fill=c, width=w)
    d.polygon([(s * 0.26, s * 0.44), (s * 0.74, s * 0.44), (s * 0.5, s * 0.72)], fill=c)
    d.line((s * 0.14, s * 0.66, s * 0.14, s * 0.88, s * 0.86, s * 0.88, s * 0.86, s * 0.66),
           fill=c, width=w, joint="curve")


def _attach(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    # A paperclip: three straight runs joined by half circles.
    w = max(2, s // 11)
    d.arc((s * 0.26, s * 0.5, s * 0.74, s * 0.94), 0, 180, fill=c, width=w)
    d.line((s * 0.26 + w / 2, s * 0.72, s * 0.26 + w / 2, s * 0.26), fill=c, width=w)
    d.arc((s * 0.26, s * 0.06, s * 0.62, s * 0.42), 180, 360, fill=c, width=w)
    d.line((s * 0.62 - w / 2, s * 0.24, s * 0.62 - w / 2, s * 0.7), fill=c, width=w)
    d.line((s * 0.74 - w / 2, s * 0.72, s * 0.74 - w / 2, s * 0.4), fill=c, width=w)
    d.arc((s * 0.38, s * 0.56, s * 0.62, s * 0.82), 0, 180, fill=c, width=w)
    d.line((s * 0.38 + w / 2, s * 0.69, s * 0.38 + w / 2, s * 0.34), fill=c, width=w)


def _check(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    w = max(2, s // 7)
    d.line((s * 0.14, s * 0.52, s * 0.4, s * 0.78, s * 0.88, s * 0.24), fill=c, width=w,
           joint="curve")


def _warning(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    d.ellipse((s * 0.08, s * 0.08, s * 0.92, s * 0.92), fill=c)
    d.rounded_rectangle((s * 0.44, s * 0.22, s * 0.56, s * 0.6), radius=s * 0.05,
                        fill=(0, 0, 0, 0))
    d.ellipse((s * 0.43, s * 0.66, s * 0.57, s * 0.8), fill=(0, 0, 0, 0))


def _person_remove(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    d.ellipse((s * 0.16, s * 0.12, s * 0.5, s * 0.46), fill=c)
    d.pieslice((s * 0.0, s * 0.54, s * 0.66, s * 1.2), 180, 360, fill=c)
    w = max(2, s // 8)
    d.line((s * 0.64, s * 0.4, s * 0.96, s * 0.4), fill=c, width=w)


def _blank(d: ImageDraw.ImageDraw, s: int, c: str) -> None:
    pass


DRAWERS: dict[str, Drawer] = {
    "blank": _blank,
    "mic": _mic, "mic_off": _mic_off, "cam": _cam, "cam_off": _cam_off, "lock": _lock,
    "hand": _hand, "person": _person, "chat": _chat, "gear": _gear, "leave": _leave,
    "send": _send, "plus": _plus, "dot": _dot, "screen": _screen, "file": _file,
    "download": _download, "attach": _attach, "check": _check, "warning": _warning,
    "person_remove": _person_remove,
}
ICON_NAMES = tuple(DRAWERS)


def draw_icon(name: str, color: str, size: int) -> Image.Image:
    """The icon ``name`` as an RGBA image of ``size`` pixels, in ``color``."""
    big = size * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    DRAWERS[name](ImageDraw.Draw(image), big, color)
    return image.resize((size, size), Image.Resampling.LANCZOS)


class Icons:
    """A cache of Tk images of the icons (Tk thread only)."""

    def __init__(self, master: tk.Misc) -> None:
        self.master = master
        self._cache: dict[tuple[str, str, int], ImageTk.PhotoImage] = {}

    def get(self, name: str, color: str, size: int = 18) -> ImageTk.PhotoImage:
        """The icon as a Tk image (kept alive by the cache)."""
        key = (name, color, size)
        image = self._cache.get(key)
        if image is None:
            image = ImageTk.PhotoImage(draw_icon(name, color, size), master=self.master)
            self._cache[key] = image
        return image
