"""The login window: server, username (or email), email for new accounts, password."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from pymeet.gui.presenters.login import LOGIN, REGISTER, LoginForm, LoginPresenter, Mode
from pymeet.gui.views.theme import PAD, Theme
from pymeet.gui.views.widgets import Field, bind_activate

__all__ = ["LoginView"]


class LoginView(ttk.Frame):
    """Draws a `LoginPresenter`; reports submit and mode changes."""

    def __init__(self, master: tk.Misc, theme: Theme, presenter: LoginPresenter, *,
                 on_submit: Callable[[LoginForm], None],
                 on_dark: Callable[[bool], None]) -> None:
        super().__init__(master, padding=PAD * 2)
        self.theme = theme
        self.presenter = presenter
        self._on_submit = on_submit
        self.columnconfigure(0, weight=1)
        self.rowconfigure(0, weight=1)
        self.rowconfigure(2, weight=1)

        card = ttk.Frame(self, style="Card.TFrame", padding=(PAD * 3, PAD * 2.5))
        card.grid(row=1, column=0)
        self.card = card
        ttk.Label(card, text="PyMeet", style="Title.TLabel").pack(anchor="w")
        ttk.Label(card, text="Meetings on your own server", style="Muted.TLabel").pack(
            anchor="w", pady=(0, PAD * 1.5))

        self.mode_var = tk.StringVar(self, LOGIN)
        switch = ttk.Frame(card)
        switch.pack(fill="x", pady=(0, PAD))
        switch.columnconfigure((0, 1), weight=1, uniform="mode")
        self.login_tab = ttk.Radiobutton(switch, text="Log in", value=LOGIN,
                                         variable=self.mode_var, style="Toggle.TButton",
                                         command=self._mode_changed)
        self.login_tab.grid(row=0, column=0, sticky="ew", padx=(0, 2))
        self.register_tab = ttk.Radiobutton(switch, text="Create account", value=REGISTER,
                                            variable=self.mode_var, style="Toggle.TButton",
                                            command=self._mode_changed)
        self.register_tab.grid(row=0, column=1, sticky="ew", padx=(2, 0))

        self.fields_frame = ttk.Frame(card)
        self.fields_frame.pack(fill="x")
        self.fields = {
            "server": Field(self.fields_frame, "Server (address:port)"),
            "username": Field(self.fields_frame, "Username or email"),
            "email": Field(self.fields_frame, "Email"),
            "password": Field(self.fields_frame, "Password", show="•"),
        }
        for name, field in self.fields.items():
            field.entry.bind("<Return>", lambda _e: self.submit())
            field.entry.bind("<KP_Enter>", lambda _e: self.submit())
            field.var.trace_add("write", lambda *_a, n=name: self._changed(n))

        self.submit_button = ttk.Button(card, text="Log in", style="Accent.TButton",
                                        command=self.submit)
        self.submit_button.pack(fill="x", pady=(PAD // 2, 0), ipady=4)
        bind_activate(self.submit_button)
        self.progress = ttk.Progressbar(card, mode="indeterminate", length=200)
        self.status_var = tk.StringVar(self)
        self.status = ttk.Label(card, textvariable=self.status_var, style="Error.TLabel",
                                wraplength=380, justify="left")
        self.status.pack(anchor="w", fill="x", pady=(PAD // 2, 0))

        bottom = ttk.Frame(card)
        bottom.pack(fill="x", pady=(PAD, 0))
        self.dark_var = tk.BooleanVar(self, theme.dark)
        self.dark_switch = ttk.Checkbutton(bottom, text="Dark mode", variable=self.dark_var,
                                           style="Switch.TCheckbutton",
                                           command=lambda: on_dark(self.dark_var.get()))
        self.dark_switch.pack(side="left")
        self.render()

    # -- reading the form -----------------------------------------------------------

    @property
    def server_entry(self) -> ttk.Entry:
        return self.fields["server"].entry

    @property
    def username_entry(self) -> ttk.Entry:
        return self.fields["username"].entry

    @property
    def email_entry(self) -> ttk.Entry:
        return self.fields["email"].entry

    @property
    def password_entry(self) -> ttk.Entry:
        return self.fields["password"].entry

    def form(self) -> LoginForm:
        """What is typed now."""
        mode: Mode = REGISTER if self.mode_var.get() == REGISTER else LOGIN
        return LoginForm(mode=mode, server=self.fields["server"].value.strip(),
                         username=self.fields["username"].value.strip(),
                         password=self.fields["password"].value,
                         email=self.fields["email"].value.strip())

    def fill(self, server: str, username: str) -> None:
        """Prefill from the settings."""
        self.fields["server"].var.set(server)
        self.fields["username"].var.set(username)

    def error_text(self, name: str) -> str:
        """The inline message under field ``name``."""
        return self.fields[name].error_text

    # -- events ---------------------------------------------------------------------

    def submit(self) -> None:
        """Enter or the main button."""
        if self.presenter.busy:
            return
        self._on_submit(self.form())

    def _mode_changed(self) -> None:
        self.presenter.set_mode(REGISTER if self.mode_var.get() == REGISTER else LOGIN)
        self.render()
        self.focus_first_empty()

    def _changed(self, name: str) -> None:
        if self.presenter.attempted:
            self.presenter.recheck(self.form())
            self._render_errors()

    def focus_first_empty(self) -> None:
        """Put the cursor where typing should start."""
        for name in self.presenter.fields:
            if not self.fields[name].value:
                self.fields[name].entry.focus_set()
                return
        self.fields["password"].entry.focus_set()

    # -- drawing --------------------------------------------------------------------

    def render(self) -> None:
        """Show the presenter's state."""
        p = self.presenter
        self.mode_var.set(p.mode)
        for field in self.fields.values():
            field.frame.pack_forget()
        for name in p.fields:
            self.fields[name].frame.pack(fill="x", pady=(0, 6))
        self.fields["username"].caption.configure(text=p.username_label)
        self.fields["password"].caption.configure(
            text="Password" if p.mode == LOGIN else "Password (at least 8 characters)")
        self.submit_button.configure(text="Connecting…" if p.busy else p.submit_label)
        self.submit_button.state(["disabled"] if p.busy else ["!disabled"])
        for tab in (self.login_tab, self.register_tab):
            tab.state(["disabled"] if p.busy else ["!disabled"])
        self._render_errors()
        if p.busy:
            self.status.configure(style="Muted.TLabel")
            if not self.progress.winfo_ismapped():
                self.progress.pack(fill="x", pady=(PAD // 2, 0), before=self.status)
                self.progress.start(12)
        else:
            self.status.configure(style="Error.TLabel")
            self.progress.stop()
            self.progress.pack_forget()
        self.status_var.set(p.status)

    def _render_errors(self) -> None:
        for name, field in self.fields.items():
            field.set_error(self.presenter.errors.get(name))
