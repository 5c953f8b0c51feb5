from __future__ import annotations

import contextlib
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pymeet.protocol import validation as v
from pymeet.protocol.errors import InvalidField


@pytest.mark.parametrize("name", ["abc", "a" * 32, "_x.y-z", "0day", "Anh_Tuan"])
def test_valid_usernames(name: str) -> None:
    assert v.check_username(name) == name


@pytest.mark.parametrize("name", ["ab", "a" * 33, ".abc", "-abc", "ab c", "abc\n", "ánh", "a@b",
                                  "", None, 5])
def test_invalid_usernames(name: object) -> None:
    with pytest.raises(InvalidField) as info:
        v.check_username(name)
    assert info.value.field == "username"


def test_email_rules() -> None:
    assert v.check_email("a@b.co") == "a@b.co"
    longest = "a" * 64 + "@" + "b" * 185 + ".com"
    assert len(longest) == 254 and v.check_email(longest) == longest
    for bad in ["a" * 64 + "@" + "b" * 186 + ".com", "a" * 65 + "@b.co", "ab.co", "a@b",
                "a b@c.de", "a@@b.co", "a@b.co\n"]:
        with pytest.raises(InvalidField):
            v.check_email(bad)


def test_password_lengths() -> None:
    assert v.check_password("x" * 8) and v.check_password("x" * 128)
    for bad in ["x" * 7, "x" * 129, 12345678]:
        with pytest.raises(InvalidField):
            v.check_password(bad)
    assert v.check_password_attempt("x") == "x"
    with pytest.raises(InvalidField):
        v.check_password_attempt("x" * 129)


def test_room_names_are_unicode_and_nfc() -> None:
    assert v.check_room_name("Phòng họp 1") == "Phòng họp 1"
    decomposed = unicodedata.normalize("NFD", "Phòng họp 1")
    assert v.check_room_name(decomposed) == "Phòng họp 1"
    assert v.check_room_name("r" * 40)
    for bad in ["r" * 41, "room ", " room", "-room", "a/b", "", "tab\there"]:
        with pytest.raises(InvalidField) as info:
            v.check_room_name(bad)
        assert info.value.field == "room"


def test_text_is_trimmed_and_control_characters_refused() -> None:
    assert v.check_text("  hi\n\tthere  ") == "hi\n\tthere"
    assert v.check_text("x" * 4000) == "x" * 4000
    assert v.check_text("  " + "x" * 4000 + "  ") == "x" * 4000
    for bad in ["", "   ", "\n\t", "x" * 4001, "nul\x00", "c\r\nr", "bell\x07", "del\x7f"]:
        with pytest.raises(InvalidField) as info:
            v.check_text(bad)
        assert info.value.field == "text"


def test_login_identifier_accepts_username_or_email() -> None:
    assert v.check_login_identifier("alice") == "alice"
    assert v.check_login_identifier("alice@example.org") == "alice@example.org"
    with pytest.raises(InvalidField):
        v.check_login_identifier("no way")


def test_bool_is_strict() -> None:
    assert v.check_bool(True, "mic") is True
    for bad in [1, 0, "true", None]:
        with pytest.raises(InvalidField):
            v.check_bool(bad, "mic")


@given(st.text(max_size=50))
def test_checks_raise_only_invalid_field(text: str) -> None:
    for check in (v.check_username, v.check_email, v.check_password, v.check_room_name,
                  v.check_text, v.check_login_identifier):
        with contextlib.suppress(InvalidField):
            check(text)


def test_identity_keys_fold_case_and_normalise() -> None:
    assert v.identity_key("Alice") == v.identity_key("ALICE")
    assert v.identity_key("Phòng") == v.identity_key(unicodedata.normalize("NFD", "PHÒNG"))
