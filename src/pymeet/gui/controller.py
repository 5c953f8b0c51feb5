"""`GuiApp`: the Tk root, its views and presenters, and the glue between them.

Everything in this module runs on the Tk (main) thread. Work for the network is
handed to `NetworkThread.run` as coroutines of `NetSession`; their outcomes, the
client's events, and the trust question come back through the `UiQueue`, which
`_tick` drains every `TICK_MS` in batches of at most `UiQueue.batch` items. Video
frames, audio levels and file-transfer progress come through mailboxes: per tick, at
most the newest frame of each tile is converted to a Tk image, here on the Tk thread,
and the newest progress of each transfer is shown.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
import time
import tkinter as tk
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pymeet.client.errors import CertificateMismatch, ClientError, ConnectionClosed
from pymeet.client.files import FileIntegrityError, FileTransferError
from pymeet.client.known_servers import KnownServers
from pymeet.gui.bridge import Mailbox, NetworkThread, UiQueue
from pymeet.gui.media_setup import SELF
from pymeet.gui.presenters.chat import ROOM_TAB, ChatPresenter, ChatTab
from pymeet.gui.presenters.devices import DevicesPresenter, MediaChoice
from pymeet.gui.presenters.lobby import LobbyPresenter, join_error_text
from pymeet.gui.presenters.login import (
    REGISTER,
    LoginForm,
    LoginPresenter,
    describe_error,
    parse_server_address,
)
from pymeet.gui.presenters.room import RoomPresenter
from pymeet.gui.presenters.status import ConnectionPresenter, quality_from_snapshot
from pymeet.gui.presenters.transfers import Failure, TransfersPresenter, default_download_dir
from pymeet.gui.session import JoinState, LobbyState, MediaState, NetSession
from pymeet.gui.settings import GuiSettings, load_settings, save_settings
from pymeet.gui.views.chat import ChatView
from pymeet.gui.views.dialogs import (
    ConfirmDialog,
    CreateRoomDialog,
    DevicesDialog,
    IncomingInviteDialog,
    InvitePickerDialog,
    MismatchDialog,
    NoticeDialog,
    PasswordDialog,
    TrustDialog,
)
from pymeet.gui.views.icons import Icons
from pymeet.gui.views.lobby import LobbyActions, LobbyView
from pymeet.gui.views.login import LoginView
from pymeet.gui.views.pickers import FilePicker, TkFilePicker
from pymeet.gui.views.room import ParticipantsPanel, RoomActions, RoomView
from pymeet.gui.views.shell import Shell
from pymeet.gui.views.theme import PAD, Theme
from pymeet.gui.views.widgets import Dialog
from pymeet.protocol.errors import InvalidField, RequestError
from pymeet.protocol.validation import check_text, identity_key

__all__ = ["GuiApp", "GuiOptions"]

logger = logging.getLogger(__name__)

TICK_MS = 30
POLL_SECONDS = 1.0
USERS_REFRESH_SECONDS = 1.0
LOGIN_SIZE = (520, 720)
LOGIN_MIN = (440, 680)
MAIN_SIZE = (1220, 780)
MAIN_MIN = (940, 600)

Image = np.ndarray[Any, np.dtype[np.uint8]]


@dataclass(frozen=True)
class GuiOptions:
    """Command-line choices; None means "as in the settings file"."""

    server: str | None = None
    synthetic_media: bool | None = None
    dark: bool | None = None


class GuiApp:
    """The desktop client (see the module docstring). Build it on the main thread."""

    def __init__(self, options: GuiOptions | None = None,
                 settings: GuiSettings | None = None) -> None:
        options = options or GuiOptions()
        self.settings = settings or load_settings()
        if options.server:
            self.settings.server = options.server
        if options.synthetic_media is not None:
            self.settings.synthetic_media = options.synthetic_media
        if options.dark is not None:
            self.settings.dark = options.dark
        self._tk_thread = threading.get_ident()

        self.root = tk.Tk(className="PyMeet")
        self.root.title("PyMeet")
        self.theme = Theme(self.root, dark=self.settings.dark)
        self.icons = Icons(self.root)
        self.root.protocol("WM_DELETE_WINDOW", self.quit)

        self.ui = UiQueue()
        self.net = NetworkThread(self.ui)
        self.frames: Mailbox[str, Image] = Mailbox()
        self.levels: Mailbox[str, tuple[float, bool]] = Mailbox()
        self.progress: Mailbox[str, tuple[int, int]] = Mailbox()
        """(done, total) of each file transfer, put by the network thread."""
        self.picker: FilePicker = TkFilePicker()
        self.known_servers = KnownServers()
        self.session = NetSession(self.ui, known_servers=self.known_servers,
                                  on_event=self.on_event, ask_trust=self.ask_trust,
                                  frames=self.frames, levels=self.levels,
                                  video_quality=self._video_quality())

        self.login = LoginPresenter()
        self.lobby = LobbyPresenter()
        self.room = RoomPresenter()
        self.chat = ChatPresenter()
        self.connection = ConnectionPresenter()
        self.devices = DevicesPresenter(choice=self._initial_choice())
        self.transfers = TransfersPresenter()
        self._upload_dir = ""
        self.me: str | None = None
        self.want_mic = self.settings.synthetic_media
        self.want_cam = self.settings.synthetic_media
        self.room_password: str | None = None
        self._joining = False
        self._closed = False
        self._next_poll = 0.0
        self._users_refreshed = 0.0
        self._users_refresh_pending = False
        self.dialogs: list[Dialog] = []
        self.password_dialog: PasswordDialog | None = None
        self.create_dialog: CreateRoomDialog | None = None
        self.invite_picker: InvitePickerDialog | None = None

        self._build_views()
        self.net.start()
        self.net.run(self.session.probe(), self._on_probe,
                     lambda exc: logger.warning("device probing failed: %s", exc))
        self.net.run(self.session.probe_screen(), self._on_screen_probe,
                     lambda exc: self._on_screen_probe(str(exc)))
        self.show_login()
        self._after = self.root.after(TICK_MS, self._tick)

    # -- construction --------------------------------------------------------------------

    def _video_quality(self) -> str:
        return "low" if self.settings.synthetic_media else self.settings.video_quality

    def _initial_choice(self) -> MediaChoice:
        s = self.settings
        if s.synthetic_media:
            return MediaChoice.synthetic()
        return MediaChoice(
            camera=f"camera:{s.camera_index}",
            microphone="default" if s.microphone is None else f"device:{s.microphone}",
            speaker="default" if s.speaker is None else f"device:{s.speaker}")

    def _build_views(self) -> None:
        root, theme, icons = self.root, self.theme, self.icons
        self.login_view = LoginView(root, theme, self.login, on_submit=self.submit_login,
                                    on_dark=self.set_dark)
        self.login_view.fill(self.settings.server, self.settings.username)
        self.shell = Shell(root, theme, on_dark=self.set_dark, on_logout=self.logout)
        self.lobby_view = LobbyView(self.shell.content, theme, icons, self.lobby, LobbyActions(
            join=self.join_room, create=self.create_room, refresh=self.refresh_lobby,
            message=self.open_dm, invite=self.invite))
        room_actions = RoomActions(
            toggle_mic=self.toggle_mic, toggle_cam=self.toggle_cam, devices=self.choose_devices,
            toggle_hand=self.toggle_hand, leave=self.leave_room, invite=self.pick_invitee,
            message=self.open_dm, toggle_screen=self.toggle_screen, mute=self.mute_member,
            remove=self.remove_member, mute_all=self.mute_all)
        self.room_view = RoomView(self.shell.content, theme, icons, self.room, self.devices,
                                  room_actions)
        self.participants = ParticipantsPanel(self.shell.side, theme, icons, self.room,
                                              room_actions)
        self.chat_view = ChatView(self.shell.side, theme, icons, self.chat, self.transfers,
                                  on_select=self.select_tab, on_close=self.close_tab,
                                  on_send=self.send_message, on_send_file=self.send_file,
                                  on_download=self.download_file)
        self.chat_view.grid(row=1, column=0, sticky="nsew")

    # -- the Tk side of the bridge -------------------------------------------------------

    def _tick(self) -> None:
        """Drain the queue (capped), show the newest frames and levels, poll stats."""
        if self._closed:
            return
        try:
            self.ui.drain()
            self._show_media()
            self._show_transfers()
            now = time.monotonic()
            if now >= self._next_poll:
                self._next_poll = now + POLL_SECONDS
                self._poll()
        except Exception:
            logger.exception("GUI tick failed")
        finally:
            if not self._closed:
                self._after = self.root.after(TICK_MS, self._tick)

    def _show_media(self) -> None:
        frames = self.frames.take()
        levels = self.levels.take()
        if not self.room.in_room or self.me is None:
            return
        me = identity_key(self.me)
        now = time.monotonic()
        for key, (level, speaking) in levels.items():
            name = self.me if key == SELF else key
            if self.room.has_member(name):
                self.room.set_level(name, level, speaking, now)
        self.room_view.grid_view.sync(self.room.tiles(now))
        for key, frame in frames.items():
            self.room_view.grid_view.show_frame(me if key == SELF else key, frame)

    def _show_transfers(self) -> None:
        changed = False
        for key, (done, total) in self.progress.take().items():
            changed = self.transfers.progress(key, done, total) or changed
        if changed:
            self.chat_view.render_transfers()

    def _poll(self) -> None:
        if self.room.in_room and self.connection.can_send:
            self.net.run(self.session.media_state(), self._on_media_poll)
        self.shell.set_banner(self.connection.banner(time.monotonic()))

    def assert_tk_thread(self) -> None:
        """Fail loudly if called from another thread (a bug)."""
        assert threading.get_ident() == self._tk_thread, "Tk touched off the main thread"

    # -- windows -------------------------------------------------------------------------

    def _geometry(self, size: tuple[int, int], minimum: tuple[int, int]) -> None:
        # Size only: the window stays where the person (or window manager) put it.
        self.root.minsize(*minimum)
        self.root.geometry(f"{size[0]}x{size[1]}")

    def show_login(self) -> None:
        """The login window."""
        self.shell.pack_forget()
        self.login_view.pack(fill="both", expand=True)
        self.root.title("PyMeet — Log in")
        self._geometry(LOGIN_SIZE, LOGIN_MIN)
        self.login_view.render()
        self.login_view.focus_first_empty()

    def show_lobby(self) -> None:
        """The lobby in the main window."""
        self._show_main()
        self.shell.show(self.lobby_view)
        self.participants.grid_forget()
        self.shell.where_var.set("· Lobby")
        self.root.title(f"PyMeet — {self.me} — Lobby")
        self.lobby_view.can_invite = False
        self.lobby_view.render()
        self.chat_view.refresh()

    def show_room(self) -> None:
        """The room in the main window."""
        self._show_main()
        self.shell.show(self.room_view)
        self.participants.grid(row=0, column=0, sticky="nsew", pady=(0, PAD))
        self.shell.where_var.set("· Meeting")
        self.root.title(f"PyMeet — {self.room.room}")
        self.render_room()
        self.chat_view.refresh()
        self.chat_view.entry.focus_set()

    def _show_main(self) -> None:
        if not self.shell.winfo_ismapped() or self.login_view.winfo_ismapped():
            self.login_view.pack_forget()
            self.shell.pack(fill="both", expand=True)
            self._geometry(MAIN_SIZE, MAIN_MIN)
        self.shell.user_var.set(self.me or "")

    def render_room(self) -> None:
        """Draw the room view and the participant list."""
        self.room_view.render()
        self.participants.render()

    def set_dark(self, dark: bool) -> None:
        """Switch between light and dark, and remember it."""
        self.settings.dark = dark
        self.theme.apply(dark)
        self.login_view.dark_var.set(dark)
        self.shell.dark_var.set(dark)
        save_settings(self.settings)

    # -- trust ---------------------------------------------------------------------------

    def ask_trust(self, host_port: str, fingerprint: str,
                  answer: Callable[[bool], None]) -> None:
        """First contact with a server: the person decides (posted by `NetSession`)."""
        self.assert_tk_thread()
        self.login.status = "Check the server's fingerprint…"
        self.login_view.render()
        dialog = TrustDialog(self.root, self.theme, host_port, fingerprint, answer)
        self._track(dialog)

    def _track(self, dialog: Dialog) -> None:
        self.dialogs = [d for d in self.dialogs if not d.closed] + [dialog]

    def open_dialogs(self, kind: type[Dialog] | None = None) -> list[Dialog]:
        """Dialogs still open (of one kind)."""
        return [d for d in self.dialogs if not d.closed
                and (kind is None or isinstance(d, kind))]

    # -- login ---------------------------------------------------------------------------

    def submit_login(self, form: LoginForm) -> None:
        """Log in or create the account, after checking the form."""
        if not self.login.submit(form):
            self.login_view.render()
            return
        host, port = parse_server_address(form.server)
        self.login.start(f"Connecting to {host}:{port}…")
        self.login_view.render()
        email = form.email if form.mode == REGISTER else None
        self.net.run(self.session.sign_in(host, port, form.username, form.password,
                                          email=email),
                     lambda result: self._signed_in(form, *result), self._sign_in_failed)

    def _sign_in_failed(self, exc: BaseException) -> None:
        self.login.failed(exc)
        self.login_view.render()
        if isinstance(exc, CertificateMismatch):
            self._track(MismatchDialog(self.root, self.theme, exc.host_port, exc.expected,
                                       exc.actual, str(self.known_servers.path)))

    def _signed_in(self, form: LoginForm, user: dict[str, Any], lobby: LobbyState) -> None:
        self.login.done()
        self.login_view.fields["password"].var.set("")
        self.me = str(user.get("username", form.username))
        self.settings.server = form.server
        self.settings.username = self.me
        save_settings(self.settings)
        self.connection.connected()
        for presenter in (self.lobby, self.chat):
            presenter.set_me(self.me)
        self.lobby.set_rooms(lobby.rooms)
        self.lobby.set_users(lobby.users)
        self._users_refreshed = time.monotonic()
        self.show_lobby()

    def logout(self) -> None:
        """Log out and return to the login window."""
        self.net.run(self.session.logout())
        self._reset()
        self.login.status = ""
        self.show_login()

    def _reset(self) -> None:
        for dialog in self.open_dialogs():
            dialog.close()
        self.me = None
        self.room_password = None
        self.room.leave()
        self.chat = ChatPresenter()
        self.chat_view.presenter = self.chat
        self.lobby = LobbyPresenter()
        self.lobby_view.presenter = self.lobby
        self.transfers = TransfersPresenter()
        self.chat_view.transfers = self.transfers
        self.progress.take()
        self.connection.offline()
        self.chat_view.connected = True
        self.shell.set_banner(None)
        self.chat_view.refresh(force=True)
        self.room_view.grid_view.sync([])

    # -- lobby ---------------------------------------------------------------------------

    def refresh_lobby(self) -> None:
        """Fetch rooms and people again."""
        self.net.run(self.session.lobby(), self._lobby_fetched, self._soft_error)

    def _lobby_fetched(self, lobby: LobbyState) -> None:
        self.lobby.set_rooms(lobby.rooms)
        self.lobby.set_users(lobby.users)
        self._users_refreshed = time.monotonic()
        self.lobby_view.render()

    def _refresh_users_soon(self) -> None:
        # lobby.update says a count changed, not who went where: refresh user.list,
        # at most every USERS_REFRESH_SECONDS.
        if self._users_refresh_pending:
            return
        wait = max(0.0, self._users_refreshed + USERS_REFRESH_SECONDS - time.monotonic())
        self._users_refresh_pending = True

        def go() -> None:
            self._users_refresh_pending = False
            if self.me is None or not self.connection.can_send:
                return
            self._users_refreshed = time.monotonic()
            self.net.run(self.session.users(), self._users_fetched, self._soft_error)

        self.root.after(int(wait * 1000), go)

    def _users_fetched(self, users: list[dict[str, Any]]) -> None:
        self.lobby.set_users(users)
        self.lobby_view.render()

    def _soft_error(self, exc: BaseException) -> None:
        logger.info("request failed: %s", exc)

    def create_room(self) -> None:
        """Ask for a new room's name (and password), create it and join it."""
        def submit(name: str, password: str | None) -> None:
            self.net.run(self.session.create_room(name, password),
                         lambda room: self._room_created(dialog, room, password),
                         lambda exc: self._create_failed(dialog, exc))

        dialog = CreateRoomDialog(self.root, self.theme, submit)
        self.create_dialog = dialog
        self._track(dialog)

    def _room_created(self, dialog: CreateRoomDialog, room: dict[str, Any],
                      password: str | None) -> None:
        dialog.close()
        self._join(str(room.get("name")), password)

    def _create_failed(self, dialog: CreateRoomDialog, exc: BaseException) -> None:
        if isinstance(exc, RequestError):
            if exc.raw_code == "room_exists":
                dialog.failed("room", "A room with this name exists already.")
            else:
                dialog.failed(exc.field, exc.message[:1].upper() + exc.message[1:])
        else:
            dialog.failed(None, describe_error(exc)[1])

    def join_room(self, name: str) -> None:
        """Join ``name``, asking for its password when it is locked."""
        row = self.lobby.room(name)
        if row is not None and row.locked:
            dialog = PasswordDialog(self.root, self.theme, row.name,
                                    on_submit=lambda pw: self._join(row.name, pw, dialog),
                                    on_cancel=lambda: None)
            self.password_dialog = dialog
            self._track(dialog)
            return
        self._join(name, None)

    def _join(self, name: str, password: str | None,
              dialog: PasswordDialog | None = None) -> None:
        if self._joining:
            return
        self._joining = True
        self.net.run(self.session.join(name, password, self.devices.choice),
                     lambda state: self._joined(state, dialog),
                     lambda exc: self._join_failed(exc, dialog))

    def _join_failed(self, exc: BaseException, dialog: PasswordDialog | None) -> None:
        self._joining = False
        if isinstance(exc, RequestError):
            text = join_error_text(exc.raw_code, exc.message)
        else:
            text = describe_error(exc)[1]
        if dialog is not None and not dialog.closed:
            dialog.failed(text)
        else:
            self.lobby_view.show_join_error(text)

    def _joined(self, state: JoinState, dialog: PasswordDialog | None) -> None:
        self._joining = False
        if dialog is not None:
            dialog.close()
        if self.me is None:
            return
        self.room_password = state.password
        self.room.enter(state.room, state.members, self.me, state.hands)
        self.chat.enter_room(self.room.room or "", state.history, state.files)
        self.lobby.set_user_room(self.me, self.room.room)
        self.show_room()
        self.room_view.show_quality(quality_from_snapshot(None))
        if self.want_cam and self.devices.camera().available:
            self.net.run(self.session.set_cam(True), self._media_changed, self._soft_error)
        if self.want_mic and self.devices.microphone().available:
            self.net.run(self.session.set_mic(True), self._media_changed, self._soft_error)

    def leave_room(self) -> None:
        """Back to the lobby."""
        self.net.run(self.session.leave(), lambda _r: self.refresh_lobby(), self._soft_error)
        self._left_room()

    def _left_room(self) -> None:
        self.room.leave()
        self.chat.leave_room()
        self.room_password = None
        self.room_view.grid_view.sync([])
        self.frames.take()
        self.show_lobby()

    # -- people, invitations ---------------------------------------------------------------

    def open_dm(self, username: str) -> None:
        """Open (or show) the conversation with ``username``."""
        key = self.chat.open_dm(username)
        self.chat_view.refresh()
        self.chat_view.entry.focus_set()
        if not self.chat.tabs[key].history_loaded:
            self.net.run(self.session.dm_history(username),
                         lambda result: self._dm_history(username, *result), self._soft_error)

    def _dm_history(self, username: str, messages: list[dict[str, Any]],
                    files: list[dict[str, Any]]) -> None:
        self.chat.load_dm_history(username, messages, files)
        self.chat_view.refresh()

    def invite(self, username: str) -> None:
        """Invite ``username`` into the current room."""
        def sent(_result: object) -> None:
            text = f"Invitation sent to {username}."
            if self.invite_picker is not None:
                self.invite_picker.set_status(text)
            if ROOM_TAB in self.chat.tabs:
                self.chat.notice(ROOM_TAB, f"You invited {username}.", time.time())
                self.chat_view.refresh()

        def failed(exc: BaseException) -> None:
            if isinstance(exc, RequestError) and exc.raw_code == "user_offline":
                text = f"{username} is not online any more."
            elif isinstance(exc, RequestError) and exc.raw_code == "not_in_room":
                text = "Join a room first, then invite people into it."
            else:
                text = describe_error(exc)[1]
            if self.invite_picker is not None:
                self.invite_picker.set_status(text)

        self.net.run(self.session.invite(username), sent, failed)

    def pick_invitee(self) -> None:
        """Choose someone online to invite into this room."""
        people = [(row.username, row.where) for row in self.lobby.user_rows()
                  if not self.room.has_member(row.username)]
        dialog = InvitePickerDialog(self.root, self.theme, people, self.invite)
        self.invite_picker = dialog
        self._track(dialog)
        # Who is online may have changed since the lobby: refresh the list.
        self._refresh_users_soon()

    def _incoming_invite(self, inviter: str, room: str) -> None:
        def answer(accept: bool) -> None:
            self.net.run(self.session.answer(inviter, accept), None, self._soft_error)
            if accept:
                self._join(room, None)

        self._track(IncomingInviteDialog(self.root, self.theme, inviter, room, answer))

    # -- chat ------------------------------------------------------------------------------

    def select_tab(self, key: str) -> None:
        """Show conversation ``key``."""
        self.chat.select(key)
        self.chat_view.refresh()

    def close_tab(self, key: str) -> None:
        """Close a direct conversation."""
        self.chat.close(key)
        self.chat_view.refresh()

    def send_message(self, text: str) -> None:
        """Send ``text`` to the conversation shown."""
        try:
            text = check_text(text)
        except InvalidField as exc:
            self.chat_view.show_error(exc.message[:1].upper() + exc.message[1:] + ".")
            return
        if not self.connection.can_send:
            self.chat_view.show_error("Not connected. Your message was not sent.")
            return
        key = self.chat.active
        tab = self.chat.tabs.get(key or "")
        if tab is None:
            return

        def sent(message: dict[str, Any]) -> None:
            if tab.peer is None:
                self.chat.add_chat(message)
            else:
                self.chat.add_dm(message)
            if self.chat_view.entry_var.get().strip() == text:
                self.chat_view.clear_entry()
            self.chat_view.refresh()

        def failed(exc: BaseException) -> None:
            if isinstance(exc, RequestError) and exc.raw_code == "user_not_found":
                self.chat_view.show_error(f"{tab.peer} does not exist any more.")
            elif isinstance(exc, ConnectionClosed | ClientError):
                self.chat_view.show_error("Not connected. Your message was not sent.")
            else:
                self.chat_view.show_error(describe_error(exc)[1])

        if tab.peer is None:
            self.net.run(self.session.send_chat(text), sent, failed)
        else:
            self.net.run(self.session.send_dm(tab.peer, text), sent, failed)

    # -- files (PROTOCOL.md §3.4) -------------------------------------------------------------

    def _progress_to(self, key: str) -> Callable[[int, int], None]:
        # Called on the network thread: it may only touch the mailbox (bridge.py).
        progress = self.progress

        def report(done: int, total: int) -> None:
            progress.put(key, (done, total))

        return report

    def download_dir(self) -> str:
        """Where the folder chooser opens: the last folder used, else ~/Downloads, else
        the home folder."""
        chosen = self.settings.download_dir
        if chosen and Path(chosen).is_dir():
            return chosen
        home = Path.home()
        return default_download_dir(str(home), (home / "Downloads").is_dir())

    def send_file(self) -> None:
        """Send-file: choose a file and share it with the conversation shown."""
        tab = self.chat.tabs.get(self.chat.active or "")
        if tab is None:
            return
        if not self.connection.can_send:
            self.chat_view.show_error("Not connected. Try again when reconnected.")
            return
        start = self._upload_dir or self.download_dir()
        path = self.picker.open_file(self.root, "Send a file", start)
        if path:
            self.send_path(path, tab)

    def send_path(self, path: str, tab: ChatTab) -> None:
        """Upload ``path`` to the conversation ``tab`` (the room, or one person)."""
        name = Path(path).name
        try:
            size = os.path.getsize(path)
        except OSError as exc:
            self.chat_view.show_error(f"Could not read {name}: {exc.strerror or exc}.")
            return
        room = self.room.room if tab.peer is None else None
        to = tab.peer
        if room is None and to is None:
            return
        self._upload_dir = str(Path(path).parent)
        key = self.transfers.start_upload(name, size, path)
        self.chat_view.show_error("")
        self.chat_view.render_transfers()

        def sent(info: dict[str, Any]) -> None:
            self.transfers.finished(key)
            # The server tells the *others* (file.shared); this side shows its reply.
            self.chat.add_file({"file": info, "room": room, "to": to})
            self.chat_view.refresh()
            self.chat_view.render_transfers()

        def failed(exc: BaseException) -> None:
            text = self.transfers.failed(key, transfer_failure(exc))
            self.chat_view.show_error(text)
            self.chat_view.render_transfers()

        self.net.run(self.session.upload(path, room=room, to=to,
                                         progress=self._progress_to(key)), sent, failed)

    def download_file(self, file_id: str) -> None:
        """Download on a file card: choose a folder, fetch, verify, show the outcome."""
        info = self.chat.file_info(file_id)
        if info is None or self.transfers.running(file_id):
            return
        folder = self.picker.choose_folder(self.root, "Save the file in", self.download_dir())
        if not folder:
            return
        self.settings.download_dir = folder
        save_settings(self.settings)
        self.start_download(info, folder)

    def start_download(self, info: Mapping[str, Any], folder: str) -> None:
        """Fetch the file ``info`` into ``folder`` (checked against its SHA-256)."""
        file_id = str(info.get("id", ""))
        size = info.get("size")
        if not self.transfers.start_download(file_id, str(info.get("name", "file")),
                                             size if isinstance(size, int) else 0):
            return
        self.chat_view.render_transfers()

        def saved(path: str) -> None:
            self.transfers.finished(file_id, path)
            self.chat_view.render_transfers()

        def failed(exc: BaseException) -> None:
            self.transfers.failed(file_id, transfer_failure(exc))
            self.chat_view.render_transfers()

        self.net.run(self.session.download(info, folder, self._progress_to(file_id)),
                     saved, failed)

    # -- media -----------------------------------------------------------------------------

    def _on_probe(self, report: Any) -> None:
        self.devices.set_report(report)
        if self.room.in_room:
            self.room_view.render_controls()

    def toggle_mic(self) -> None:
        """Microphone on or off."""
        self.want_mic = not self.room.own_mic
        self.net.run(self.session.set_mic(self.want_mic), self._media_changed, self._soft_error)

    def toggle_cam(self) -> None:
        """Camera on or off."""
        self.want_cam = not self.room.own_cam
        self.net.run(self.session.set_cam(self.want_cam), self._media_changed, self._soft_error)

    def _on_screen_probe(self, problem: str | None) -> None:
        self.devices.set_screen_probe(problem)
        if self.room.in_room:
            self.room_view.render_controls()

    def _media_changed(self, state: MediaState) -> None:
        self.devices.set_problems(state.problems)
        self.room.set_own_media(state.mic, state.cam, state.screen)
        if self.room.in_room:
            self.render_room()

    def _on_media_poll(self, state: MediaState) -> None:
        if not self.room.in_room:
            return
        self.room_view.show_quality(quality_from_snapshot(state.snapshot))
        if (state.mic, state.cam, state.screen) != (
                self.room.own_mic, self.room.own_cam, self.room.own_screen) or (
                state.problems != self.devices.problems):
            self._media_changed(state)

    def toggle_screen(self) -> None:
        """Share the screen (instead of the camera), or stop sharing."""
        on = not self.room.own_screen

        def done(state: MediaState) -> None:
            self._media_changed(state)
            if on and not state.screen and self.room.in_room:
                self.room_view.show_notice("Your screen could not be shared: "
                                           f"{state.problems.get('screen', 'unknown reason')}.")

        self.net.run(self.session.set_screen(on), done, self._soft_error)

    def toggle_hand(self) -> None:
        """Raise or lower the hand."""
        up = not self.room.own_hand

        def done(hands: list[str]) -> None:
            self.room.set_own_hand(up, hands)
            self.render_room()

        self.net.run(self.session.raise_hand(up), done, self._soft_error)

    # -- moderation (the room's owner; PROTOCOL.md §3.4) ------------------------------------

    def _moderation_failed(self, username: str) -> Callable[[BaseException], None]:
        def failed(exc: BaseException) -> None:
            if isinstance(exc, RequestError) and exc.raw_code == "forbidden":
                text = "Only the room's host can do that."
            elif isinstance(exc, RequestError) and exc.raw_code == "user_not_found":
                text = f"{username} is not in the room any more."
            else:
                text = describe_error(exc)[1]
            if self.room.in_room:
                self.room_view.show_notice(text)

        return failed

    def _room_notice(self, text: str) -> None:
        if ROOM_TAB in self.chat.tabs:
            self.chat.notice(ROOM_TAB, text, time.time())
            self.chat_view.refresh()

    def mute_member(self, username: str) -> None:
        """Turn off ``username``'s microphone (they may turn it on again)."""
        def muted(_result: object) -> None:
            self._muted([username])

        self.net.run(self.session.mute(username), muted, self._moderation_failed(username))

    def _muted(self, usernames: list[str]) -> None:
        for username in usernames:
            self.room.set_muted(username)
        if usernames and self.room.in_room:
            self._room_notice(f"You muted {', '.join(usernames)}.")
            self.render_room()

    def remove_member(self, username: str) -> None:
        """Ask, then send ``username`` back to the lobby."""
        room = self.room.room or ""

        def confirmed() -> None:
            self.net.run(self.session.kick(username),
                         lambda _r: self._room_notice(f"You removed {username}."),
                         self._moderation_failed(username))

        self._track(ConfirmDialog(
            self.root, self.theme, f"Remove {username}?",
            f"{username} goes back to the lobby and is told that you removed them from "
            f"“{room}”. They can join again.", "Remove", confirmed))

    def mute_all(self) -> None:
        """Mute everyone else whose microphone is on: one ``room.mute`` each."""
        targets = self.room.mute_all_targets()
        if not targets:
            return

        def done(failed: list[str]) -> None:
            self._muted([name for name in targets if name not in failed])
            if failed and self.room.in_room:
                self.room_view.show_notice(f"Could not mute {', '.join(failed)}.")

        self.net.run(self.session.mute_all(targets), done, self._soft_error)

    def choose_devices(self) -> None:
        """The device chooser."""
        def apply(choice: MediaChoice) -> None:
            self.devices.choice = choice
            self.devices.set_problems({})
            self._remember_choice(choice)
            self.net.run(self.session.change_devices(choice), self._media_changed,
                         self._soft_error)
            self.room_view.render_controls()

        self._track(DevicesDialog(self.root, self.theme, self.devices, apply))

    def _remember_choice(self, choice: MediaChoice) -> None:
        s = self.settings
        s.synthetic_media = choice.camera == "synthetic" and choice.microphone == "tone"
        if choice.camera_index is not None:
            s.camera_index = choice.camera_index
        s.microphone = choice.microphone_index
        s.speaker = choice.speaker_index
        save_settings(s)

    # -- events ----------------------------------------------------------------------------

    def on_event(self, event: dict[str, Any]) -> None:
        """One event from the client, in arrival order (posted by `NetSession`)."""
        self.assert_tk_thread()
        kind = str(event.get("type", ""))
        if self.me is None:
            return  # logged out meanwhile
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(self, event)

    def _on_lobby_update(self, event: dict[str, Any]) -> None:
        if self.lobby.apply(event):
            self.lobby_view.render()
        self._refresh_users_soon()

    def _on_presence(self, event: dict[str, Any]) -> None:
        if self.lobby.apply(event):
            self.lobby_view.render()

    def _on_member_event(self, event: dict[str, Any]) -> None:
        if not self.room.apply(event):
            return
        kind = event.get("type")
        name = str(event.get("username") or (event.get("member") or {}).get("username", ""))
        if kind == "room.member_joined":
            self.lobby.set_user_room(name, self.room.room)
            self.chat.notice(ROOM_TAB, f"{name} joined.", time.time())
            self.chat_view.refresh()
        elif kind == "room.member_left":
            self.frames.discard(identity_key(name))
            self.chat.notice(ROOM_TAB, f"{name} left.", time.time())
            self.chat_view.refresh()
        elif kind == "media.muted":
            self.want_mic = False
            self.net.run(self.session.set_mic(False), self._media_changed, self._soft_error)
            by = event.get("by") or "The host"
            self.chat.notice(ROOM_TAB, f"{by} muted your microphone.", time.time())
            self.chat_view.refresh()
            self.room_view.show_notice(f"{by} muted you.")
        self.render_room()

    def _on_room_gone(self, event: dict[str, Any]) -> None:
        room = event.get("room")
        if not self.room.in_room or not isinstance(room, str) or identity_key(
                room) != identity_key(self.room.room or ""):
            return
        self.net.run(self.session.stop_media())
        if event.get("type") == "room.kicked":
            text = f"{event.get('by') or 'The host'} removed you from “{room}”."
        else:
            text = f"The room “{room}” was deleted by its host."
        self._left_room()
        self.refresh_lobby()
        self._track(NoticeDialog(self.root, self.theme, "You left the room", text))

    def _on_chat(self, event: dict[str, Any]) -> None:
        message = event.get("message")
        if isinstance(message, dict) and self.chat.add_chat(message) is not None:
            self.chat_view.refresh()

    def _on_dm(self, event: dict[str, Any]) -> None:
        message = event.get("message")
        if isinstance(message, dict) and self.chat.add_dm(message) is not None:
            self.chat_view.refresh()

    def _on_file(self, event: dict[str, Any]) -> None:
        if self.chat.add_file(event) is not None:
            self.chat_view.refresh()

    def _on_invite(self, event: dict[str, Any]) -> None:
        inviter, room = event.get("from"), event.get("room")
        if isinstance(inviter, str) and isinstance(room, str):
            self._incoming_invite(inviter, room)

    def _on_answer(self, event: dict[str, Any]) -> None:
        who = str(event.get("from", "someone"))
        text = (f"{who} accepted your invitation." if event.get("accept")
                else f"{who} declined your invitation.")
        if self.invite_picker is not None:
            self.invite_picker.set_status(text)
        if ROOM_TAB in self.chat.tabs:
            self.chat.notice(ROOM_TAB, text, time.time())
            self.chat_view.refresh()

    def _on_connection(self, event: dict[str, Any]) -> None:
        self.connection.apply(event, time.monotonic())
        self.shell.set_banner(self.connection.banner(time.monotonic()))
        kind = event.get("type")
        self.chat_view.set_connected(self.connection.can_send)
        if kind == "connection.restored":
            self.refresh_lobby()
            if self.room.in_room:
                if event.get("room") is None:
                    error = event.get("rejoin_error") or {}
                    self._left_room()
                    self._track(NoticeDialog(
                        self.root, self.theme, "Back in the lobby",
                        "Reconnected, but the room could not be joined again: "
                        f"{error.get('message') or 'it is gone'}."))
                else:
                    self.net.run(self.session.refresh_room(
                        str(event["room"]), self.room_password, self.devices.choice),
                        self._room_refreshed, self._soft_error)
        elif kind == "connection.failed" or (
                kind == "session.closed" and event.get("reason") == "replaced"):
            reason = self.connection.reason
            self.net.run(self.session.logout())
            self._reset()
            first_line = reason.strip().splitlines()[0].rstrip(".!") if reason.strip() else ""
            self.login.status = (f"Disconnected: {first_line}." if first_line
                                 else "Disconnected.")
            self.show_login()
            if kind == "connection.failed":
                self._track(NoticeDialog(self.root, self.theme, "Disconnected",
                                         reason or "The connection ended for good."))

    def _room_refreshed(self, state: JoinState) -> None:
        if self.me is None or not self.room.in_room:
            return
        self.room.enter(state.room, state.members, self.me, state.hands)
        self.chat.enter_room(self.room.room or "", state.history, state.files)
        self.render_room()
        self.chat_view.refresh()
        if self.want_cam and not self.room.own_cam and self.devices.camera().available:
            self.net.run(self.session.set_cam(True), self._media_changed, self._soft_error)
        if self.want_mic and not self.room.own_mic and self.devices.microphone().available:
            self.net.run(self.session.set_mic(True), self._media_changed, self._soft_error)

    _handlers: ClassVar[dict[str, Callable[[GuiApp, dict[str, Any]], None]]] = {
        "lobby.update": _on_lobby_update,
        "presence": _on_presence,
        "room.member_joined": _on_member_event,
        "room.member_left": _on_member_event,
        "room.member_updated": _on_member_event,
        "hand.update": _on_member_event,
        "media.muted": _on_member_event,
        "room.deleted": _on_room_gone,
        "room.kicked": _on_room_gone,
        "chat.message": _on_chat,
        "dm.message": _on_dm,
        "file.shared": _on_file,
        "call.invite": _on_invite,
        "call.answer": _on_answer,
        "connection.lost": _on_connection,
        "connection.restored": _on_connection,
        "connection.failed": _on_connection,
        "session.closed": _on_connection,
    }

    # -- life cycle ------------------------------------------------------------------------

    def run(self) -> None:
        """Tk's main loop, until the window closes."""
        self.root.mainloop()

    def quit(self) -> None:
        """Close the window: log out (briefly, in the background) and stop."""
        if self._closed:
            return
        self._closed = True
        save_settings(self.settings)
        with contextlib.suppress(tk.TclError):
            self.root.after_cancel(self._after)
        self.net.stop(self.session.shutdown(), timeout=6.0)
        try:
            self.login_view.progress.stop()
            # Timers still pending (tooltips, progress bars) must not fire into a
            # destroyed interpreter.
            for pending in self.root.tk.splitlist(self.root.tk.call("after", "info")):
                self.root.after_cancel(pending)
            self.root.destroy()
        except tk.TclError:
            pass
        # Free the Tk objects of the app's reference cycles here, on the Tk thread,
        # rather than in whichever thread the next automatic collection happens.
        self.dialogs = []
        gc.collect()


def transfer_failure(exc: BaseException) -> Failure:
    """The facts of a failed upload or download, for `describe_failure`."""
    if isinstance(exc, FileIntegrityError):
        return Failure("integrity")
    if isinstance(exc, FileTransferError):
        # "download failed: <the server's message>": keep what the server said.
        detail = str(exc).split(": ", 1)[-1]
        if exc.status is None:
            return Failure("network", detail=detail)
        return Failure("http", exc.status, exc.error_code, detail)
    if isinstance(exc, OSError):
        return Failure("disk", detail=exc.strerror or str(exc))
    if isinstance(exc, ConnectionClosed | ClientError):
        return Failure("network", detail=str(exc))
    return Failure("http", detail=str(exc))
