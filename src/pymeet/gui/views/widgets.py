"""Small reusable widgets: tooltips, labelled fields with inline errors, dialogs.

Dialogs never block: they are Toplevels with callbacks, so the app keeps draining
its queue (and tests keep driving it) while one is open. Escape closes a dialog as
its Cancel button would; Enter presses its default button.
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import Any

from pymeet.gui.views.theme import PAD, Theme

__all__ = ["Dialog", "Field", "Tooltip", "bind_activate", "place_over"]


class Tooltip:
    """A hint that appears when the pointer rests on a widget (disabled ones too)."""

    DELAY_MS = 450

    def __init__(self, widget: tk.Misc, text: str = "") -> None:
        self.widget = widget
        self.text = text
        self._window: tk.Toplevel | None = None
        self._after: str | None = None
        widget.bind("<Enter>", self._schedule, add="+")
        widget.bind("<Leave>", self.hide, add="+")
        widget.bind("<ButtonPress>", self.hide, add="+")

    def set(self, text: str) -> None:
        """Change the hint ("" for none)."""
        self.text = text
        if self._window is not None:
            self.hide()

    def _schedule(self, _event: Any = None) -> None:
        self._cancel()
        if self.text:
            self._after = self.widget.after(self.DELAY_MS, self.show)

    def _cancel(self) -> None:
        if self._after is not None:
            with contextlib.suppress(tk.TclError):
                self.widget.after_cancel(self._after)
            self._after = None

    def show(self) -> None:
        """Show the hint now, below the widget."""
        self._cancel()
        if not self.text or self._window is not None:
            return
        try:
            x = self.widget.winfo_rootx() + 8
            y = self.widget.winfo_rooty() + self.widget.winfo_height() + 4
        except tk.TclError:
            return
        window = tk.Toplevel(self.widget)
        window.wm_overrideredirect(True)
        window.wm_geometry(f"+{x}+{y}")
        label = tk.Label(window, text=self.text, justify="left", wraplength=360,
                         background="#2b2b2b", foreground="#ffffff", padx=8, pady=5,
                         font="TkTooltipFont")
        label.pack()
        self._window = window
        # Keep it on the screen: above the widget when there is no room below.
        window.update_idletasks()
        screen_w, screen_h = window.winfo_screenwidth(), window.winfo_screenheight()
        width, height = window.winfo_reqwidth(), window.winfo_reqheight()
        if y + height > screen_h:
            y = self.widget.winfo_rooty() - height - 4
        x = max(0, min(x, screen_w - width))
        window.wm_geometry(f"+{x}+{y}")

    def hide(self, _event: Any = None) -> None:
        """Hide the hint."""
        self._cancel()
        if self._window is not None:
            with contextlib.suppress(tk.TclError):
                self._window.destroy()
            self._window = None


def bind_activate(button: ttk.Button) -> None:
    """Let Enter press a focused button, as Space does."""
    button.bind("<Return>", lambda _e: button.invoke() and None)
    button.bind("<KP_Enter>", lambda _e: button.invoke() and None)


class Field:
    """A caption, an entry and a line for its error message, gridded in ``parent``."""

    def __init__(self, parent: tk.Misc, caption: str, *, show: str | None = None,
                 width: int = 32) -> None:
        self.var = tk.StringVar(parent)
        self.frame = ttk.Frame(parent)
        self.caption = ttk.Label(self.frame, text=caption, style="Strong.TLabel")
        self.caption.pack(anchor="w")
        self.entry = ttk.Entry(self.frame, textvariable=self.var, width=width)
        if show:
            self.entry.configure(show=show)
        self.entry.pack(fill="x", pady=(4, 0))
        self.error_var = tk.StringVar(parent)
        self.error = ttk.Label(self.frame, textvariable=self.error_var,
                               style="Error.TLabel", wraplength=340,
                               justify="left")
        self.error.pack(anchor="w", fill="x")

    @property
    def value(self) -> str:
        """The text typed."""
        return self.var.get()

    def set_error(self, text: str | None) -> None:
        """Show ``text`` under the entry (None or "" to clear it)."""
        self.error_var.set(text or "")

    @property
    def error_text(self) -> str:
        """The message shown under the entry ("" when none)."""
        return self.error_var.get()


def place_over(window: tk.Toplevel, parent: tk.Misc) -> None:
    """Centre ``window`` over ``parent``'s toplevel (there may be no window manager)."""
    window.update_idletasks()
    top = parent.winfo_toplevel()
    width = max(window.winfo_reqwidth(), 200)
    height = max(window.winfo_reqheight(), 100)
    x = top.winfo_rootx() + max(0, (top.winfo_width() - width) // 2)
    y = top.winfo_rooty() + max(0, (top.winfo_height() - height) // 3)
    window.geometry(f"+{x}+{y}")


class Dialog:
    """A modal-looking, non-blocking dialog with a title, a body and buttons."""

    def __init__(self, parent: tk.Misc, theme: Theme, title: str, *,
                 on_cancel: Callable[[], None] | None = None, min_width: int = 400) -> None:
        self.theme = theme
        self.on_cancel = on_cancel
        self.window = tk.Toplevel(parent)
        self.window.title(title)
        # A hairline border: without a window manager there is no frame around it.
        self.window.configure(highlightthickness=1,
                              highlightbackground=theme.palette.border,
                              highlightcolor=theme.palette.border)
        self.window.transient(parent.winfo_toplevel())
        self.window.resizable(False, False)
        self.window.protocol("WM_DELETE_WINDOW", self.cancel)
        self.window.bind("<Escape>", lambda _e: self.cancel())
        self.outer = ttk.Frame(self.window, padding=PAD * 2)
        self.outer.pack(fill="both", expand=True)
        self.heading = ttk.Label(self.outer, text=title, style="Subtitle.TLabel")
        self.heading.pack(anchor="w", pady=(0, PAD))
        self.body = ttk.Frame(self.outer)
        self.body.pack(fill="both", expand=True)
        self.buttons = ttk.Frame(self.outer)
        self.buttons.pack(fill="x", pady=(PAD * 1.5, 0))
        ttk.Frame(self.outer, width=min_width, height=1).pack()
        self._default: ttk.Button | None = None
        self._focus: tk.Misc | None = None
        self.closed = False

    def add_button(self, text: str, command: Callable[[], None], *,
                   default: bool = False) -> ttk.Button:
        """A button at the bottom right; ``default`` ones are accented and get Enter."""
        button = ttk.Button(self.buttons, text=text, command=command,
                            style="Accent.TButton" if default else "TButton")
        button.pack(side="right", padx=(PAD // 2, 0))
        bind_activate(button)
        if default:
            self._default = button
            self.window.bind("<Return>", lambda _e: button.invoke() and None)
            self.window.bind("<KP_Enter>", lambda _e: button.invoke() and None)
        return button

    def show(self, focus: tk.Misc | None = None) -> None:
        """Place the dialog over its parent, take the focus and grab input."""
        place_over(self.window, self.window.master)
        self.window.deiconify()
        self._focus = focus or self._default
        if self._focus is not None:
            self._focus.focus_set()
        self.window.after_idle(self._grab)

    def _grab(self) -> None:
        if self.closed:
            return
        try:
            self.window.grab_set()
        except tk.TclError:  # not viewable yet: try again shortly
            self.window.after(50, self._grab)
            return
        # focus_set, not focus_force: Tk's "focus -force" has crashed here when an
        # earlier Tk interpreter of the same process had been destroyed.
        with contextlib.suppress(tk.TclError):
            (self._focus or self.window).focus_set()

    def cancel(self) -> None:
        """Close as Cancel would."""
        if self.closed:
            return
        callback = self.on_cancel
        self.close()
        if callback is not None:
            callback()

    def close(self) -> None:
        """Close without calling anything."""
        if self.closed:
            return
        self.closed = True
        try:
            self.window.grab_release()
            self.window.destroy()
        except tk.TclError:
            pass
        # Callbacks often refer back to the dialog: drop them, so that no reference
        # cycle keeps its Tk variables alive until a garbage collection that might run
        # on another thread (Tk objects must be freed on the Tk thread).
        for name, value in list(vars(self).items()):
            if callable(value) and not isinstance(value, tk.Misc | tk.Variable):
                setattr(self, name, None)
