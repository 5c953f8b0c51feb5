"""File transfers as the chat panel shows them (PROTOCOL.md §3.4).

One `Transfer` per shared file that this side downloads (keyed by the file's id) and
per file it sends (keyed ``"up:N"``). Progress comes from the network thread through a
mailbox, newest value only, so a late report may arrive after the outcome: `progress`
ignores a transfer that is no longer running. Failures are told in words by
`describe_failure`, from plain facts the controller extracts from the exception.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from pymeet.gui.presenters.text import format_size

__all__ = ["Direction", "Failure", "Transfer", "TransfersPresenter", "default_download_dir",
           "describe_failure"]

Status = Literal["idle", "running", "done", "failed"]
Direction = Literal["download", "upload"]
FailureKind = Literal["integrity", "http", "network", "disk"]


@dataclass(frozen=True)
class Failure:
    """What went wrong with a transfer, as facts (no exception objects)."""

    kind: FailureKind
    status: int | None = None
    """The HTTP status, for ``kind == "http"``."""
    code: str | None = None
    """The server's error code (``too_large``, ``forbidden``…), when it sent one."""
    detail: str = ""


def describe_failure(direction: Direction, name: str, failure: Failure) -> str:
    """A sentence for the person: what happened to ``name`` and what they can do."""
    detail = failure.detail.strip().rstrip(".")
    if failure.kind == "integrity":
        return (f"{name} arrived damaged (its SHA-256 does not match), so it was not "
                "saved. Try again.")
    if failure.kind == "disk":
        if direction == "download":
            return f"Could not save {name} there: {detail or 'the folder is not writable'}."
        return f"Could not read {name}: {detail or 'the file cannot be opened'}."
    if failure.kind == "network":
        return ("Could not reach the server's file service"
                + (f": {detail}." if detail else "."))
    status, code = failure.status, failure.code
    if status == 401 or code == "unauthenticated":
        return "Your session has ended. Log in again, then retry."
    if status == 413 or code == "too_large":
        return f"{name} is too large for this server" + (f" ({detail})." if detail else ".")
    if status == 403 or code == "forbidden":
        if direction == "download":
            return ("You cannot download this file any more: only the members of its room "
                    "(or the two people of a direct conversation) can.")
        return "You are not in that room any more, so the file was not sent."
    if status == 404:
        if direction == "download":
            return "This file is no longer on the server."
        return "That room or person does not exist any more, so the file was not sent."
    action = "Download" if direction == "download" else "Sending"
    return f"{action} of {name} failed" + (f": {detail}." if detail else ".")


@dataclass(frozen=True)
class Transfer:
    """One transfer's state, as a card or the sending row shows it."""

    direction: Direction
    name: str
    status: Status = "idle"
    done: int = 0
    total: int = 0
    path: str = ""
    """Where a finished download was saved, or the file being sent."""
    error: str = ""

    @property
    def fraction(self) -> float:
        """0..1 done (0 when the size is unknown)."""
        if self.status == "done":
            return 1.0
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0

    @property
    def percent(self) -> int:
        """The progress bar's value, 0..100."""
        return int(self.fraction * 100)

    @property
    def text(self) -> str:
        """The status line under a card, or beside the sending progress bar."""
        if self.status == "running":
            verb = "Downloading" if self.direction == "download" else f"Sending {self.name}"
            of = f" of {format_size(self.total)}" if self.total else ""
            return f"{verb}… {self.percent}%{of}"
        if self.status == "done":
            if self.direction == "download":
                return f"Verified (SHA-256 checked). Saved to {self.path}"
            return f"Sent {self.name}."
        if self.status == "failed":
            return self.error
        return ""


def default_download_dir(home: str, downloads_exists: bool) -> str:
    """Where downloads go until the person picks a folder: ``~/Downloads`` when it
    exists, else the home folder."""
    return f"{home.rstrip('/')}/Downloads" if downloads_exists else home


class TransfersPresenter:
    """Downloads by file id and uploads by ``"up:N"`` (see the module docstring)."""

    def __init__(self) -> None:
        self._items: dict[str, Transfer] = {}
        self._uploads = 0

    def get(self, key: str) -> Transfer | None:
        """The transfer under ``key`` (a file id, or an upload key)."""
        return self._items.get(key)

    def running(self, key: str) -> bool:
        """True while ``key`` transfers."""
        item = self._items.get(key)
        return item is not None and item.status == "running"

    # -- downloads -------------------------------------------------------------------

    def start_download(self, file_id: str, name: str, size: int) -> bool:
        """A download begins; False (and nothing changes) if it already runs."""
        if self.running(file_id):
            return False
        self._items[file_id] = Transfer("download", name, "running", 0, max(0, size))
        return True

    # -- uploads ---------------------------------------------------------------------

    def start_upload(self, name: str, size: int, path: str = "") -> str:
        """An upload begins; returns its key."""
        self._uploads += 1
        key = f"up:{self._uploads}"
        self._items[key] = Transfer("upload", name, "running", 0, max(0, size), path)
        return key

    def uploads_running(self) -> list[tuple[str, Transfer]]:
        """Uploads under way, oldest first."""
        return [(key, item) for key, item in self._items.items()
                if item.direction == "upload" and item.status == "running"]

    # -- both ------------------------------------------------------------------------

    def progress(self, key: str, done: int, total: int) -> bool:
        """A progress report; True when it changed what is shown (late ones are
        ignored)."""
        item = self._items.get(key)
        if item is None or item.status != "running":
            return False
        updated = replace(item, done=max(0, done), total=total if total > 0 else item.total)
        if updated.percent == item.percent and updated.total == item.total:
            self._items[key] = updated
            return False
        self._items[key] = updated
        return True

    def finished(self, key: str, path: str = "") -> None:
        """The transfer succeeded (a download: verified and saved at ``path``)."""
        item = self._items.get(key)
        if item is not None:
            self._items[key] = replace(item, status="done", done=item.total,
                                       path=path or item.path, error="")

    def failed(self, key: str, failure: Failure) -> str:
        """The transfer failed; returns the sentence shown."""
        item = self._items.get(key)
        if item is None:
            return ""
        text = describe_failure(item.direction, item.name, failure)
        self._items[key] = replace(item, status="failed", error=text)
        return text
