from __future__ import annotations

import pytest

from pymeet.client.errors import ConnectionClosed
from pymeet.client.files import FileIntegrityError, FileTransferError
from pymeet.gui.controller import transfer_failure
from pymeet.gui.presenters.transfers import (
    Direction,
    Failure,
    Transfer,
    TransfersPresenter,
    default_download_dir,
    describe_failure,
)


def get(t: TransfersPresenter, key: str) -> Transfer:
    item = t.get(key)
    assert item is not None, key
    return item


def test_a_download_runs_then_is_verified() -> None:
    t = TransfersPresenter()
    assert t.get("f1") is None
    assert t.start_download("f1", "plan.pdf", 2_000_000)
    assert not t.start_download("f1", "plan.pdf", 2_000_000), "one download at a time"
    item = t.get("f1")
    assert item is not None and (item.status, item.percent) == ("running", 0)
    assert item.text == "Downloading… 0% of 1.9 MB"
    assert t.progress("f1", 1_000_000, 2_000_000)
    assert not t.progress("f1", 1_000_001, 2_000_000), "the same percentage shows nothing new"
    assert get(t, "f1").percent == 50
    t.finished("f1", "/home/an/Downloads/plan.pdf")
    done = t.get("f1")
    assert done is not None and done.status == "done" and done.fraction == 1.0
    assert done.text == "Verified (SHA-256 checked). Saved to /home/an/Downloads/plan.pdf"
    assert not t.progress("f1", 10, 2_000_000), "a late report changes nothing"
    assert t.start_download("f1", "plan.pdf", 2_000_000), "it may be downloaded again"


def test_a_failed_download_says_why_and_may_be_retried() -> None:
    t = TransfersPresenter()
    t.start_download("f1", "plan.pdf", 10)
    text = t.failed("f1", Failure("integrity"))
    assert text.startswith("plan.pdf arrived damaged (its SHA-256 does not match)")
    assert get(t, "f1").text == text
    assert not t.running("f1") and t.start_download("f1", "plan.pdf", 10)
    assert t.failed("nope", Failure("disk")) == ""


def test_uploads_are_listed_while_they_run() -> None:
    t = TransfersPresenter()
    first = t.start_upload("a.txt", 100, "/tmp/a.txt")
    second = t.start_upload("b.txt", 0)
    assert first != second
    assert [key for key, _ in t.uploads_running()] == [first, second]
    assert t.progress(first, 50, 100)
    assert get(t, first).text == "Sending a.txt… 50% of 100 bytes"
    assert get(t, second).text == "Sending b.txt… 0%"
    t.finished(first)
    t.failed(second, Failure("http", 413, "too_large", "larger than 100 MiB"))
    assert t.uploads_running() == []
    assert get(t, first).text == "Sent a.txt."
    assert get(t, second).text == "b.txt is too large for this server (larger than 100 MiB)."


@pytest.mark.parametrize(("direction", "failure", "text"), [
    ("download", Failure("http", 403, "forbidden"), "You cannot download this file any more"),
    ("upload", Failure("http", 403, "forbidden"), "You are not in that room any more"),
    ("download", Failure("http", 404, "not_found"), "This file is no longer on the server."),
    ("upload", Failure("http", 404, "user_not_found"), "does not exist any more"),
    ("download", Failure("http", 401, "unauthenticated"), "Your session has ended."),
    ("download", Failure("network", detail="Cannot connect to host"),
     "Could not reach the server's file service: Cannot connect to host."),
    ("download", Failure("disk", detail="Permission denied"),
     "Could not save x.bin there: Permission denied."),
    ("upload", Failure("disk", detail="No such file or directory"),
     "Could not read x.bin: No such file or directory."),
    ("download", Failure("http", 500, "internal", "boom"), "Download of x.bin failed: boom."),
])
def test_failures_in_words(direction: Direction, failure: Failure, text: str) -> None:
    assert text in describe_failure(direction, "x.bin", failure)


def test_exceptions_become_failures() -> None:
    assert transfer_failure(FileIntegrityError("x arrived damaged", 200, "corrupt")) == Failure(
        "integrity")
    assert transfer_failure(FileTransferError("upload failed: the file is too large", 413,
                                              "too_large")) == Failure(
        "http", 413, "too_large", "the file is too large")
    assert transfer_failure(FileTransferError("download failed: Cannot connect")).kind == (
        "network")
    assert transfer_failure(NotADirectoryError(20, "Not a directory")) == Failure(
        "disk", detail="Not a directory")
    assert transfer_failure(ConnectionClosed("gone")).kind == "network"


def test_downloads_go_to_downloads_or_home() -> None:
    assert default_download_dir("/home/an", True) == "/home/an/Downloads"
    assert default_download_dir("/home/an/", True) == "/home/an/Downloads"
    assert default_download_dir("/home/an", False) == "/home/an"
