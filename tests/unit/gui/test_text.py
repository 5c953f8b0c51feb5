from __future__ import annotations

import time

from pymeet.gui.presenters.text import (
    AVATAR_COLORS,
    avatar_color,
    format_clock,
    format_size,
    initials,
    split_links,
)


def test_links_are_cut_out_of_text_without_trailing_punctuation() -> None:
    assert split_links("see https://example.org/a?b=1, then www.example.com.") == [
        ("see ", None), ("https://example.org/a?b=1", "https://example.org/a?b=1"),
        (", then ", None), ("www.example.com", "https://www.example.com"), (".", None)]


def test_brackets_close_a_link_only_when_unbalanced() -> None:
    assert split_links("(https://en.wikipedia.org/wiki/Tk_(software))") == [
        ("(", None),
        ("https://en.wikipedia.org/wiki/Tk_(software)",
         "https://en.wikipedia.org/wiki/Tk_(software)"),
        (")", None)]


def test_text_without_links_is_one_piece_and_unicode_survives() -> None:
    assert split_links("Xin chào, không có liên kết") == [("Xin chào, không có liên kết", None)]
    assert split_links("") == []
    assert split_links("https://") == [("https://", None)]


def test_clock_is_as_short_as_is_unambiguous() -> None:
    now = time.mktime((2025, 6, 18, 15, 0, 0, 0, 0, -1))
    today = time.mktime((2025, 6, 18, 9, 5, 0, 0, 0, -1))
    earlier = time.mktime((2025, 6, 16, 9, 5, 0, 0, 0, -1))
    this_year = time.mktime((2025, 3, 3, 9, 5, 0, 0, 0, -1))
    last_year = time.mktime((2024, 3, 3, 9, 5, 0, 0, 0, -1))
    assert format_clock(today, now) == "09:05"
    assert format_clock(earlier, now) == f"{time.strftime('%a', time.localtime(earlier))} 09:05"
    month = time.strftime("%b", time.localtime(this_year))
    assert format_clock(this_year, now) == f"3 {month} 09:05"
    assert format_clock(last_year, now).startswith("3 ")
    assert format_clock(last_year, now).endswith("2024 09:05")


def test_initials_and_colours() -> None:
    assert initials("alice") == "A"
    assert initials("bob_smith") == "BS"
    assert initials("Nguyễn Văn An") == "NV"
    assert initials("đức.anh") == "ĐA"
    assert initials("__") == "?"
    assert avatar_color("Alice") == avatar_color("alice")
    assert avatar_color("alice") in AVATAR_COLORS


def test_sizes_read_naturally() -> None:
    assert format_size(1) == "1 byte"
    assert format_size(532) == "532 bytes"
    assert format_size(1536) == "1.5 KB"
    assert format_size(3 * 1024 * 1024) == "3.0 MB"
