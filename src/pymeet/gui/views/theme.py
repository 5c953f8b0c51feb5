"""The look: Sun Valley (sv-ttk) light or dark, readable fonts, and the app's own styles.

Fonts: the first of Noto Sans, DejaVu Sans and Liberation Sans that Tk can find (they
cover Vietnamese and most scripts); sv-ttk's Windows font names are mapped onto it.
Every colour the app draws itself (banners, badges, the video area) comes from
`Palette`, so the dark toggle changes them all together.
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from tkinter import font as tkfont
from tkinter import ttk

__all__ = ["PAD", "Palette", "Theme"]

PAD = 12
"""The one spacing unit: gaps between groups; half of it inside groups."""

UI_FAMILIES = ("Noto Sans", "DejaVu Sans", "Liberation Sans", "Cantarell", "Ubuntu")
MONO_FAMILIES = ("Noto Sans Mono", "DejaVu Sans Mono", "Liberation Mono")


@dataclass(frozen=True)
class Palette:
    """Colours the app draws itself."""

    bg: str
    fg: str
    muted: str
    card: str
    border: str
    accent: str
    error: str
    warning_bg: str
    warning_fg: str
    error_bg: str
    ok_bg: str
    ok_fg: str
    info_bg: str
    badge_bg: str
    badge_fg: str
    video_bg: str
    tile_bg: str
    speaking: str
    link: str
    chat_bg: str
    mine: str
    file_card: str
    presenting: str


LIGHT = Palette(
    bg="#fafafa", fg="#1c1c1c", muted="#5f6368", card="#fafafa", border="#d9d9d9",
    accent="#005fb8", error="#c42b1c", warning_bg="#fff4ce", warning_fg="#5c3c00",
    error_bg="#fde7e9", ok_bg="#dff6dd", ok_fg="#0e5a0e", info_bg="#e5f1fb",
    badge_bg="#c42b1c", badge_fg="#ffffff", video_bg="#202124", tile_bg="#2d2e31",
    speaking="#34c759", link="#0b57d0", chat_bg="#ffffff", mine="#005fb8",
    file_card="#f1f5fb", presenting="#1f6feb",
)
DARK = Palette(
    bg="#1c1c1c", fg="#f0f0f0", muted="#a8a8a8", card="#1c1c1c", border="#3d3d3d",
    accent="#57c8ff", error="#ff99a4", warning_bg="#433519", warning_fg="#fce100",
    error_bg="#442726", ok_bg="#393d1b", ok_fg="#6ccb5f", info_bg="#1f3347",
    badge_bg="#e81123", badge_fg="#ffffff", video_bg="#111214", tile_bg="#26272b",
    speaking="#4cd964", link="#8ab4f8", chat_bg="#232323", mine="#57c8ff",
    file_card="#2c3036", presenting="#1f6feb",
)


def _first_family(candidates: tuple[str, ...], available: set[str]) -> str | None:
    for family in candidates:
        if family in available:
            return family
    return None


class Theme:
    """Applies and switches the look of one Tk root."""

    def __init__(self, root: tk.Tk, dark: bool = False) -> None:
        self.root = root
        self.dark = dark
        available = set(tkfont.families(root))
        self.family = _first_family(UI_FAMILIES, available) or tkfont.nametofont(
            "TkDefaultFont").actual("family")
        self.mono = _first_family(MONO_FAMILIES, available) or "TkFixedFont"
        self._listeners: list[Callable[[], None]] = []
        self._setup_fonts()
        self.apply(dark)

    @property
    def palette(self) -> Palette:
        """The colours of the current mode."""
        return DARK if self.dark else LIGHT

    def _setup_fonts(self) -> None:
        family = self.family
        for name, size in (("TkDefaultFont", -14), ("TkTextFont", -14), ("TkMenuFont", -14),
                           ("TkHeadingFont", -14), ("TkCaptionFont", -13),
                           ("TkSmallCaptionFont", -12), ("TkTooltipFont", -13),
                           ("TkIconFont", -14)):
            with contextlib.suppress(tk.TclError):
                tkfont.nametofont(name, self.root).configure(family=family, size=size)
        with_default = {"TkFixedFont": (self.mono, -13)}
        for name, (fam, size) in with_default.items():
            with contextlib.suppress(tk.TclError):
                tkfont.nametofont(name, self.root).configure(family=fam, size=size)
        self.body = tkfont.Font(self.root, family=family, size=-14)
        self.small = tkfont.Font(self.root, family=family, size=-12)
        self.strong = tkfont.Font(self.root, family=family, size=-14, weight="bold")
        self.subtitle = tkfont.Font(self.root, family=family, size=-18, weight="bold")
        self.title = tkfont.Font(self.root, family=family, size=-28, weight="bold")
        self.tile_name = tkfont.Font(self.root, family=family, size=-13, weight="bold")
        self.avatar = tkfont.Font(self.root, family=family, size=-40, weight="bold")
        self.badge = tkfont.Font(self.root, family=family, size=-11, weight="bold")

    def _retarget_sv_fonts(self) -> None:
        # sv-ttk names Windows' Segoe UI; point its named fonts at the family found here.
        for name, size, weight in (("SunValleyCaptionFont", -12, "normal"),
                                   ("SunValleyBodyFont", -14, "normal"),
                                   ("SunValleyBodyStrongFont", -14, "bold"),
                                   ("SunValleyBodyLargeFont", -18, "normal"),
                                   ("SunValleySubtitleFont", -20, "bold"),
                                   ("SunValleyTitleFont", -28, "bold"),
                                   ("SunValleyTitleLargeFont", -40, "bold"),
                                   ("SunValleyDisplayFont", -68, "bold")):
            with contextlib.suppress(tk.TclError):
                self.root.tk.call("font", "configure", name, "-family", self.family,
                                  "-size", size, "-weight", weight)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every switch between light and dark."""
        self._listeners.append(callback)

    def apply(self, dark: bool) -> None:
        """Switch to dark (True) or light (False) and restyle everything."""
        self.dark = dark
        try:
            import sv_ttk

            sv_ttk.set_theme("dark" if dark else "light", self.root)
            self._retarget_sv_fonts()
        except Exception:  # sv-ttk missing or broken: the stock theme still works
            ttk.Style(self.root).theme_use("clam")
        self._styles()
        for callback in list(self._listeners):
            callback()

    def _styles(self) -> None:
        p = self.palette
        style = ttk.Style(self.root)
        style.configure("TLabel", font=self.body)
        style.configure("Muted.TLabel", foreground=p.muted, font=self.body)
        style.configure("Small.TLabel", foreground=p.muted, font=self.small)
        style.configure("Error.TLabel", foreground=p.error, font=self.small)
        style.configure("Title.TLabel", font=self.title)
        style.configure("Subtitle.TLabel", font=self.subtitle)
        style.configure("Strong.TLabel", font=self.strong)
        style.configure("Header.TFrame", background=p.card)
        style.configure("Header.TLabel", background=p.card)
        style.configure("HeaderTitle.TLabel", background=p.card, font=self.subtitle)
        style.configure("HeaderMuted.TLabel", background=p.card, foreground=p.muted)
        style.configure("Video.TFrame", background=p.video_bg)
        style.configure("Treeview", rowheight=30, font=self.body, indent=6)
        style.configure("Heading", font=self.strong)
        # Accent buttons need a readable label whatever the theme does.
        style.configure("Accent.TButton", font=self.strong)
