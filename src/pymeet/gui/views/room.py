"""The room: video grid and control bar, and the participant list beside the chat.

The room's owner also gets moderation here (§3.4): Mute and Remove for the person
chosen in the list (buttons under it, or its right-click menu) and Mute all.
"""

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
NOTICE_MS = 8000


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
    toggle_screen: Callable[[], None]
    mute: Callable[[str], None]
    remove: Callable[[str], None]
    mute_all: Callable[[], None]


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
        self.notice_var = tk.StringVar(self)
        self.notice = tk.Label(top, textvariable=self.notice_var, font=theme.strong,
                               padx=PAD // 2, pady=2, borderwidth=0)
        self._notice_after: str | None = None

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
        self.screen_button = ttk.Button(bar, compound="left", width=12,
                                        command=actions.toggle_screen)
        self.screen_button.pack(side="left", padx=(PAD // 2, 0))
        self.hand_button = ttk.Button(bar, compound="left", width=10,
                                      command=actions.toggle_hand)
        self.hand_button.pack(side="left", padx=(PAD // 2, 0))
        self.devices_button = ttk.Button(bar, text="Devices", compound="left",
                                         command=actions.devices)
        self.devices_button.pack(side="left", padx=(PAD // 2, 0))
        self.leave_button = ttk.Button(bar, text="Leave", compound="left",
                                       command=actions.leave)
        self.leave_button.pack(side="right")
        for button in (self.mic_button, self.cam_button, self.screen_button,
                       self.devices_button, self.hand_button, self.leave_button):
            bind_activate(button)
        self.mic_tip = Tooltip(self.mic_button)
        self.cam_tip = Tooltip(self.cam_button)
        self.screen_tip = Tooltip(self.screen_button)
        self.hand_tip = Tooltip(self.hand_button)
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
        mic_ok, cam_ok, screen_ok = d.microphone(), d.camera(), d.screen()
        mic_on, cam_on, screen_on = p.own_mic, p.own_cam, p.own_screen
        self.mic_button.configure(
            text="Mute" if mic_on else "Unmute",
            image=self.icons.get("mic" if mic_on else "mic_off", muted if mic_on else off))
        self.cam_button.configure(
            text="Stop video" if cam_on else "Start video",
            image=self.icons.get("cam" if cam_on else "cam_off", muted if cam_on else off))
        self.mic_button.state(["!disabled"] if mic_ok.available or mic_on else ["disabled"])
        # While the screen is shared it takes the camera's place (docs/PROTOCOL.md,
        # "Screen sharing"): the camera comes back when sharing stops.
        cam_usable = (cam_ok.available or cam_on) and not screen_on
        self.cam_button.state(["!disabled"] if cam_usable else ["disabled"])
        self.mic_tip.set(("Turn your microphone off. " if mic_on else
                          "Turn your microphone on. ") + mic_ok.reason
                         if mic_ok.available else mic_ok.reason)
        if screen_on:
            self.cam_tip.set("Your screen is shared instead of your camera. Stop sharing "
                             "to use the camera again.")
        else:
            self.cam_tip.set(("Turn your camera off. " if cam_on else "Turn your camera on. ")
                             + cam_ok.reason if cam_ok.available else cam_ok.reason)
        self.screen_button.configure(
            text="Stop sharing" if screen_on else "Share screen",
            image=self.icons.get("screen", self.theme.palette.presenting if screen_on
                                 else muted))
        self.screen_button.state(["!disabled"] if screen_ok.available or screen_on
                                 else ["disabled"])
        self.screen_tip.set("Stop sharing your screen." if screen_on else screen_ok.reason)
        self.hand_tip.set("Lower your hand." if p.own_hand else
                          "Raise your hand: the room sees it, and the list puts you in line.")
        self.devices_button.configure(image=self.icons.get("gear", muted))
        self.hand_button.configure(text="Lower hand" if p.own_hand else "Raise hand",
                                   image=self.icons.get("hand", "#e3a008" if p.own_hand
                                                        else muted))
        self.leave_button.configure(image=self.icons.get("leave", off))
        hints = [c.short or c.reason for c in (cam_ok, mic_ok, d.speaker())
                 if not c.available]
        if not screen_ok.available and screen_ok.short:
            hints.append(screen_ok.short)
        if not cam_ok.available and not mic_ok.available and not cam_on and not mic_on:
            hints.append("Choose Devices to send a test pattern and a tone instead.")
        self.hint_var.set("  ·  ".join(hints))

    def show_notice(self, text: str, level: str = "warning") -> None:
        """A short message at the top of the room ("bob muted you."), for a few seconds."""
        p = self.theme.palette
        background, foreground = ((p.warning_bg, p.warning_fg) if level == "warning"
                                  else (p.info_bg, p.fg))
        self.notice.configure(background=background, foreground=foreground)
        self.notice_var.set(text)
        if not self.notice.winfo_manager():
            self.notice.pack(side="left", padx=(PAD, 0))
        if self._notice_after is not None:
            self.after_cancel(self._notice_after)
        self._notice_after = self.after(NOTICE_MS, self.hide_notice)

    def hide_notice(self) -> None:
        """Take the notice away."""
        self._notice_after = None
        self.notice_var.set("")
        self.notice.pack_forget()

    @property
    def notice_text(self) -> str:
        """The notice shown ("" when none)."""
        return self.notice_var.get() if self.notice.winfo_manager() else ""

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
    """Who is in the room (raised hands first), with Message and Invite, and for the
    room's owner Mute, Remove and Mute all."""

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
        self.tree.bind("<<TreeviewSelect>>", lambda _e: self._render_moderation())
        self.tree.bind("<Button-3>", self._context_menu)

        # The owner's tools: for the person chosen in the list, and for everyone.
        self.moderation = ttk.Frame(self)
        self.mute_button = ttk.Button(self.moderation, text="Mute", compound="left",
                                      command=lambda: self._on_selected(actions.mute))
        self.mute_button.pack(side="left")
        self.remove_button = ttk.Button(self.moderation, text="Remove", compound="left",
                                        command=lambda: self._on_selected(actions.remove))
        self.remove_button.pack(side="left", padx=(PAD // 2, 0))
        self.mute_all_button = ttk.Button(self.moderation, text="Mute all", compound="left",
                                          command=actions.mute_all)
        self.mute_all_button.pack(side="right")
        for button in (self.mute_button, self.remove_button, self.mute_all_button):
            bind_activate(button)
        self.mute_tip = Tooltip(self.mute_button)
        self.remove_tip = Tooltip(self.remove_button)
        self.mute_all_tip = Tooltip(self.mute_all_button)
        self.menu = tk.Menu(self, tearoff=False)
        theme.on_change(self.render)

    def _selected(self) -> str | None:
        selection = self.tree.selection()
        return selection[0] if selection else None

    def _on_selected(self, action: Callable[[str], None]) -> None:
        name = self._selected()
        if name is not None:
            action(name)

    def _message(self) -> None:
        selection = self.tree.selection()
        me = self.presenter.me
        if selection and (me is None or identity_key(selection[0]) != identity_key(me)):
            self.actions.message(selection[0])

    def _context_menu(self, event: tk.Event) -> None:
        name = self.tree.identify_row(event.y)
        if not name:
            return
        self.tree.selection_set(name)
        self.build_menu(name)
        if self.menu.index("end") is not None:
            self.menu.tk_popup(event.x_root, event.y_root)

    def build_menu(self, name: str) -> tk.Menu:
        """The right-click menu for ``name`` (built fresh: it depends on their state)."""
        row = self.presenter.participant(name)
        menu = self.menu
        menu.delete(0, "end")
        if row is None or row.is_self:
            return menu
        menu.add_command(label=f"Message {row.username}",
                         command=lambda: self.actions.message(row.username))
        if row.moderator:
            menu.add_separator()
            menu.add_command(label="Mute", command=lambda: self.actions.mute(row.username),
                             state="normal" if row.can_mute else "disabled")
            menu.add_command(label="Remove from the room…",
                             command=lambda: self.actions.remove(row.username))
        return menu

    def menu_labels(self) -> list[tuple[str, str]]:
        """(label, state) of the menu's commands (tests, accessibility)."""
        end = self.menu.index("end")
        if end is None:
            return []
        return [(str(self.menu.entrycget(i, "label")), str(self.menu.entrycget(i, "state")))
                for i in range(end + 1) if self.menu.type(i) == "command"]

    def render(self) -> None:
        """Show the participants."""
        rows = self.presenter.participants()
        self.heading_var.set(f"People in this room ({len(rows)})")
        fg = self.theme.palette.muted
        hand = self.icons.get("hand", "#e3a008", 16)
        person = self.icons.get("person", fg, 16)
        screen = self.icons.get("screen", self.theme.palette.presenting, 16)
        names = [row.username for row in rows]
        for iid in self.tree.get_children():
            if iid not in names:
                self.tree.delete(iid)
        for index, row in enumerate(rows):
            text = f" {row.label}"
            status = row.status
            image = hand if row.hand else screen if row.screen else person
            if self.tree.exists(row.username):
                self.tree.item(row.username, text=text, values=(status,), image=image)
                self.tree.move(row.username, "", index)
            else:
                self.tree.insert("", index, iid=row.username, text=text, values=(status,),
                                 image=image)
        self._render_moderation()

    def _render_moderation(self) -> None:
        p = self.presenter
        if not p.is_owner:
            self.moderation.grid_forget()
            return
        if not self.moderation.winfo_manager():
            self.moderation.grid(row=2, column=0, sticky="ew", pady=(PAD // 2, 0))
        muted, off = self.theme.palette.fg, self.theme.palette.error
        self.mute_button.configure(image=self.icons.get("mic_off", muted, 16))
        self.remove_button.configure(image=self.icons.get("person_remove", off, 16))
        self.mute_all_button.configure(image=self.icons.get("mic_off", muted, 16))
        name = self._selected()
        row = p.participant(name) if name else None
        self.mute_button.state(["!disabled"] if row and row.can_mute else ["disabled"])
        self.remove_button.state(["!disabled"] if row and row.can_remove else ["disabled"])
        if row is None or row.is_self:
            hint = "Choose someone in the list first."
            self.mute_tip.set(hint)
            self.remove_tip.set(hint)
        else:
            self.mute_tip.set(f"Turn off {row.username}'s microphone. They can turn it on "
                              "again." if row.can_mute
                              else f"{row.username}'s microphone is off already.")
            self.remove_tip.set(f"Send {row.username} back to the lobby. They can join again.")
        targets = p.mute_all_targets()
        self.mute_all_button.state(["!disabled"] if targets else ["disabled"])
        self.mute_all_tip.set("Turn off everyone else's microphone." if targets
                              else "Nobody else has the microphone on.")

    def lines(self) -> list[str]:
        """The list as text (tests, accessibility)."""
        return [f"{self.tree.item(iid, 'text').strip()} | {self.tree.item(iid, 'values')[0]}"
                for iid in self.tree.get_children()]


def _now() -> float:
    return time.monotonic()

