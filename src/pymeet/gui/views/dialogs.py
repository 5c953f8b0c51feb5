"""The app's dialogs: trusting a server, a changed server identity, room passwords,
creating a room, invitations, choosing devices, confirmations and plain notices."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk

from pymeet.client.known_servers import format_fingerprint
from pymeet.gui.presenters.devices import DevicesPresenter, MediaChoice
from pymeet.gui.presenters.lobby import validate_new_room
from pymeet.gui.views.theme import PAD, Theme
from pymeet.gui.views.widgets import Dialog

__all__ = [
    "ConfirmDialog",
    "CreateRoomDialog",
    "DevicesDialog",
    "IncomingInviteDialog",
    "InvitePickerDialog",
    "MismatchDialog",
    "NoticeDialog",
    "PasswordDialog",
    "TrustDialog",
    "fingerprint_lines",
]


def fingerprint_lines(fingerprint: str, per_line: int = 8) -> str:
    """``AB:CD:…`` in lines of ``per_line`` pairs, easy to compare by eye."""
    pairs = format_fingerprint(fingerprint).split(":")
    return "\n".join(":".join(pairs[i:i + per_line]) for i in range(0, len(pairs), per_line))


def _paragraph(parent: tk.Misc, text: str, style: str = "TLabel",
               wrap: int = 400) -> ttk.Label:
    label = ttk.Label(parent, text=text, wraplength=wrap, justify="left", style=style)
    label.pack(anchor="w", fill="x", pady=(0, PAD // 2))
    return label


def _mono(parent: tk.Misc, theme: Theme, text: str) -> tk.Label:
    p = theme.palette
    label = tk.Label(parent, text=text, font=(theme.mono, -15), justify="left", anchor="w",
                     background=p.card, foreground=p.fg, padx=PAD, pady=PAD // 2,
                     highlightthickness=1, highlightbackground=p.border)
    label.pack(anchor="w", fill="x", pady=(0, PAD // 2))
    return label


class TrustDialog(Dialog):
    """First contact with a server: show its fingerprint; Trust or Cancel."""

    def __init__(self, parent: tk.Misc, theme: Theme, host_port: str, fingerprint: str,
                 on_answer: Callable[[bool], None]) -> None:
        super().__init__(parent, theme, "Trust this server?",
                         on_cancel=lambda: on_answer(False))
        self.fingerprint_text = fingerprint_lines(fingerprint)
        _paragraph(self.body, f"You are connecting to {host_port} for the first time.")
        _paragraph(self.body, "Its certificate fingerprint is:", "Strong.TLabel")
        self.fingerprint_label = _mono(self.body, theme, self.fingerprint_text)
        _paragraph(self.body, "Compare it with the fingerprint the server printed when it "
                              "started (ask whoever runs it). If they match, choose Trust: "
                              "PyMeet remembers this server and warns you if it ever "
                              "changes.", "Muted.TLabel")
        self.cancel_button = self.add_button("Cancel", self.cancel)
        self.trust_button = self.add_button("Trust", self._trust, default=True)
        self._on_answer = on_answer
        self.show()

    def _trust(self) -> None:
        if not self.closed:
            answer = self._on_answer
            self.close()
            answer(True)


class MismatchDialog(Dialog):
    """A pinned server presented another certificate: the connection was refused."""

    def __init__(self, parent: tk.Misc, theme: Theme, host_port: str, expected: str,
                 actual: str, known_servers_path: str) -> None:
        super().__init__(parent, theme, "Warning: the server's identity has changed",
                         min_width=440)
        self.heading.configure(foreground=theme.palette.error)
        _paragraph(self.body, f"The server at {host_port} presented a different "
                              "certificate from the one you trusted before. Someone may be "
                              "intercepting the connection, so PyMeet refused to connect.",
                   wrap=440)
        _paragraph(self.body, "Trusted before:", "Strong.TLabel")
        _mono(self.body, theme, fingerprint_lines(expected))
        _paragraph(self.body, "Presented now:", "Strong.TLabel")
        _mono(self.body, theme, fingerprint_lines(actual))
        _paragraph(self.body, "If whoever runs the server confirms it got a new certificate, "
                              f"remove the line for {host_port} from {known_servers_path} "
                              "and connect again.", "Muted.TLabel", wrap=440)
        self.close_button = self.add_button("Close", self.cancel, default=True)
        self.show()


class NoticeDialog(Dialog):
    """A message with one OK button."""

    def __init__(self, parent: tk.Misc, theme: Theme, title: str, text: str,
                 on_close: Callable[[], None] | None = None) -> None:
        super().__init__(parent, theme, title, on_cancel=on_close)
        self.text = text
        _paragraph(self.body, text)
        self.ok_button = self.add_button("OK", self.cancel, default=True)
        self.show()


class ConfirmDialog(Dialog):
    """A question with Cancel and a default button that does what it says."""

    def __init__(self, parent: tk.Misc, theme: Theme, title: str, text: str, action: str,
                 on_confirm: Callable[[], None]) -> None:
        super().__init__(parent, theme, title)
        self.text = text
        _paragraph(self.body, text)
        self.cancel_button = self.add_button("Cancel", self.cancel)
        self.confirm_button = self.add_button(action, self._confirm, default=True)
        self._on_confirm = on_confirm
        self.show()

    def _confirm(self) -> None:
        if not self.closed:
            confirm = self._on_confirm
            self.close()
            confirm()


class PasswordDialog(Dialog):
    """The password of a locked room; a wrong one is said inline and may be retried."""

    def __init__(self, parent: tk.Misc, theme: Theme, room: str,
                 on_submit: Callable[[str], None], on_cancel: Callable[[], None]) -> None:
        super().__init__(parent, theme, "This room is locked", on_cancel=on_cancel)
        _paragraph(self.body, f"Enter the password of “{room}”.")
        self.var = tk.StringVar(self.window)
        self.entry = ttk.Entry(self.body, textvariable=self.var, show="•", width=36)
        self.entry.pack(fill="x")
        self.error_var = tk.StringVar(self.window)
        ttk.Label(self.body, textvariable=self.error_var, style="Error.TLabel").pack(
            anchor="w", pady=(4, 0))
        self.add_button("Cancel", self.cancel)
        self.join_button = self.add_button("Join", self._submit, default=True)
        self._on_submit = on_submit
        self.show(self.entry)

    def _submit(self) -> None:
        if not self.var.get():
            self.error_var.set("Enter the password.")
            return
        self.error_var.set("")
        self.join_button.state(["disabled"])
        self._on_submit(self.var.get())

    def failed(self, text: str) -> None:
        """The server refused: say why and let the person try again."""
        if self.closed:
            return
        self.error_var.set(text)
        self.join_button.state(["!disabled"])
        self.entry.select_range(0, "end")
        self.entry.focus_set()

    @property
    def error_text(self) -> str:
        """The inline message."""
        return self.error_var.get()


class CreateRoomDialog(Dialog):
    """A new room: its name and, optionally, a password."""

    def __init__(self, parent: tk.Misc, theme: Theme,
                 on_submit: Callable[[str, str | None], None]) -> None:
        super().__init__(parent, theme, "Create a room")
        ttk.Label(self.body, text="Room name", style="Strong.TLabel").pack(anchor="w")
        self.name_var = tk.StringVar(self.window)
        self.name_entry = ttk.Entry(self.body, textvariable=self.name_var, width=36)
        self.name_entry.pack(fill="x", pady=(4, 0))
        self.name_error = tk.StringVar(self.window)
        ttk.Label(self.body, textvariable=self.name_error, style="Error.TLabel",
                  wraplength=420, justify="left").pack(anchor="w")
        self.locked_var = tk.BooleanVar(self.window, False)
        self.locked_check = ttk.Checkbutton(self.body, text="Require a password to join",
                                            variable=self.locked_var,
                                            command=self._toggle_password)
        self.locked_check.pack(anchor="w", pady=(PAD // 2, 4))
        self.password_var = tk.StringVar(self.window)
        self.password_entry = ttk.Entry(self.body, textvariable=self.password_var, show="•",
                                        width=36, state="disabled")
        self.password_entry.pack(fill="x")
        self.password_error = tk.StringVar(self.window)
        ttk.Label(self.body, textvariable=self.password_error, style="Error.TLabel",
                  wraplength=420, justify="left").pack(anchor="w")
        _paragraph(self.body, "You become the room's host. It stays until you delete it.",
                   "Muted.TLabel")
        self.add_button("Cancel", self.cancel)
        self.create_button = self.add_button("Create and join", self._submit, default=True)
        self._on_submit = on_submit
        self.show(self.name_entry)

    def _toggle_password(self) -> None:
        self.password_entry.configure(state="normal" if self.locked_var.get() else "disabled")
        if self.locked_var.get():
            self.password_entry.focus_set()
        else:
            self.password_error.set("")

    def _submit(self) -> None:
        errors = validate_new_room(self.name_var.get(), self.locked_var.get(),
                                   self.password_var.get())
        self.name_error.set(errors.get("room", ""))
        self.password_error.set(errors.get("password", ""))
        if errors:
            return
        self.create_button.state(["disabled"])
        password = self.password_var.get() if self.locked_var.get() else None
        self._on_submit(self.name_var.get().strip(), password)

    def failed(self, field: str | None, text: str) -> None:
        """The server refused (for example, the name is taken)."""
        if self.closed:
            return
        (self.password_error if field == "password" else self.name_error).set(text)
        self.create_button.state(["!disabled"])


class IncomingInviteDialog(Dialog):
    """Someone invites this user into their room: Join or Decline."""

    def __init__(self, parent: tk.Misc, theme: Theme, inviter: str, room: str,
                 on_answer: Callable[[bool], None]) -> None:
        super().__init__(parent, theme, "You are invited",
                         on_cancel=lambda: on_answer(False))
        self.inviter = inviter
        self.room = room
        _paragraph(self.body, f"{inviter} invites you to join “{room}”.")
        _paragraph(self.body, "Joining leaves the room you are in now, if any.",
                   "Muted.TLabel")
        self.decline_button = self.add_button("Decline", self.cancel)
        self.join_button = self.add_button("Join", self._join, default=True)
        self._on_answer = on_answer
        self.show()

    def _join(self) -> None:
        if not self.closed:
            answer = self._on_answer
            self.close()
            answer(True)


class InvitePickerDialog(Dialog):
    """Choose an online person to invite into the current room."""

    def __init__(self, parent: tk.Misc, theme: Theme, people: Sequence[tuple[str, str]],
                 on_invite: Callable[[str], None]) -> None:
        super().__init__(parent, theme, "Invite someone")
        self._on_invite = on_invite
        if not people:
            _paragraph(self.body, "Nobody else is online right now.", "Muted.TLabel")
        self.tree = ttk.Treeview(self.body, columns=("where",), show="tree", height=7,
                                 selectmode="browse")
        self.tree.column("#0", width=220)
        self.tree.column("where", width=200)
        for name, where in people:
            self.tree.insert("", "end", iid=name, text=name, values=(where,))
        self.tree.pack(fill="both", expand=True)
        self.tree.bind("<Double-1>", lambda _e: self._invite())
        self.status_var = tk.StringVar(self.window)
        ttk.Label(self.body, textvariable=self.status_var, style="Muted.TLabel",
                  wraplength=420).pack(anchor="w", pady=(4, 0))
        self.add_button("Close", self.cancel)
        self.invite_button = self.add_button("Invite", self._invite, default=True)
        if people:
            self.tree.selection_set(people[0][0])
            self.tree.focus(people[0][0])
        self.show(self.tree)

    def _invite(self) -> None:
        selected = self.tree.selection()
        if not selected:
            self.status_var.set("Choose someone first.")
            return
        self._on_invite(selected[0])

    def set_status(self, text: str) -> None:
        """Say how the invitation went."""
        if not self.closed:
            self.status_var.set(text)


class DevicesDialog(Dialog):
    """Choose the camera, microphone and speaker."""

    def __init__(self, parent: tk.Misc, theme: Theme, devices: DevicesPresenter,
                 on_apply: Callable[[MediaChoice], None]) -> None:
        super().__init__(parent, theme, "Camera, microphone and speaker")
        self._on_apply = on_apply
        current = devices.choice
        self._rows: dict[str, tuple[ttk.Combobox, list[tuple[str, str]]]] = {}
        for key, caption, options, value in (
                ("camera", "Camera", devices.camera_options(), current.camera),
                ("microphone", "Microphone", devices.microphone_options(), current.microphone),
                ("speaker", "Speaker", devices.speaker_options(), current.speaker)):
            ttk.Label(self.body, text=caption, style="Strong.TLabel").pack(anchor="w")
            box = ttk.Combobox(self.body, state="readonly", width=40,
                               values=[label for label, _ in options])
            labels = {v: label for label, v in options}
            box.set(labels.get(value, options[0][0]))
            box.pack(fill="x", pady=(4, PAD))
            self._rows[key] = (box, options)
        missing = devices.unavailable_summary()
        if missing:
            _paragraph(self.body, "Not available on this computer:", "Strong.TLabel")
            for line in missing:
                _paragraph(self.body, "• " + line, "Muted.TLabel")
        self.add_button("Cancel", self.cancel)
        self.apply_button = self.add_button("Apply", self._apply, default=True)
        self.show(self._rows["camera"][0])

    def selected(self, key: str) -> str:
        """The value chosen for ``key`` (camera, microphone or speaker)."""
        box, options = self._rows[key]
        label = box.get()
        return next((value for text, value in options if text == label), options[0][1])

    def _apply(self) -> None:
        choice = MediaChoice(self.selected("camera"), self.selected("microphone"),
                             self.selected("speaker"))
        apply = self._on_apply
        self.close()
        apply(choice)
