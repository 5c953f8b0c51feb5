"""The chat panel: tabs with unread badges, the conversation, and the message box."""

from __future__ import annotations

import threading
import time
import tkinter as tk
import webbrowser
from collections.abc import Callable
from tkinter import ttk

from pymeet.gui.presenters.chat import ChatPresenter
from pymeet.gui.views.icons import Icons
from pymeet.gui.views.theme import PAD, Theme
from pymeet.gui.views.widgets import bind_activate

__all__ = ["NOT_CONNECTED", "ChatView"]

NOT_CONNECTED = "Not connected: reconnecting…"


class _TabChip:
    """One tab: a toggle with the title, a red badge for unread items, and × for DMs."""

    def __init__(self, master: tk.Misc, theme: Theme, key: str, variable: tk.StringVar,
                 on_select: Callable[[str], None], on_close: Callable[[str], None] | None
                 ) -> None:
        self.key = key
        self.frame = ttk.Frame(master)
        self.button = ttk.Radiobutton(self.frame, text="", value=key, variable=variable,
                                      style="Toggle.TButton",
                                      command=lambda: on_select(key))
        self.button.pack(side="left")
        p = theme.palette
        self.badge = tk.Label(self.frame, text="", background=p.badge_bg,
                              foreground=p.badge_fg, font=theme.badge, padx=5, pady=0)
        self.close: tk.Label | None = None
        if on_close is not None:
            self.close = tk.Label(self.frame, text="×", font=theme.strong, cursor="hand2",
                                  background=p.bg, foreground=p.muted, padx=2)
            self.close.bind("<Button-1>", lambda _e: on_close(key))
            self.close.pack(side="right", padx=(2, 0))

    def set(self, title: str, unread: int, theme: Theme) -> None:
        self.button.configure(text=title)
        p = theme.palette
        self.badge.configure(background=p.badge_bg, foreground=p.badge_fg)
        if self.close is not None:
            self.close.configure(background=p.bg, foreground=p.muted)
        if unread:
            self.badge.configure(text=str(unread) if unread < 100 else "99+")
            if not self.badge.winfo_ismapped():
                self.badge.pack(side="left", padx=(4, 0), after=self.button)
        else:
            self.badge.pack_forget()

    @property
    def badge_text(self) -> str:
        """The unread count shown ("" when none)."""
        return str(self.badge.cget("text")) if self.badge.winfo_ismapped() else ""


class ChatView(ttk.Frame):
    """Draws a `ChatPresenter`; reports tab changes, closes and messages to send."""

    def __init__(self, master: tk.Misc, theme: Theme, icons: Icons,
                 presenter: ChatPresenter, *, on_select: Callable[[str], None],
                 on_close: Callable[[str], None], on_send: Callable[[str], None]) -> None:
        super().__init__(master)
        self.theme = theme
        self.icons = icons
        self.presenter = presenter
        self._on_select = on_select
        self._on_close = on_close
        self._on_send = on_send
        self.columnconfigure(0, weight=1)
        self.rowconfigure(2, weight=1)

        ttk.Label(self, text="Messages", style="Strong.TLabel").grid(
            row=0, column=0, sticky="w", pady=(0, PAD // 2))
        self.tab_var = tk.StringVar(self, "")
        self.tabs_frame = ttk.Frame(self)
        self.tabs_frame.grid(row=1, column=0, sticky="ew")
        self.chips: dict[str, _TabChip] = {}

        box = ttk.Frame(self, style="Card.TFrame", padding=2)
        box.grid(row=2, column=0, sticky="nsew", pady=(PAD // 2, 0))
        box.columnconfigure(0, weight=1)
        box.rowconfigure(0, weight=1)
        self.text = tk.Text(box, wrap="word", state="disabled", relief="flat",
                            borderwidth=0, highlightthickness=0, padx=PAD, pady=PAD // 2,
                            font=theme.body, cursor="arrow", spacing1=1, spacing3=1,
                            width=40, height=10)
        self.text.grid(row=0, column=0, sticky="nsew")
        scroll = ttk.Scrollbar(box, orient="vertical", command=self.text.yview)
        scroll.grid(row=0, column=1, sticky="ns")
        self.text.configure(yscrollcommand=scroll.set)
        self.text.tag_bind("link", "<Button-1>", self._open_link)
        self.text.tag_bind("link", "<Enter>", lambda _e: self.text.configure(cursor="hand2"))
        self.text.tag_bind("link", "<Leave>", lambda _e: self.text.configure(cursor="arrow"))
        self._links: dict[str, str] = {}

        entry_row = ttk.Frame(self)
        entry_row.grid(row=3, column=0, sticky="ew", pady=(PAD // 2, 0))
        entry_row.columnconfigure(0, weight=1)
        self.entry_var = tk.StringVar(self)
        self.entry = ttk.Entry(entry_row, textvariable=self.entry_var)
        self.entry.grid(row=0, column=0, sticky="ew")
        self.entry.bind("<Return>", lambda _e: self.submit())
        self.entry.bind("<KP_Enter>", lambda _e: self.submit())
        self.send_button = ttk.Button(entry_row, text="Send", style="Accent.TButton",
                                      command=self.submit)
        self.send_button.grid(row=0, column=1, padx=(PAD // 2, 0))
        bind_activate(self.send_button)
        self.error_var = tk.StringVar(self)
        self.error = ttk.Label(self, textvariable=self.error_var, style="Error.TLabel",
                               wraplength=320)
        self.error.grid(row=4, column=0, sticky="w")

        self.connected = True
        self._shown_key: str | None = None
        self._shown_uids: list[str] = []
        self._tab_state: list[tuple[str, str, int]] = []
        self._styles()
        theme.on_change(self._restyle)
        self.refresh()

    # -- styling --------------------------------------------------------------------

    def _styles(self) -> None:
        t, p = self.theme, self.theme.palette
        self.text.configure(background=p.chat_bg, foreground=p.fg, insertbackground=p.fg,
                            selectbackground=p.accent, selectforeground="#ffffff")
        self.text.tag_configure("header", font=t.strong, spacing1=PAD // 2)
        self.text.tag_configure("mine", foreground=p.mine)
        self.text.tag_configure("time", font=t.small, foreground=p.muted)
        self.text.tag_configure("body", lmargin1=0, lmargin2=0)
        self.text.tag_configure("link", foreground=p.link, underline=True)
        self.text.tag_configure("file", foreground=p.muted, font=(t.family, -14, "italic"))
        self.text.tag_configure("notice", foreground=p.muted, font=(t.family, -13, "italic"),
                                justify="center", spacing1=PAD // 2, spacing3=PAD // 2)
        self.text.tag_configure("placeholder", foreground=p.muted, justify="center",
                                spacing1=PAD * 2)

    def _restyle(self) -> None:
        self._styles()
        self._tab_state = []
        self.refresh(force=True)

    # -- actions --------------------------------------------------------------------

    def submit(self) -> None:
        """Enter or Send: hand the text to the controller (which checks it)."""
        text = self.entry_var.get()
        if text.strip():
            self._on_send(text)

    def clear_entry(self) -> None:
        """The message went: empty the box."""
        self.entry_var.set("")
        self.error_var.set("")

    def show_error(self, text: str) -> None:
        """Why a message could not be sent."""
        self.error_var.set(text)

    def _open_link(self, _event: tk.Event) -> None:
        for tag in self.text.tag_names("current"):
            url = self._links.get(tag)
            if url:
                threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
                return

    def set_connected(self, connected: bool) -> None:
        """Allow typing only while connected; say so while not."""
        self.connected = connected
        if not connected:
            self.error_var.set(NOT_CONNECTED)
        elif self.error_var.get() == NOT_CONNECTED:
            self.error_var.set("")
        self.refresh()

    # -- drawing --------------------------------------------------------------------

    def tab_badge(self, key: str) -> str:
        """The unread badge of tab ``key`` ("" when none or no such tab)."""
        chip = self.chips.get(key)
        return chip.badge_text if chip is not None else ""

    def tab_title(self, key: str) -> str:
        """The title of tab ``key``."""
        chip = self.chips.get(key)
        return str(chip.button.cget("text")) if chip is not None else ""

    def select_tab(self, key: str) -> None:
        """Click tab ``key``."""
        chip = self.chips.get(key)
        if chip is not None:
            chip.button.invoke()

    def refresh(self, force: bool = False) -> None:
        """Show the presenter's tabs and the active conversation."""
        p = self.presenter
        tabs = [(tab.key, tab.title, tab.unread) for tab in p.tab_order()]
        if tabs != self._tab_state or force:
            self._render_tabs(tabs)
            self._tab_state = tabs
        self.tab_var.set(p.active or "")
        self._render_text(force)
        usable = p.active is not None and self.connected
        self.entry.state(["!disabled"] if usable else ["disabled"])
        self.send_button.state(["!disabled"] if usable else ["disabled"])

    def _render_tabs(self, tabs: list[tuple[str, str, int]]) -> None:
        keys = [key for key, _, _ in tabs]
        for key in [k for k in self.chips if k not in keys]:
            self.chips.pop(key).frame.destroy()
        for key, title, unread in tabs:
            chip = self.chips.get(key)
            if chip is None:
                closable = None if key == "room" else self._on_close
                chip = self.chips[key] = _TabChip(self.tabs_frame, self.theme, key,
                                                  self.tab_var, self._on_select, closable)
            chip.set(title, unread, self.theme)
        for chip in self.chips.values():
            chip.frame.pack_forget()
        for key in keys:
            self.chips[key].frame.pack(side="left", padx=(0, PAD // 2), pady=(0, 2))

    def _render_text(self, force: bool) -> None:
        p = self.presenter
        key = p.active
        blocks = p.blocks(key, time.time()) if key is not None else []
        uids = [block.uid for block in blocks]
        text = self.text
        at_end = text.yview()[1] >= 0.999
        append = (not force and key == self._shown_key and self._shown_uids
                  and uids[:len(self._shown_uids)] == self._shown_uids)
        if append and len(uids) == len(self._shown_uids):
            return
        text.configure(state="normal")
        if append:
            new_blocks = blocks[len(self._shown_uids):]
        else:
            text.delete("1.0", "end")
            self._links = {}
            new_blocks = blocks
            at_end = True
            if not blocks:
                text.insert("end", p.placeholder(key), ("placeholder",))
        for block in new_blocks:
            start_of_text = text.index("end-1c") == "1.0"
            if block.kind == "notice":
                text.insert("end", ("" if start_of_text else "\n") + block.pieces[0][0],
                            ("notice",))
                continue
            if block.header is not None:
                if not start_of_text:
                    text.insert("end", "\n")
                tags = ("header", "mine") if block.mine else ("header",)
                text.insert("end", block.header, tags)
                text.insert("end", f"  {block.time}", ("time",))
            for index, (piece, url) in enumerate(block.pieces):
                prefix = "\n" if index == 0 else ""
                if block.kind == "file":
                    text.insert("end", prefix + piece, ("file",))
                elif url is None:
                    text.insert("end", prefix + piece, ("body",))
                else:
                    if prefix:
                        text.insert("end", prefix, ("body",))
                    tag = f"link-{len(self._links)}"
                    self._links[tag] = url
                    text.insert("end", piece, ("body", "link", tag))
        text.configure(state="disabled")
        if at_end:
            text.see("end")
        self._shown_key = key
        self._shown_uids = uids

    def conversation_text(self) -> str:
        """Everything shown in the conversation, as plain text (tests, accessibility)."""
        return self.text.get("1.0", "end-1c")
