"""Choosing a file to send and a folder to save into: the system's dialogs, behind a
small interface so the rest of the app (and its tests) need not know which."""

from __future__ import annotations

import tkinter as tk
from typing import Protocol

__all__ = ["FilePicker", "TkFilePicker"]


class FilePicker(Protocol):
    """Asks the person for a path; None when they cancel. Tk thread only."""

    def open_file(self, parent: tk.Misc, title: str, initial_dir: str) -> str | None:
        """A file to read."""
        ...

    def choose_folder(self, parent: tk.Misc, title: str, initial_dir: str) -> str | None:
        """A folder to write into."""
        ...


class TkFilePicker:
    """Tk's own file dialogs. They are modal: Tk keeps running ``after`` callbacks
    (so the app's queue keeps draining) while one is open."""

    def open_file(self, parent: tk.Misc, title: str, initial_dir: str) -> str | None:
        from tkinter import filedialog

        path = filedialog.askopenfilename(parent=parent.winfo_toplevel(), title=title,
                                          initialdir=initial_dir or None)
        return str(path) if path else None

    def choose_folder(self, parent: tk.Misc, title: str, initial_dir: str) -> str | None:
        from tkinter import filedialog

        path = filedialog.askdirectory(parent=parent.winfo_toplevel(), title=title,
                                       initialdir=initial_dir or None, mustexist=True)
        return str(path) if path else None
