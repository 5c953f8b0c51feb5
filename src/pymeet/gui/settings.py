"""The desktop client's small settings file: last server and username, and choices.

The file is one JSON object. Its path is ``$PYMEET_GUI_SETTINGS`` when set, else
``$XDG_CONFIG_HOME/pymeet/gui.json`` (``~/.config/pymeet/gui.json`` by default).
Passwords are never stored. A missing or unreadable file gives the defaults, and an
unknown or mistyped entry is ignored, so a damaged file never stops the app.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["ENV_SETTINGS", "GuiSettings", "load_settings", "save_settings", "settings_path"]

logger = logging.getLogger(__name__)

ENV_SETTINGS = "PYMEET_GUI_SETTINGS"
DEFAULT_SERVER = "127.0.0.1:7400"
VIDEO_QUALITIES = ("low", "medium", "high")


@dataclass
class GuiSettings:
    """Everything the app remembers between runs (never a password)."""

    server: str = DEFAULT_SERVER
    username: str = ""
    dark: bool = False
    synthetic_media: bool = False
    camera_index: int = 0
    microphone: int | None = None
    """PortAudio input device index; None: the default device."""
    speaker: int | None = None
    """PortAudio output device index; None: the default device."""
    video_quality: str = "medium"
    download_dir: str = ""
    """Where the last download was saved ("": ~/Downloads, or the home folder)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GuiSettings:
        """Settings from a parsed file: unknown keys and wrong types are ignored."""
        settings = cls()
        for item in fields(cls):
            if item.name not in data:
                continue
            value = data[item.name]
            current = getattr(settings, item.name)
            if item.name in ("microphone", "speaker"):
                ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
            elif isinstance(current, bool):
                ok = isinstance(value, bool)
            elif isinstance(current, int):
                ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            else:
                ok = isinstance(value, str)
            if item.name == "video_quality" and value not in VIDEO_QUALITIES:
                ok = False
            if ok:
                setattr(settings, item.name, value)
            else:
                logger.warning("settings: ignoring %s=%r", item.name, value)
        return settings


def settings_path() -> Path:
    """Where the settings live: ``$PYMEET_GUI_SETTINGS``, else under ``$XDG_CONFIG_HOME``."""
    explicit = os.environ.get(ENV_SETTINGS)
    if explicit:
        return Path(explicit).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home).expanduser() / "pymeet" / "gui.json"


def load_settings(path: Path | None = None) -> GuiSettings:
    """The saved settings, or the defaults when there are none; never raises."""
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return GuiSettings()
    except (OSError, ValueError) as exc:
        logger.warning("cannot read the settings file %s (%s); using defaults", path, exc)
        return GuiSettings()
    if not isinstance(data, dict):
        logger.warning("the settings file %s does not hold an object; using defaults", path)
        return GuiSettings()
    return GuiSettings.from_dict(data)


def save_settings(settings: GuiSettings, path: Path | None = None) -> bool:
    """Write the settings atomically; returns False (and logs) when that fails."""
    path = path or settings_path()
    text = json.dumps(asdict(settings), indent=2, ensure_ascii=False) + "\n"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=".gui.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temp_name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
    except OSError as exc:
        logger.warning("cannot save the settings to %s: %s", path, exc)
        return False
    return True
