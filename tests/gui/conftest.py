"""A real X display (Xvfb) for the desktop client, and helpers to drive it.

TESTING.md, "A real Tk window under Xvfb": Xvfb is started once per session by a
fixture, chooses its own display number (``-displayfd``), and is terminated at
teardown. There is no window manager, so real input goes through ``xdotool
mousemove``/``click``/``type`` at absolute screen coordinates.

The app under test runs in this process (one Tk root at a time); a second
participant, when a test needs one, is another process (`remote_participant.py`).
"""

from __future__ import annotations

import gc
import json
import os
import select
import subprocess
import sys
import threading
import time
import tkinter as tk
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from PIL import Image, ImageGrab

from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
PASSWORD = "correct horse 1"
BOB_SENDER = 4242


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """``:N`` of a private Xvfb (1280x800x24); DISPLAY points at it during the tests."""
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24",
         "-nolisten", "tcp"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    number = b""
    deadline = time.monotonic() + timeout(20)
    try:
        while not number.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([read_end], [], [], max(0.0, left))
            if not ready:
                raise RuntimeError("Xvfb did not report its display number")
            chunk = os.read(read_end, 32)
            if not chunk:
                raise RuntimeError(f"Xvfb exited with status {process.wait()}")
            number += chunk
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        os.close(read_end)
    display = f":{number.decode().strip()}"
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    try:
        yield display
    finally:
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous
        process.terminate()
        try:
            process.wait(timeout(10))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def gui_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xvfb_display: str) -> Path:
    """Private settings and known-servers files for one test."""
    monkeypatch.setenv("PYMEET_GUI_SETTINGS", str(tmp_path / "gui.json"))
    monkeypatch.setenv("PYMEET_KNOWN_SERVERS", str(tmp_path / "known_servers.json"))
    return tmp_path


class Driver:
    """Drives one in-process app: pumping Tk, real input, screenshots."""

    def __init__(self, app: Any, display: str) -> None:
        self.app = app
        self.display = display

    @property
    def root(self) -> tk.Tk:
        return self.app.root

    def until(self, condition: Callable[[], T], what: str, seconds: float = 15,
              detail: Callable[[], object] | None = None) -> T:
        """Pump Tk until ``condition()`` is truthy; returns its value. On a timeout the
        failure shows ``detail()``, when given, to say what was there instead."""
        deadline = time.monotonic() + timeout(seconds)
        while True:
            self.root.update()
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                seen = f" (instead: {detail()!r})" if detail is not None else ""
                raise AssertionError(f"timed out waiting for {what}{seen}")
            time.sleep(0.01)

    def pump(self, seconds: float) -> None:
        """Keep the app running for ``seconds`` (not an assertion, just time passing)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.root.update()
            time.sleep(0.01)

    # -- real input ------------------------------------------------------------------

    def _xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], check=True, timeout=timeout(10),
                       env=dict(os.environ, DISPLAY=self.display))

    def click(self, widget: tk.Misc) -> None:
        """Move the real pointer onto ``widget`` and click it."""
        self.root.update()
        x = widget.winfo_rootx() + widget.winfo_width() // 2
        y = widget.winfo_rooty() + widget.winfo_height() // 2
        self._xdotool("mousemove", str(x), str(y), "click", "1")
        self.root.update()

    def hover(self, widget: tk.Misc) -> None:
        """Move the real pointer onto ``widget``. Without a window manager the keyboard
        goes to the window under the pointer (X's PointerRoot focus)."""
        self.root.update()
        x = widget.winfo_rootx() + widget.winfo_width() // 2
        y = widget.winfo_rooty() + widget.winfo_height() // 2
        self._xdotool("mousemove", str(x), str(y))

    def type(self, text: str) -> None:
        """Type ``text`` on the real keyboard."""
        self._xdotool("type", "--delay", "15", text)
        self.root.update()

    def key(self, name: str, over: tk.Misc | None = None) -> None:
        """Press one key, such as ``Return`` or ``Escape`` (pointer ``over`` a widget)."""
        if over is not None:
            self.hover(over)
        self._xdotool("key", name)
        self.root.update()

    # -- pixels ----------------------------------------------------------------------

    def grab(self, bbox: tuple[int, int, int, int]) -> Image.Image:
        """The screen's pixels in ``bbox`` (left, top, right, bottom)."""
        self.root.update()
        return ImageGrab.grab(bbox=bbox, xdisplay=self.display)

    def grab_widget(self, widget: tk.Misc) -> Image.Image:
        """What ``widget`` shows on the screen now."""
        self.root.update()
        x, y = widget.winfo_rootx(), widget.winfo_rooty()
        return self.grab((x, y, x + widget.winfo_width(), y + widget.winfo_height()))

    def screenshot(self, name: str) -> Path:
        """Save the app's window (with any dialog over it) under artifacts/screenshots."""
        # The pointer off the window, so that no tooltip covers the picture.
        self._xdotool("mousemove", "1279", "799")
        self.pump(0.3)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        width, height = self.root.winfo_width(), self.root.winfo_height()
        x, y = self.root.winfo_rootx(), self.root.winfo_rooty()
        subprocess.run(["import", "-display", self.display, "-window", "root", "-crop",
                        f"{width}x{height}+{x}+{y}", "+repage", str(path)],
                       check=True, timeout=timeout(20))
        print(f"screenshot: {path}")
        return path


@pytest.fixture
def make_app(gui_env: Path, xvfb_display: str) -> Iterator[Callable[..., Driver]]:
    """Build the app under test (one at a time); closed at teardown."""
    from pymeet.gui.controller import GuiApp, GuiOptions

    apps: list[Any] = []

    def make(server: ServerProcess | None = None, *, synthetic: bool = True,
             dark: bool | None = None) -> Driver:
        address = f"{server.host}:{server.port}" if server is not None else None
        app = GuiApp(GuiOptions(server=address, synthetic_media=synthetic, dark=dark))
        apps.append(app)
        driver = Driver(app, xvfb_display)
        driver.until(lambda: app.login_view.winfo_ismapped(), "the login window")
        return driver

    yield make
    for app in apps:
        app.quit()
    apps.clear()
    # Tk objects must be freed on the Tk thread: collect the app's cycles here.
    gc.collect()


def sign_up(driver: Driver, username: str, *, email: str | None = None) -> None:
    """Create an account through the login window and reach the lobby (trusting the
    server on first contact)."""
    from pymeet.gui.views.dialogs import TrustDialog

    app = driver.app
    view = app.login_view
    view.register_tab.invoke()
    view.fields["username"].var.set(username)
    view.fields["email"].var.set(email or f"{username}@example.org")
    view.fields["password"].var.set(PASSWORD)
    view.submit_button.invoke()

    def trusted_or_in() -> bool:
        for dialog in app.open_dialogs(TrustDialog):
            dialog.trust_button.invoke()
        return app.me is not None

    driver.until(trusted_or_in, "the lobby after signing up")


class RemoteParticipant:
    """`remote_participant.py` in a subprocess, with its reports collected."""

    def __init__(self, server: ServerProcess, user: str, known_servers: Path,
                 sender_id: int) -> None:
        self.user = user
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.gui.remote_participant",
             "--server", f"{server.host}:{server.port}", "--user", user,
             "--known-servers", str(known_servers), "--sender-id", str(sender_id),
             "--web-port", str(server.web_port or 0)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                self.events.append(event)

    def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command, ensure_ascii=False) + "\n")
        self.process.stdin.flush()

    def find(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self._lock:
            return [event for event in self.events if predicate(event)]

    def reply(self, cmd: str) -> Callable[[], dict[str, Any] | None]:
        """A condition: the last answer to ``cmd`` (ok or error), if any."""
        def check() -> dict[str, Any] | None:
            answers = self.find(lambda e: e.get("cmd") == cmd
                                and e.get("event") in ("ok", "error"))
            return answers[-1] if answers else None
        return check

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.send(cmd="quit")
                self.process.wait(timeout(10))
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def remote_factory(gui_env: Path) -> Iterator[Callable[..., RemoteParticipant]]:
    """Start second participants in their own processes; all closed at teardown."""
    started: list[RemoteParticipant] = []

    def start(server: ServerProcess, user: str, sender_id: int = 4242) -> RemoteParticipant:
        remote = RemoteParticipant(server, user, gui_env / "remote_known_servers.json",
                                   sender_id)
        started.append(remote)
        return remote

    yield start
    for remote in started:
        remote.close()


def server_event(kind: str, **match: Any) -> Callable[[dict[str, Any]], bool]:
    """A predicate for a server event of ``kind`` seen by the remote participant."""
    def check(event: dict[str, Any]) -> bool:
        data = event.get("data") or {}
        return (event.get("event") == "server" and data.get("type") == kind
                and all(data.get(k) == v for k, v in match.items()))
    return check


def start_remote(driver: Driver, remote_factory: Callable[..., RemoteParticipant],
                 server: ServerProcess, user: str) -> RemoteParticipant:
    """A second participant, logged in and seen online by the app."""
    remote = remote_factory(server, user, BOB_SENDER)
    driver.until(lambda: remote.find(lambda e: e.get("event") == "ready"), f"{user} to log in")
    driver.until(lambda: driver.app.lobby.is_online(user), f"{user} in the people list")
    return remote


def image_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two same-sized images, 0..255."""
    return float(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).mean())
