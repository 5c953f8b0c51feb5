"""The lobby: rooms (with member counts and locks) and the people online."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from tkinter import ttk

from pymeet.gui.presenters.lobby import LobbyPresenter
from pymeet.gui.views.icons import Icons
from pymeet.gui.views.theme import PAD, Theme
from pymeet.gui.views.widgets import Tooltip, bind_activate

__all__ = ["LobbyActions", "LobbyView"]


@dataclass(frozen=True)
class LobbyActions:
    """What the lobby asks the controller to do."""

    join: Callable[[str], None]
    create: Callable[[], None]
    refresh: Callable[[], None]
    message: Callable[[str], None]
    invite: Callable[[str], None]


class LobbyView(ttk.Frame):
    """Draws a `LobbyPresenter`."""

    def __init__(self, master: tk.Misc, theme: Theme, icons: Icons,
                 presenter: LobbyPresenter, actions: LobbyActions) -> None:
        super().__init__(master, padding=(PAD * 1.5, PAD))
        self.theme = theme
        self.icons = icons
        self.presenter = presenter
        self.actions = actions
        self.columnconfigure(0, weight=3, minsize=380)
        self.columnconfigure(1, weight=2, minsize=260)
        self.rowconfigure(1, weight=1)

        # -- rooms -------------------------------------------------------------------
        head = ttk.Frame(self)
        head.grid(row=0, column=0, sticky="ew", padx=(0, PAD * 1.5), pady=(0, PAD // 2))
        ttk.Label(head, text="Rooms", style="Subtitle.TLabel").pack(side="left")
        self.summary_var = tk.StringVar(self)
        ttk.Label(head, textvariable=self.summary_var, style="Muted.TLabel").pack(
            side="left", padx=PAD, pady=(4, 0))
        self.create_button = ttk.Button(head, text="Create room", style="Accent.TButton",
                                        compound="left", command=actions.create)
        self.create_button.pack(side="right")
        bind_activate(self.create_button)

        rooms_box = ttk.Frame(self)
        rooms_box.grid(row=1, column=0, sticky="nsew", padx=(0, PAD * 1.5))
        rooms_box.columnconfigure(0, weight=1)
        rooms_box.rowconfigure(0, weight=1)
        self.rooms = ttk.Treeview(rooms_box, columns=("people", "host"), selectmode="browse",
                                  show="tree headings")
        self.rooms.heading("#0", text="Room", anchor="w")
        self.rooms.heading("people", text="People", anchor="w")
        self.rooms.heading("host", text="Host", anchor="w")
        self.rooms.column("#0", width=240, minwidth=160, stretch=True)
        self.rooms.column("people", width=100, minwidth=80, stretch=False)
        self.rooms.column("host", width=140, minwidth=90, stretch=False)
        self.rooms.grid(row=0, column=0, sticky="nsew")
        scroll = ttk.Scrollbar(rooms_box, orient="vertical", command=self.rooms.yview)
        scroll.grid(row=0, column=1, sticky="ns")
        self.rooms.configure(yscrollcommand=scroll.set)
        self.rooms.bind("<Double-1>", lambda _e: self._join_selected())
        self.rooms.bind("<Return>", lambda _e: self._join_selected())
        self.rooms.bind("<<TreeviewSelect>>", lambda _e: self._update_buttons())
        self.empty_rooms = ttk.Label(rooms_box, text=presenter.empty_rooms_hint,
                                     style="Muted.TLabel")

        row = ttk.Frame(self)
        row.grid(row=2, column=0, sticky="ew", padx=(0, PAD * 1.5), pady=(PAD // 2, 0))
        self.join_button = ttk.Button(row, text="Join", style="Accent.TButton",
                                      command=self._join_selected, width=10)
        self.join_button.pack(side="left")
        bind_activate(self.join_button)
        self.refresh_button = ttk.Button(row, text="Refresh", command=actions.refresh)
        self.refresh_button.pack(side="left", padx=(PAD // 2, 0))
        self.join_error_var = tk.StringVar(self)
        ttk.Label(row, textvariable=self.join_error_var, style="Error.TLabel").pack(
            side="left", padx=PAD)

        # -- people ------------------------------------------------------------------
        ttk.Label(self, text="People online", style="Subtitle.TLabel").grid(
            row=0, column=1, sticky="w", pady=(0, PAD // 2))
        people_box = ttk.Frame(self)
        people_box.grid(row=1, column=1, sticky="nsew")
        people_box.columnconfigure(0, weight=1)
        people_box.rowconfigure(0, weight=1)
        self.people = ttk.Treeview(people_box, columns=("where",), selectmode="browse",
                                   show="tree")
        self.people.column("#0", width=150, minwidth=100, stretch=True)
        self.people.column("where", width=130, minwidth=80, stretch=True)
        self.people.grid(row=0, column=0, sticky="nsew")
        self.people.bind("<<TreeviewSelect>>", lambda _e: self._update_buttons())
        self.people.bind("<Double-1>", lambda _e: self._message_selected())
        self.empty_people = ttk.Label(people_box, text="Nobody else is online.",
                                      style="Muted.TLabel")
        prow = ttk.Frame(self)
        prow.grid(row=2, column=1, sticky="ew", pady=(PAD // 2, 0))
        self.message_button = ttk.Button(prow, text="Message", command=self._message_selected)
        self.message_button.pack(side="left")
        self.invite_button = ttk.Button(prow, text="Invite", command=self._invite_selected)
        self.invite_button.pack(side="left", padx=(PAD // 2, 0))
        self.invite_tip = Tooltip(self.invite_button,
                                  "Join a room first, then invite people into it.")
        self.people_hint = ttk.Label(self, text="Invite works from inside a room.",
                                     style="Small.TLabel")
        self.people_hint.grid(row=3, column=1, sticky="w", pady=(4, 0))
        self.can_invite = False
        theme.on_change(self.render)
        self.render()

    # -- actions --------------------------------------------------------------------

    def selected_room(self) -> str | None:
        """The name of the selected room."""
        selection = self.rooms.selection()
        if not selection:
            return None
        row = self.presenter.room(selection[0])
        return row.name if row is not None else None

    def selected_person(self) -> str | None:
        """The username of the selected person."""
        selection = self.people.selection()
        return selection[0] if selection else None

    def select_room(self, name: str) -> bool:
        """Select the room ``name``; False when it is not listed."""
        row = self.presenter.room(name)
        if row is None:
            return False
        self.rooms.selection_set(row.key)
        self.rooms.focus(row.key)
        self.rooms.see(row.key)
        self._update_buttons()
        return True

    def select_person(self, username: str) -> bool:
        """Select ``username`` in the people list."""
        if not self.people.exists(username):
            return False
        self.people.selection_set(username)
        self.people.focus(username)
        self._update_buttons()
        return True

    def _join_selected(self) -> None:
        name = self.selected_room()
        if name is not None:
            self.join_error_var.set("")
            self.actions.join(name)

    def _message_selected(self) -> None:
        person = self.selected_person()
        if person is not None:
            self.actions.message(person)

    def _invite_selected(self) -> None:
        person = self.selected_person()
        if person is not None and self.can_invite:
            self.actions.invite(person)

    def show_join_error(self, text: str) -> None:
        """A join refused for another reason than a password (shown by the dialog)."""
        self.join_error_var.set(text)

    # -- drawing --------------------------------------------------------------------

    def render(self) -> None:
        """Show the presenter's rooms and people, keeping the selections."""
        p = self.presenter
        fg = self.theme.palette.muted
        lock = self.icons.get("lock", fg, 16)
        blank = self.icons.get("blank", fg, 16)
        selected = self.rooms.selection()
        rows = p.room_rows()
        keys = [row.key for row in rows]
        for iid in self.rooms.get_children():
            if iid not in keys:
                self.rooms.delete(iid)
        for index, row in enumerate(rows):
            values = (row.people, row.owner)
            text = f" {row.name}"
            image = lock if row.locked else blank
            if self.rooms.exists(row.key):
                self.rooms.item(row.key, text=text, values=values, image=image)
                self.rooms.move(row.key, "", index)
            else:
                self.rooms.insert("", index, iid=row.key, text=text, values=values,
                                  image=image)
        still = [iid for iid in selected if self.rooms.exists(iid)]
        if still:
            self.rooms.selection_set(still)
        if rows:
            self.empty_rooms.place_forget()
        else:
            self.empty_rooms.place(relx=0.5, rely=0.45, anchor="center")
        self.summary_var.set(p.summary)

        person = self.selected_person()
        people = p.user_rows()
        names = [row.username for row in people]
        for iid in self.people.get_children():
            if iid not in names:
                self.people.delete(iid)
        person_icon = self.icons.get("person", fg, 16)
        for index, user in enumerate(people):
            if self.people.exists(user.username):
                self.people.item(user.username, values=(user.where,))
                self.people.move(user.username, "", index)
            else:
                self.people.insert("", index, iid=user.username, text=f" {user.username}",
                                   values=(user.where,), image=person_icon)
        if person and self.people.exists(person):
            self.people.selection_set(person)
        if people:
            self.empty_people.place_forget()
        else:
            self.empty_people.place(relx=0.5, rely=0.45, anchor="center")
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_room = self.selected_room() is not None
        has_person = self.selected_person() is not None
        self.join_button.state(["!disabled"] if has_room else ["disabled"])
        self.message_button.state(["!disabled"] if has_person else ["disabled"])
        self.invite_button.state(["!disabled"] if has_person and self.can_invite
                                 else ["disabled"])
