"""The video grid: one tile per member, laid out anew as members come and go.

A tile is a Canvas: the newest frame (scaled to fit, on the Tk thread), or an avatar
with initials while the camera is off; a name strip with mic and camera marks; a
raised-hand mark; a "Presenting" mark on a shared screen; and a green frame while the
member speaks. Frames arrive through the controller at most once per tile per tick
(the newest one).

While someone else shares a screen, the grid becomes a spotlight: their tile large,
the others in a strip below (`spotlight_layout`).
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Sequence
from tkinter import ttk
from typing import Any

import numpy as np
from PIL import Image, ImageTk

from pymeet.gui.presenters.room import (
    TILE_ASPECT,
    Tile,
    grid_shape,
    spotlight_key,
    spotlight_layout,
)
from pymeet.gui.views.icons import Icons
from pymeet.gui.views.theme import Theme

__all__ = ["VideoGrid", "VideoTile"]

BORDER = 3
GAP = 8


def _fit(frame: np.ndarray[Any, Any], width: int, height: int) -> Image.Image:
    """``frame`` (BGR) scaled to fit ``width`` x ``height``, keeping its shape."""
    import cv2

    fh, fw = frame.shape[:2]
    scale = min(width / fw, height / fh)
    size = (max(1, int(fw * scale)), max(1, int(fh * scale)))
    if size != (fw, fh):
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA if scale < 1
                           else cv2.INTER_LINEAR)
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    return Image.fromarray(rgb)


class VideoTile:
    """One member's tile (see the module docstring)."""

    def __init__(self, master: tk.Misc, theme: Theme, icons: Icons, tile: Tile) -> None:
        self.theme = theme
        self.icons = icons
        self.tile = tile
        p = theme.palette
        self.canvas = tk.Canvas(master, background=p.tile_bg, highlightthickness=0,
                                borderwidth=0, width=320, height=240)
        self.canvas.bind("<Configure>", lambda _e: self.redraw())
        self._frame: np.ndarray[Any, Any] | None = None
        self._photo: ImageTk.PhotoImage | None = None
        self._photo_size: tuple[int, int] | None = None
        self.frames_shown = 0
        self.redraw()

    @property
    def showing_video(self) -> bool:
        """True while a video frame (not the avatar) is shown."""
        return self._frame is not None and self.tile.cam

    def update(self, tile: Tile) -> None:
        """New state for the member (mic, camera, speaking, hand)."""
        if tile == self.tile:
            return
        camera_went_off = self.tile.cam and not tile.cam
        self.tile = tile
        if camera_went_off:
            self._frame = None
        self.redraw()

    def show_frame(self, frame: np.ndarray[Any, Any]) -> None:
        """Draw ``frame`` (BGR). Ignored while the member's camera is off."""
        if not self.tile.cam:
            return
        first = self._frame is None
        self._frame = frame
        self.frames_shown += 1
        if first:
            self.redraw()  # the avatar makes way for the video
        else:
            self._draw_image()

    def _size(self) -> tuple[int, int]:
        return max(1, self.canvas.winfo_width()), max(1, self.canvas.winfo_height())

    def _draw_image(self) -> None:
        canvas = self.canvas
        width, height = self._size()
        if self._frame is None or width < 8 or height < 8:
            canvas.delete("video")
            return
        image = _fit(self._frame, width, height)
        if self._photo is not None and self._photo_size == image.size:
            self._photo.paste(image)
        else:
            self._photo = ImageTk.PhotoImage(image, master=canvas)
            self._photo_size = image.size
            canvas.delete("video")
            canvas.create_image(width // 2, height // 2, image=self._photo, tags="video")
        canvas.coords("video", width // 2, height // 2)
        canvas.tag_lower("video")

    def redraw(self) -> None:
        """Draw everything again (after a resize or a state change)."""
        canvas = self.canvas
        p = self.theme.palette
        canvas.configure(background=p.tile_bg)
        canvas.delete("avatar")
        width, height = self._size()
        if self.showing_video:
            self._draw_image()
        else:
            canvas.delete("video")
            self._photo = None
            self._photo_size = None
            radius = max(18, min(width, height) // 5)
            cx, cy = width // 2, height // 2 - 8
            canvas.create_oval(cx - radius, cy - radius, cx + radius, cy + radius,
                               fill=self.tile.color, outline="", tags="avatar")
            size = max(12, int(radius * 0.8))
            canvas.create_text(cx, cy, text=self.tile.initials, fill="#ffffff",
                               font=(self.theme.family, -size, "bold"), tags="avatar")
        self._draw_overlay()

    def _draw_overlay(self) -> None:
        canvas = self.canvas
        p = self.theme.palette
        canvas.delete("overlay")
        width, height = self._size()
        tile = self.tile
        # Name strip, bottom left: name, then mic and camera marks.
        icon_size = 16
        mic = self.icons.get("mic" if tile.mic else "mic_off",
                             "#ffffff" if tile.mic else "#ff8a80", icon_size)
        cam = self.icons.get("cam" if tile.cam else "cam_off",
                             "#ffffff" if tile.cam else "#ff8a80", icon_size)
        font = self.theme.tile_name
        text_width = font.measure(tile.label)
        strip_h = 28
        x0, y1 = 8, height - 8
        x1 = min(width - 8, x0 + 12 + text_width + 10 + icon_size * 2 + 12)
        canvas.create_rectangle(x0, y1 - strip_h, x1, y1, fill="#18191b", outline="",
                                tags="overlay")
        canvas.create_image(x0 + 8, y1 - strip_h // 2, image=mic, anchor="w",
                            tags="overlay")
        canvas.create_image(x0 + 8 + icon_size + 4, y1 - strip_h // 2, image=cam,
                            anchor="w", tags="overlay")
        canvas.create_text(x0 + 8 + icon_size * 2 + 12, y1 - strip_h // 2, text=tile.label,
                           anchor="w", fill="#ffffff", font=font, tags="overlay")
        if tile.hand:
            hand = self.icons.get("hand", "#ffd54f", 22)
            canvas.create_oval(8, 8, 42, 42, fill="#18191b", outline="", tags="overlay")
            canvas.create_image(25, 25, image=hand, tags=("overlay", "hand"))
        if tile.screen:
            # Bottom right, level with the name strip: the top of a shared screen (its
            # title bar, menus) stays visible.
            label = tile.presenting_label
            screen = self.icons.get("screen", "#ffffff", icon_size)
            pill_w = 8 + icon_size + 6 + font.measure(label) + 10
            right = width - 8
            left = max(x1 + 8, right - pill_w)
            canvas.create_rectangle(left, y1 - strip_h, right, y1, fill=p.presenting,
                                    outline="", tags=("overlay", "presenting"))
            canvas.create_image(left + 8, y1 - strip_h // 2, image=screen, anchor="w",
                                tags="overlay")
            canvas.create_text(left + 8 + icon_size + 6, y1 - strip_h // 2, text=label,
                               anchor="w", fill="#ffffff", font=font,
                               tags=("overlay", "presenting"))
        if tile.speaking:
            canvas.create_rectangle(BORDER // 2 + 1, BORDER // 2 + 1,
                                    width - BORDER // 2 - 1, height - BORDER // 2 - 1,
                                    outline=p.speaking, width=BORDER, tags="overlay")
        canvas.tag_raise("overlay")

    def marks(self) -> set[str]:
        """The marks drawn on the tile now: ``hand``, ``presenting`` (tests)."""
        return {tag for item in self.canvas.find_withtag("overlay")
                for tag in self.canvas.gettags(item) if tag in ("hand", "presenting")}

    def video_bbox(self) -> tuple[int, int, int, int] | None:
        """Where the video frame is on the screen (left, top, right, bottom), if shown."""
        if not self.showing_video or self._photo_size is None:
            return None
        width, height = self._size()
        fw, fh = self._photo_size
        left = self.canvas.winfo_rootx() + width // 2 - fw // 2
        top = self.canvas.winfo_rooty() + height // 2 - fh // 2
        return left, top, left + fw, top + fh

    def destroy(self) -> None:
        """Remove the tile."""
        self.canvas.destroy()


class VideoGrid(ttk.Frame):
    """The tiles of a room, in the largest grid that fits (`grid_shape`)."""

    def __init__(self, master: tk.Misc, theme: Theme, icons: Icons) -> None:
        super().__init__(master, style="Video.TFrame")
        self.theme = theme
        self.icons = icons
        self.tiles: dict[str, VideoTile] = {}
        self._order: list[str] = []
        self._shape: tuple[int, int] = (0, 0)
        self._spotlight: str | None = None
        self.bind("<Configure>", lambda _e: self._layout())
        theme.on_change(self._restyle)

    def _restyle(self) -> None:
        for tile in self.tiles.values():
            tile.redraw()

    def sync(self, tiles: Sequence[Tile]) -> None:
        """Make the tiles match ``tiles`` (added, removed, updated, reordered)."""
        keys = [tile.key for tile in tiles]
        for key in [k for k in self.tiles if k not in keys]:
            self.tiles.pop(key).destroy()
        for tile in tiles:
            existing = self.tiles.get(tile.key)
            if existing is None:
                self.tiles[tile.key] = VideoTile(self, self.theme, self.icons, tile)
            else:
                existing.update(tile)
        spotlight = spotlight_key(tiles)
        if keys != self._order or spotlight != self._spotlight:
            self._order = keys
            self._spotlight = spotlight
            self._layout()

    def show_frame(self, key: str, frame: np.ndarray[Any, Any]) -> bool:
        """Draw ``frame`` on tile ``key``; False when there is no such tile."""
        tile = self.tiles.get(key)
        if tile is None:
            return False
        tile.show_frame(frame)
        return True

    def _layout(self) -> None:
        """Place the tiles: as large as fits at `TILE_ASPECT`, the block centred, and a
        last row with fewer tiles centred too (as meeting apps do); or the spotlight."""
        width = max(1, self.winfo_width())
        height = max(1, self.winfo_height())
        if self._spotlight is not None and self._spotlight in self.tiles:
            others = [key for key in self._order if key != self._spotlight]
            main, strip = spotlight_layout(len(others), width, height, GAP)
            self._shape = (len(others), 1)
            for key, rect in ((self._spotlight, main), *zip(others, strip, strict=True)):
                self.tiles[key].canvas.place(x=rect.x, y=rect.y, width=rect.width,
                                             height=rect.height)
            return
        count = len(self._order)
        columns, rows = grid_shape(count, width - GAP, height - GAP)
        self._shape = (columns, rows)
        if not count:
            return
        tile_w = min((width - GAP * (columns + 1)) / columns,
                     (height - GAP * (rows + 1)) / rows * TILE_ASPECT)
        tile_w = max(tile_w, 40.0)
        tile_h = tile_w / TILE_ASPECT
        top = (height - (rows * tile_h + (rows - 1) * GAP)) / 2
        for row in range(rows):
            keys = self._order[row * columns:(row + 1) * columns]
            row_w = len(keys) * tile_w + (len(keys) - 1) * GAP
            left = (width - row_w) / 2
            for index, key in enumerate(keys):
                self.tiles[key].canvas.place(x=int(left + index * (tile_w + GAP)),
                                             y=int(top + row * (tile_h + GAP)),
                                             width=int(tile_w), height=int(tile_h))

    @property
    def shape(self) -> tuple[int, int]:
        """(columns, rows) of the current layout (of the strip, in the spotlight)."""
        return self._shape

    @property
    def spotlight(self) -> str | None:
        """The key of the tile shown large (a shared screen), if any."""
        return self._spotlight if self._spotlight in self.tiles else None

