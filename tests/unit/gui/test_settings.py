from __future__ import annotations

from pathlib import Path

import pytest

from pymeet.gui.settings import GuiSettings, load_settings, save_settings, settings_path


def test_defaults_when_missing_or_damaged(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "none.json") == GuiSettings()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert load_settings(bad) == GuiSettings()
    bad.write_text("[1, 2]")
    assert load_settings(bad) == GuiSettings()


def test_round_trip_and_wrong_types_ignored(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "gui.json"
    settings = GuiSettings(server="10.0.0.2:7400", username="Đức", dark=True, microphone=2)
    assert save_settings(settings, path)
    assert load_settings(path) == settings
    path.write_text('{"server": 5, "dark": "yes", "camera_index": -1, '
                    '"video_quality": "ultra", "username": "bob", "unknown": 1}')
    loaded = load_settings(path)
    assert loaded.username == "bob"
    assert (loaded.server, loaded.dark, loaded.camera_index, loaded.video_quality) == (
        GuiSettings().server, False, 0, "medium")


def test_path_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYMEET_GUI_SETTINGS", str(tmp_path / "x.json"))
    assert settings_path() == tmp_path / "x.json"
    monkeypatch.delenv("PYMEET_GUI_SETTINGS")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert settings_path() == tmp_path / "pymeet" / "gui.json"


def test_the_download_folder_is_remembered(tmp_path: Path) -> None:
    path = tmp_path / "gui.json"
    assert GuiSettings().download_dir == ""
    assert save_settings(GuiSettings(download_dir="/home/đức/Tải về"), path)
    assert load_settings(path).download_dir == "/home/đức/Tải về"
