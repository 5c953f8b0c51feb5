"""The main window after login: a header, a banner strip, the content and a side panel.

::

    ┌ PyMeet · Lobby ───────────────────── alice · Dark mode · Log out ┐
    │ (banner: "Connection lost. Reconnecting…")                        │
    ├───────────────────────────────────────────────┬──────────────────┤
    │ content: the lobby, or the room               │ people (in room) │
    │                                               │ chat tabs        │
    └───────────────────────────────────────────────┴──────────────────┘
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from pymeet.gui.presenters.status import Banner
from pymeet.gui.views.theme import PAD, Theme
from pymeet.gui.views.widgets import bind_activate

__all__ = ["Shell"]


class Shell(ttk.Frame):
    """The frame around the lobby and room views (see the module docstring)."""

    def __init__(self, master: tk.Misc, theme: Theme, *, on_dark: Callable[[bool], None],
                 on_logout: Callable[[], None]) -> None:
        super().__init__(master)
        self.theme = theme
        self.columnconfigure(0, weight=1)
        self.rowconfigure(3, weight=1)

        header = ttk.Frame(self, padding=(PAD * 1.5, PAD))
        header.grid(row=0, column=0, sticky="ew")
        ttk.Label(header, text="PyMeet", style="Subtitle.TLabel").pack(side="left")
        self.where_var = tk.StringVar(self, "Lobby")
        ttk.Label(header, textvariable=self.where_var, style="Muted.TLabel").pack(
            side="left", padx=(PAD, 0), pady=(3, 0))
        self.logout_button = ttk.Button(header, text="Log out", command=on_logout)
        self.logout_button.pack(side="right")
        bind_activate(self.logout_button)
        self.dark_var = tk.BooleanVar(self, theme.dark)
        self.dark_switch = ttk.Checkbutton(header, text="Dark mode", variable=self.dark_var,
                                           style="Switch.TCheckbutton",
                                           command=lambda: on_dark(self.dark_var.get()))
        self.dark_switch.pack(side="right", padx=PAD)
        self.user_var = tk.StringVar(self)
        ttk.Label(header, textvariable=self.user_var, style="Strong.TLabel").pack(
            side="right", padx=(PAD, 0))
        ttk.Separator(self, orient="horizontal").grid(row=1, column=0, sticky="ew")

        self.banner = tk.Frame(self, padx=PAD * 1.5, pady=PAD // 2)
        self.banner_var = tk.StringVar(self)
        self.banner_label = tk.Label(self.banner, textvariable=self.banner_var,
                                     font=theme.strong, borderwidth=0)
        self.banner_label.pack(side="left")
        self.banner_level: str | None = None

        self.body = ttk.PanedWindow(self, orient="horizontal")
        self.body.grid(row=3, column=0, sticky="nsew")
        self.content = ttk.Frame(self.body)
        self.content.columnconfigure(0, weight=1)
        self.content.rowconfigure(0, weight=1)
        self.side = ttk.Frame(self.body, padding=(PAD, PAD, PAD * 1.5, PAD))
        self.side.columnconfigure(0, weight=1)
        self.side.rowconfigure(1, weight=1)
        self.body.add(self.content, weight=3)
        self.body.add(self.side, weight=1)
        self._current: ttk.Frame | None = None

    def show(self, view: ttk.Frame) -> None:
        """Put ``view`` in the content area (the lobby or the room)."""
        if self._current is view:
            return
        if self._current is not None:
            self._current.grid_forget()
        view.grid(in_=self.content, row=0, column=0, sticky="nsew")
        self._current = view

    @property
    def current(self) -> ttk.Frame | None:
        """The view shown in the content area."""
        return self._current

    def set_banner(self, banner: Banner | None) -> None:
        """Show (or hide, with None) the strip under the header."""
        if banner is None:
            self.banner.grid_forget()
            self.banner_level = None
            self.banner_var.set("")
            return
        p = self.theme.palette
        background, foreground = {
            "warning": (p.warning_bg, p.warning_fg), "error": (p.error_bg, p.error),
            "ok": (p.ok_bg, p.ok_fg), "info": (p.info_bg, p.fg)}[banner.level]
        self.banner.configure(background=background)
        self.banner_label.configure(background=background, foreground=foreground)
        self.banner_var.set(banner.text)
        self.banner_level = banner.level
        if not self.banner.winfo_ismapped():
            self.banner.grid(row=2, column=0, sticky="ew")

    @property
    def banner_text(self) -> str:
        """What the banner says ("" when hidden)."""
        return self.banner_var.get()
