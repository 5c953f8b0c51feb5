"""The chat panel: tabs with unread badges, the conversation (messages and file cards),
the message box with its Send-file button, and the progress of files being sent."""

from __future__ import annotations

import threading
import time
import tkinter as tk
import webbrowser
from collections.abc import Callable
from tkinter import ttk
from typing import Any

from pymeet.gui.presenters.chat import ChatPresenter, FileCard
from pymeet.gui.presenters.transfers import Transfer, TransfersPresenter
from pymeet.gui.views.icons import Icons
from pymeet.gui.views.theme import PAD, Theme
from pymeet.gui.views.widgets import Tooltip, bind_activate

__all__ = ["NOT_CONNECTED", "ChatView", "FileCardView"]

NOT_CONNECTED = "Not connected: reconnecting…"
CARD_MARGIN = PAD * 2 + 6  # the text's padding on both sides, and a little air


class FileCardView:
    """A shared file in the conversation: icon, name, size · sender · time, Download,
    then a progress bar while downloading and a verified or error line after."""

    PADX = PAD * 3 // 4

    def __init__(self, master: tk.Text, theme: Theme, icons: Icons, card: FileCard,
                 on_download: Callable[[str], None]) -> None:
        self.card = card
        self.theme = theme
        self.icons = icons
        p = theme.palette
        self.frame = tk.Frame(master, background=p.file_card, highlightthickness=1,
                              highlightbackground=p.border, padx=self.PADX, pady=PAD // 2,
                              cursor="arrow")
        self.frame.columnconfigure(1, weight=1)
        self.icon = tk.Label(self.frame, image=icons.get("file", p.accent, 28),
                             background=p.file_card)
        self.icon.grid(row=0, column=0, rowspan=2, sticky="nw", padx=(0, self.PADX))
        self.name = tk.Label(self.frame, text=card.name, font=theme.strong, anchor="w",
                             justify="left", background=p.file_card, foreground=p.fg)
        self.name.grid(row=0, column=1, sticky="ew")
        self.details = tk.Label(self.frame, text=card.details, font=theme.small, anchor="w",
                                background=p.file_card, foreground=p.muted)
        self.details.grid(row=1, column=1, sticky="ew")
        self.download_button = ttk.Button(
            self.frame, text="Download", compound="left",
            image=icons.get("download", p.fg, 16),
            command=lambda: on_download(card.file_id))
        self.download_button.grid(row=0, column=2, rowspan=2, sticky="e", padx=(PAD // 2, 0))
        bind_activate(self.download_button)
        Tooltip(self.download_button, "Save a copy in a folder you choose. It is checked "
                                      "against the SHA-256 the server recorded.")
        self.progress = ttk.Progressbar(self.frame, mode="determinate", maximum=100)
        self.status_icon = tk.Label(self.frame, background=p.file_card)
        self.status = tk.Label(self.frame, text="", font=theme.small, anchor="nw",
                               justify="left", background=p.file_card, foreground=p.muted)
        self.transfer: Transfer | None = None
        for widget in (self.frame, self.icon, self.name, self.details, self.status,
                       self.status_icon):
            _forward_wheel(widget, master)

    def set_width(self, width: int) -> None:
        """Fit the card into ``width`` pixels: the name and the status lines wrap."""
        border = 2 * (self.PADX + 1)
        beside = (self.icon.winfo_reqwidth() + self.PADX
                  + self.download_button.winfo_reqwidth() + PAD // 2)
        name_width = max(60, width - border - beside)
        self.frame.columnconfigure(1, minsize=name_width)
        self.name.configure(wraplength=name_width)
        self.status.configure(wraplength=max(80, width - border - self.icon.winfo_reqwidth()
                                             - self.PADX))

    def render(self, transfer: Transfer | None) -> None:
        """Show the download's state (None: not downloaded in this session)."""
        self.transfer = transfer
        p = self.theme.palette
        running = transfer is not None and transfer.status == "running"
        self.download_button.state(["disabled"] if running else ["!disabled"])
        if running:
            assert transfer is not None
            self.progress.configure(value=transfer.percent)
            self.progress.grid(row=2, column=0, columnspan=3, sticky="ew", pady=(PAD // 2, 0))
        else:
            self.progress.grid_forget()
        if transfer is None or transfer.status == "idle":
            self.status.grid_forget()
            self.status_icon.grid_forget()
            return
        if transfer.status == "done":
            color, icon = p.ok_fg, self.icons.get("check", p.ok_fg, 16)
        elif transfer.status == "failed":
            color, icon = p.error, self.icons.get("warning", p.error, 16)
        else:
            color, icon = p.muted, self.icons.get("blank", p.muted, 16)
        self.status_icon.configure(image=icon)
        self.status.configure(text=transfer.text, foreground=color)
        self.status_icon.grid(row=3, column=0, sticky="ne", padx=(0, self.PADX), pady=(4, 0))
        self.status.grid(row=3, column=1, columnspan=2, sticky="ew", pady=(4, 0))

    @property
    def status_text(self) -> str:
        """The line under the card ("" when none)."""
        return str(self.status.cget("text")) if self.status.winfo_manager() else ""


def _forward_wheel(widget: tk.Misc, text: tk.Text) -> None:
    """Scrolling over a card scrolls the conversation it sits in."""
    widget.bind("<Button-4>", lambda _e: text.yview_scroll(-2, "units"), add="+")
    widget.bind("<Button-5>", lambda _e: text.yview_scroll(2, "units"), add="+")
    widget.bind("<MouseWheel>", lambda e: text.yview_scroll(
        -1 if e.delta > 0 else 1, "units"), add="+")


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
                 presenter: ChatPresenter, transfers: TransfersPresenter, *,
                 on_select: Callable[[str], None], on_close: Callable[[str], None],
                 on_send: Callable[[str], None], on_send_file: Callable[[], None],
                 on_download: Callable[[str], None]) -> None:
        super().__init__(master)
        self.theme = theme
        self.icons = icons
        self.presenter = presenter
        self.transfers = transfers
        self._on_select = on_select
        self._on_close = on_close
        self._on_send = on_send
        self._on_download = on_download
        self.cards: dict[str, FileCardView] = {}
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
        self.text.bind("<Configure>", lambda e: self._fit_cards(e.width), add="+")
        self._links: dict[str, str] = {}

        entry_row = ttk.Frame(self)
        entry_row.grid(row=3, column=0, sticky="ew", pady=(PAD // 2, 0))
        entry_row.columnconfigure(1, weight=1)
        self.file_button = ttk.Button(entry_row, image=icons.get("attach", theme.palette.fg),
                                      command=on_send_file, width=0)
        self.file_button.grid(row=0, column=0, padx=(0, PAD // 2))
        bind_activate(self.file_button)
        self.file_tip = Tooltip(self.file_button, "Send a file to this conversation.")
        self.entry_var = tk.StringVar(self)
        self.entry = ttk.Entry(entry_row, textvariable=self.entry_var)
        self.entry.grid(row=0, column=1, sticky="ew")
        self.entry.bind("<Return>", lambda _e: self.submit())
        self.entry.bind("<KP_Enter>", lambda _e: self.submit())
        self.send_button = ttk.Button(entry_row, text="Send", style="Accent.TButton",
                                      command=self.submit)
        self.send_button.grid(row=0, column=2, padx=(PAD // 2, 0))
        bind_activate(self.send_button)

        self.upload_row = ttk.Frame(self)
        self.upload_row.columnconfigure(0, weight=1)
        self.upload_var = tk.StringVar(self)
        ttk.Label(self.upload_row, textvariable=self.upload_var, style="Small.TLabel").grid(
            row=0, column=0, sticky="w")
        self.upload_progress = ttk.Progressbar(self.upload_row, mode="determinate",
                                               maximum=100)
        self.upload_progress.grid(row=1, column=0, sticky="ew", pady=(2, 0))
        self.error_var = tk.StringVar(self)
        self.error = ttk.Label(self, textvariable=self.error_var, style="Error.TLabel",
                               wraplength=320)
        self.error.grid(row=5, column=0, sticky="w")

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
        self.file_button.configure(image=self.icons.get("attach", self.theme.palette.fg))
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
        for widget in (self.entry, self.send_button, self.file_button):
            widget.state(["!disabled"] if usable else ["disabled"])
        tab = p.tabs.get(p.active or "")
        self.file_tip.set("" if tab is None else
                          f"Send a file to {tab.peer}." if tab.peer is not None
                          else f"Send a file to everyone in {tab.title}.")

    # -- files ----------------------------------------------------------------------

    def render_transfers(self) -> None:
        """Show the state of every download (on its card) and of the files being sent."""
        for file_id, card in self.cards.items():
            transfer = self.transfers.get(file_id)
            if transfer != card.transfer:
                card.render(transfer)
        uploads = self.transfers.uploads_running()
        if uploads:
            _, latest = uploads[-1]
            more = f" (and {len(uploads) - 1} more)" if len(uploads) > 1 else ""
            self.upload_var.set(latest.text + more)
            self.upload_progress.configure(value=latest.percent)
            if not self.upload_row.winfo_manager():
                self.upload_row.grid(row=4, column=0, sticky="ew", pady=(PAD // 2, 0))
        elif self.upload_row.winfo_manager():
            self.upload_row.grid_forget()

    def card(self, file_id: str) -> FileCardView | None:
        """The card of a file shown in the conversation."""
        return self.cards.get(file_id)

    def _fit_cards(self, width: int) -> None:
        for card in self.cards.values():
            card.set_width(width - CARD_MARGIN)

    def _drop_cards(self) -> None:
        for card in self.cards.values():
            card.frame.destroy()
        self.cards = {}

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
            self._drop_cards()
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
            if block.card is not None:
                self._insert_card(block.card)
                continue
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

    def _insert_card(self, card: FileCard) -> None:
        text = self.text
        if text.index("end-1c") != "1.0":
            text.insert("end", "\n")
        view = FileCardView(text, self.theme, self.icons, card, self._on_download)
        view.set_width(text.winfo_width() - CARD_MARGIN)
        view.render(self.transfers.get(card.file_id))
        text.window_create("end", window=view.frame, pady=3)
        self.cards[card.file_id] = view

    def conversation_text(self) -> str:
        """Everything shown in the conversation, as plain text, a file card as its
        summary line (tests, accessibility)."""
        summaries = {str(card.frame): card.card.summary for card in self.cards.values()}
        parts: list[str] = []
        for kind, value, _index in self.text.dump("1.0", "end-1c", text=True, window=True):
            if kind == "text":
                parts.append(str(value))
            elif kind == "window":
                parts.append(summaries.get(str(value), ""))
        return "".join(parts)

    def card_text(self, file_id: str) -> dict[str, Any]:
        """What the card of ``file_id`` shows (tests, accessibility)."""
        card = self.cards[file_id]
        return {"name": str(card.name.cget("text")), "details": str(card.details.cget("text")),
                "status": card.status_text,
                "progress": card.progress.winfo_manager() != "",
                "button": str(card.download_button.cget("text")),
                "enabled": card.download_button.instate(["!disabled"])}
