"""The room: video grid and control bar, and the participant list beside the chat."""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from tkinter import ttk

from pymeet.gui.presenters.devices import DevicesPresenter
from pymeet.gui.presenters.room import RoomPresenter
from pymeet.gui.presenters.status import Quality
from pymeet.gui.views.icons import Icons
from pymeet.gui.views.theme import PAD, Theme
from pymeet.gui.views.video import VideoGrid
from pymeet.gui.views.widgets import Tooltip, bind_activate
from pymeet.protocol.validation import identity_key

__all__ = ["ParticipantsPanel", "RoomActions", "RoomView"]

QUALITY_COLORS = {"good": "#2ea043", "fair": "#d29922", "poor": "#e5534b", "unknown": "#8c8c8c"}


@dataclass(frozen=True)
class RoomActions:
    """What the room asks the controller to do."""

    toggle_mic: Callable[[], None]
    toggle_cam: Callable[[], None]
    devices: Callable[[], None]
    toggle_hand: Callable[[], None]
    leave: Callable[[], None]
    invite: Callable[[], None]
    message: Callable[[str], None]


class RoomView(ttk.Frame):
    """The video grid with the room's title above and the controls below."""

    def __init__(self, master: tk.Misc, theme: Theme, icons: Icons, presenter: RoomPresenter,
                 devices: DevicesPresenter, actions: RoomActions) -> None:
        super().__init__(master, padding=(PAD * 1.5, PAD))
        self.theme = theme
        self.icons = icons
        self.presenter = presenter
        self.devices = devices
        self.actions = actions
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)

        top = ttk.Frame(self)
        top.grid(row=0, column=0, sticky="ew", pady=(0, PAD // 2))
        self.title_var = tk.StringVar(self)
        ttk.Label(top, textvariable=self.title_var, style="Subtitle.TLabel").pack(side="left")
        self.quality_dot = tk.Canvas(top, width=14, height=14, highlightthickness=0,
                                     borderwidth=0)
        self.quality_var = tk.StringVar(self, "Measuring…")
        self.quality_label = ttk.Label(top, textvariable=self.quality_var, style="Muted.TLabel")
        self.quality_label.pack(side="right")
        self.quality_dot.pack(side="right", padx=(0, 6))
        self.quality_tip = Tooltip(self.quality_label, "")
        self.quality = Quality("unknown", "Measuring…", "")

        self.grid_view = VideoGrid(self, theme, icons)
        self.grid_view.grid(row=1, column=0, sticky="nsew")

        bar = ttk.Frame(self)
        bar.grid(row=2, column=0, sticky="ew", pady=(PAD, 0))
        self.mic_button = ttk.Button(bar, compound="left", width=7,
                                     command=actions.toggle_mic)
        self.mic_button.pack(side="left")
        self.cam_button = ttk.Button(bar, compound="left", width=10,
                                     command=actions.toggle_cam)
        self.cam_button.pack(side="left", padx=(PAD // 2, 0))
        self.devices_button = ttk.Button(bar, text="Devices", compound="left",
                                         command=actions.devices)
        self.devices_button.pack(side="left", padx=(PAD // 2, 0))
        self.hand_button = ttk.Button(bar, compound="left", width=10,
                                      command=actions.toggle_hand)
        self.hand_button.pack(side="left", padx=(PAD // 2, 0))
        self.leave_button = ttk.Button(bar, text="Leave", compound="left",
                                       command=actions.leave)
        self.leave_button.pack(side="right")
        for button in (self.mic_button, self.cam_button, self.devices_button,
                       self.hand_button, self.leave_button):
            bind_activate(button)
        self.mic_tip = Tooltip(self.mic_button)
        self.cam_tip = Tooltip(self.cam_button)
        self.hint_var = tk.StringVar(self)
        self.hint = ttk.Label(self, textvariable=self.hint_var, style="Small.TLabel",
                              wraplength=700, justify="left")
        self.hint.grid(row=3, column=0, sticky="w", pady=(4, 0))
        theme.on_change(self.render)

    def render(self) -> None:
        """Show the presenter: title, tiles and the state of every control."""
        p = self.presenter
        if not p.in_room:
            return
        self.title_var.set(p.title)
        self.grid_view.sync(p.tiles(_now()))
        self.render_controls()

    def render_controls(self) -> None:
        """The control bar and the device hint."""
        p, d = self.presenter, self.devices
        muted = self.theme.palette.fg
        off = self.theme.palette.error
        mic_ok, cam_ok = d.microphone(), d.camera()
        mic_on, cam_on = p.own_mic, p.own_cam
        self.mic_button.configure(
            text="Mute" if mic_on else "Unmute",
            image=self.icons.get("mic" if mic_on else "mic_off", muted if mic_on else off))
        self.cam_button.configure(
            text="Stop video" if cam_on else "Start video",
            image=self.icons.get("cam" if cam_on else "cam_off", muted if cam_on else off))
        self.mic_button.state(["!disabled"] if mic_ok.available or mic_on else ["disabled"])
        self.cam_button.state(["!disabled"] if cam_ok.available or cam_on else ["disabled"])
        self.mic_tip.set(("Turn your microphone off. " if mic_on else
                          "Turn your microphone on. ") + mic_ok.reason
                         if mic_ok.available else mic_ok.reason)
        self.cam_tip.set(("Turn your camera off. " if cam_on else "Turn your camera on. ")
                         + cam_ok.reason if cam_ok.available else cam_ok.reason)
        self.devices_button.configure(image=self.icons.get("gear", muted))
        self.hand_button.configure(text="Lower hand" if p.own_hand else "Raise hand",
                                   image=self.icons.get("hand", "#e3a008" if p.own_hand
                                                        else muted))
        self.leave_button.configure(image=self.icons.get("leave", off))
        hints = [c.short or c.reason for c in (cam_ok, mic_ok, d.speaker())
                 if not c.available]
        if not cam_ok.available and not mic_ok.available and not cam_on and not mic_on:
            hints.append("Choose Devices to send a test pattern and a tone instead.")
        self.hint_var.set("  ·  ".join(hints))

    def show_quality(self, quality: Quality) -> None:
        """The connection-quality badge."""
        self.quality = quality
        self.quality_var.set(quality.text)
        self.quality_tip.set(quality.detail)
        self.quality_dot.delete("all")
        self.quality_dot.configure(background=self.theme.palette.bg)
        self.quality_dot.create_oval(2, 2, 12, 12, fill=QUALITY_COLORS[quality.level],
                                     outline="")


class ParticipantsPanel(ttk.Frame):
    """Who is in the room (raised hands first), with Message and Invite."""

    def __init__(self, master: tk.Misc, theme: Theme, icons: Icons, presenter: RoomPresenter,
                 actions: RoomActions) -> None:
        super().__init__(master)
        self.theme = theme
        self.icons = icons
        self.presenter = presenter
        self.actions = actions
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)
        head = ttk.Frame(self)
        head.grid(row=0, column=0, sticky="ew", pady=(0, PAD // 2))
        self.heading_var = tk.StringVar(self, "People in this room")
        ttk.Label(head, textvariable=self.heading_var, style="Strong.TLabel").pack(side="left")
        self.invite_button = ttk.Button(head, text="Invite…", command=actions.invite)
        self.invite_button.pack(side="right")
        bind_activate(self.invite_button)
        self.tree = ttk.Treeview(self, columns=("status",), show="tree", height=5,
                                 selectmode="browse")
        self.tree.column("#0", width=160, minwidth=110, stretch=True)
        self.tree.column("status", width=180, minwidth=100, stretch=True)
        self.tree.grid(row=1, column=0, sticky="nsew")
        self.tree.bind("<Double-1>", lambda _e: self._message())
        theme.on_change(self.render)

    def _message(self) -> None:
        selection = self.tree.selection()
        me = self.presenter.me
        if selection and (me is None or identity_key(selection[0]) != identity_key(me)):
            self.actions.message(selection[0])

    def render(self) -> None:
        """Show the participants."""
        rows = self.presenter.participants()
        self.heading_var.set(f"People in this room ({len(rows)})")
        fg = self.theme.palette.muted
        hand = self.icons.get("hand", "#e3a008", 16)
        person = self.icons.get("person", fg, 16)
        names = [row.username for row in rows]
        for iid in self.tree.get_children():
            if iid not in names:
                self.tree.delete(iid)
        for index, row in enumerate(rows):
            text = f" {row.label}"
            status = row.status
            image = hand if row.hand else person
            if self.tree.exists(row.username):
                self.tree.item(row.username, text=text, values=(status,), image=image)
                self.tree.move(row.username, "", index)
            else:
                self.tree.insert("", index, iid=row.username, text=text, values=(status,),
                                 image=image)

    def lines(self) -> list[str]:
        """The list as text (tests, accessibility)."""
        return [f"{self.tree.item(iid, 'text').strip()} | {self.tree.item(iid, 'values')[0]}"
                for iid in self.tree.get_children()]


def _now() -> float:
    return time.monotonic()
