from __future__ import annotations

import pytest

from pymeet.client.chat_app import UsageError, _room_args


def test_room_names_with_spaces() -> None:
    assert _room_args("Phòng họp 1", "/join NAME [PASSWORD]") == ["Phòng họp 1"]
    assert _room_args('"Phòng họp 1" bí-mật-123', "/join NAME [PASSWORD]") == [
        "Phòng họp 1", "bí-mật-123"]
    assert _room_args("Lab secret123", "/join NAME [PASSWORD]") == ["Lab", "secret123"]
    assert _room_args("Lab", "/join NAME [PASSWORD]") == ["Lab"]
    assert _room_args("Team Alpha", "/delete NAME", password=False) == ["Team Alpha"]


def test_bad_room_arguments_say_how_to_type_them() -> None:
    with pytest.raises(UsageError, match="quote a name with spaces"):
        _room_args("", "/join NAME [PASSWORD]")
    with pytest.raises(UsageError, match="unbalanced quotes"):
        _room_args('"Phòng họp', "/join NAME [PASSWORD]")
