"""``python -m Client.meeting_gui_client`` (the original quick start) opens the app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.gui.conftest import REPO
from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout


def test_quick_start_opens_the_login_window(server: ServerProcess, gui_env: Path,
                                            xvfb_display: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "Client.meeting_gui_client", "--server",
         f"127.0.0.1:{server.port}", "--synthetic-media"],
        cwd=REPO, env=dict(os.environ, DISPLAY=xvfb_display),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        found = subprocess.run(["xdotool", "search", "--sync", "--name", "^PyMeet.*Log in$"],
                               capture_output=True, text=True, timeout=timeout(30),
                               env=dict(os.environ, DISPLAY=xvfb_display))
        assert found.stdout.split(), "the login window is on the screen"
        assert process.poll() is None, "and the app keeps running"
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=timeout(10))
    assert "Traceback" not in errors
