"""Durable storage in SQLite (WAL, synchronous=FULL), used only from one worker thread.

Every public coroutine runs its statements on that thread, so the event loop never
blocks on disk, and commits before it returns: whatever a caller acknowledges after
awaiting a write survives a crash or `kill -9` (PROTOCOL.md §3.3).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

DATABASE_FILE = "pymeet.sqlite3"
T = TypeVar("T")

# Each entry moves the schema from version i to i+1 (PRAGMA user_version). Append only.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL,
        username_key TEXT NOT NULL UNIQUE,
        email TEXT NOT NULL,
        email_key TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE rooms (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL UNIQUE,
        owner_id INTEGER NOT NULL REFERENCES users(id),
        password_hash TEXT,
        created REAL NOT NULL
    );
    CREATE TABLE room_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        sender_id INTEGER NOT NULL REFERENCES users(id),
        text TEXT NOT NULL,
        ts REAL NOT NULL
    );
    CREATE INDEX room_messages_by_room ON room_messages(room_id, id);
    CREATE TABLE direct_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sender_id INTEGER NOT NULL REFERENCES users(id),
        recipient_id INTEGER NOT NULL REFERENCES users(id),
        text TEXT NOT NULL,
        ts REAL NOT NULL,
        delivered INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX direct_messages_by_pair ON direct_messages(sender_id, recipient_id, id);
    CREATE INDEX direct_messages_undelivered ON direct_messages(recipient_id)
        WHERE delivered = 0;
    """,
    """
    CREATE TABLE files (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        sender_id INTEGER NOT NULL REFERENCES users(id),
        room_id INTEGER REFERENCES rooms(id) ON DELETE CASCADE,
        recipient_id INTEGER REFERENCES users(id),
        ts REAL NOT NULL,
        CHECK ((room_id IS NULL) <> (recipient_id IS NULL))
    );
    CREATE INDEX files_by_room ON files(room_id, ts);
    CREATE INDEX files_by_pair ON files(sender_id, recipient_id, ts);
    CREATE INDEX files_by_hash ON files(sha256);
    """,
)


class DuplicateError(Exception):
    """A unique name is taken; ``column`` says which (username, email or room)."""

    def __init__(self, column: str) -> None:
        super().__init__(column)
        self.column = column


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    email: str
    password_hash: str


@dataclass(frozen=True, slots=True)
class RoomRecord:
    id: int
    name: str
    owner_id: int
    owner: str
    password_hash: str | None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A room message or a direct message as stored; ``to`` is None for room messages."""

    id: int
    sender: str
    text: str
    ts: float
    room: str | None = None
    to: str | None = None

    def chat_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "room": self.room,
            "from": self.sender,
            "text": self.text,
            "ts": self.ts,
        }

    def dm_wire(self) -> dict[str, Any]:
        return {"id": self.id, "from": self.sender, "to": self.to, "text": self.text, "ts": self.ts}


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A shared file: in a room (``room``) or between two users (``to``)."""

    id: str
    name: str
    size: int
    sha256: str
    sender: str
    ts: float
    room: str | None = None
    to: str | None = None

    def wire(self) -> dict[str, Any]:
        """The `FileInfo` of §3.4."""
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
            "from": self.sender,
            "ts": self.ts,
        }


def _create_private_file(path: Path) -> None:
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


class Store:
    """The database. Open with `await Store.open(data_dir)`; close with `await close()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pymeet-store")
        self._db: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, data_dir: Path) -> Store:
        store = cls(data_dir / DATABASE_FILE)
        await store._run(store._open)
        return store

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    # -- thread side -------------------------------------------------------------------

    def _open(self) -> None:
        # Created 0600 first: SQLite gives its -wal and -shm files the same mode.
        _create_private_file(self.path)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=5000")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"{self.path} has schema version {version}, newer than this PyMeet "
                f"({len(MIGRATIONS)}); upgrade PyMeet"
            )
        for number in range(version, len(MIGRATIONS)):
            log.info("migrating database schema to version %d", number + 1)
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version={number + 1}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        self._db = db

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("store is closed")
        return self._db

    def _write(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        # isolation_level=None: every statement outside BEGIN commits on its own.
        return self.db.execute(sql, params)

    # -- users -------------------------------------------------------------------------

    def _create_user(
        self,
        username: str,
        username_key: str,
        email: str,
        email_key: str,
        password_hash: str,
        now: float,
    ) -> UserRecord:
        try:
            cursor = self._write(
                "INSERT INTO users (username, username_key, email, email_key, password_hash,"
                " created) VALUES (?, ?, ?, ?, ?, ?)",
                (username, username_key, email, email_key, password_hash, now),
            )
        except sqlite3.IntegrityError as exc:
            raise DuplicateError("email" if "email_key" in str(exc) else "username") from None
        assert cursor.lastrowid is not None
        return UserRecord(cursor.lastrowid, username, email, password_hash)

    async def create_user(
        self,
        username: str,
        username_key: str,
        email: str,
        email_key: str,
        password_hash: str,
        now: float,
    ) -> UserRecord:
        """Insert a user; raises DuplicateError("username" | "email")."""
        return await self._run(
            self._create_user, username, username_key, email, email_key, password_hash, now
        )

    def _find_user(self, key: str) -> UserRecord | None:
        row = self.db.execute(
            "SELECT id, username, email, password_hash FROM users"
            " WHERE username_key = ? OR email_key = ? LIMIT 1",
            (key, key),
        ).fetchone()
        return UserRecord(*row) if row else None

    async def find_user(self, key: str) -> UserRecord | None:
        """The user whose case-folded username or email is ``key``."""
        return await self._run(self._find_user, key)

    # -- rooms -------------------------------------------------------------------------

    def _rooms(self) -> list[RoomRecord]:
        rows = self.db.execute(
            "SELECT rooms.id, rooms.name, rooms.owner_id, users.username, rooms.password_hash"
            " FROM rooms JOIN users ON users.id = rooms.owner_id ORDER BY rooms.id"
        ).fetchall()
        return [RoomRecord(*row) for row in rows]

    async def rooms(self) -> list[RoomRecord]:
        return await self._run(self._rooms)

    def _create_room(
        self, name: str, name_key: str, owner: UserRecord, password_hash: str | None, now: float
    ) -> RoomRecord:
        try:
            cursor = self._write(
                "INSERT INTO rooms (name, name_key, owner_id, password_hash, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, name_key, owner.id, password_hash, now),
            )
        except sqlite3.IntegrityError:
            raise DuplicateError("room") from None
        assert cursor.lastrowid is not None
        return RoomRecord(cursor.lastrowid, name, owner.id, owner.username, password_hash)

    async def create_room(
        self, name: str, name_key: str, owner: UserRecord, password_hash: str | None, now: float
    ) -> RoomRecord:
        """Insert a room; raises DuplicateError("room")."""
        return await self._run(self._create_room, name, name_key, owner, password_hash, now)

    async def delete_room(self, room_id: int) -> list[str]:
        """Delete a room and, by cascade, its messages and files. Returns the sha256 of
        stored contents that no file refers to any more, for the caller to remove."""
        return await self._run(self._delete_room, room_id)

    # -- room messages -----------------------------------------------------------------

    def _add_room_message(
        self, room: RoomRecord, sender: UserRecord, text: str, now: float
    ) -> StoredMessage:
        cursor = self._write(
            "INSERT INTO room_messages (room_id, sender_id, text, ts) VALUES (?, ?, ?, ?)",
            (room.id, sender.id, text, now),
        )
        assert cursor.lastrowid is not None
        return StoredMessage(cursor.lastrowid, sender.username, text, now, room=room.name)

    async def add_room_message(
        self, room: RoomRecord, sender: UserRecord, text: str, now: float
    ) -> StoredMessage:
        """Commit a room message; it is durable when this returns."""
        return await self._run(self._add_room_message, room, sender, text, now)

    def _room_history(self, room: RoomRecord, limit: int) -> list[StoredMessage]:
        rows = self.db.execute(
            "SELECT m.id, u.username, m.text, m.ts FROM room_messages m"
            " JOIN users u ON u.id = m.sender_id WHERE m.room_id = ?"
            " ORDER BY m.id DESC LIMIT ?",
            (room.id, limit),
        ).fetchall()
        return [StoredMessage(*row, room=room.name) for row in reversed(rows)]

    async def room_history(self, room: RoomRecord, limit: int) -> list[StoredMessage]:
        """Up to ``limit`` newest messages, oldest first."""
        return await self._run(self._room_history, room, limit)

    # -- direct messages ---------------------------------------------------------------

    def _add_direct_message(
        self, sender: UserRecord, recipient: UserRecord, text: str, now: float
    ) -> StoredMessage:
        cursor = self._write(
            "INSERT INTO direct_messages (sender_id, recipient_id, text, ts) VALUES (?, ?, ?, ?)",
            (sender.id, recipient.id, text, now),
        )
        assert cursor.lastrowid is not None
        return StoredMessage(cursor.lastrowid, sender.username, text, now, to=recipient.username)

    async def add_direct_message(
        self, sender: UserRecord, recipient: UserRecord, text: str, now: float
    ) -> StoredMessage:
        """Commit an undelivered direct message; durable when this returns."""
        return await self._run(self._add_direct_message, sender, recipient, text, now)

    _DM_COLUMNS = (
        "SELECT d.id, s.username, d.text, d.ts, r.username FROM direct_messages d"
        " JOIN users s ON s.id = d.sender_id JOIN users r ON r.id = d.recipient_id"
    )

    def _dm_history(self, a: UserRecord, b: UserRecord, limit: int) -> list[StoredMessage]:
        rows = self.db.execute(
            self._DM_COLUMNS + " WHERE (d.sender_id = ? AND d.recipient_id = ?)"
            " OR (d.sender_id = ? AND d.recipient_id = ?) ORDER BY d.id DESC LIMIT ?",
            (a.id, b.id, b.id, a.id, limit),
        ).fetchall()
        return [StoredMessage(i, s, t, ts, to=r) for i, s, t, ts, r in reversed(rows)]

    async def dm_history(self, a: UserRecord, b: UserRecord, limit: int) -> list[StoredMessage]:
        """Up to ``limit`` newest messages between two users, oldest first."""
        return await self._run(self._dm_history, a, b, limit)

    def _undelivered(self, recipient: UserRecord) -> list[StoredMessage]:
        rows = self.db.execute(
            self._DM_COLUMNS + " WHERE d.recipient_id = ? AND d.delivered = 0 ORDER BY d.id",
            (recipient.id,),
        ).fetchall()
        return [StoredMessage(i, s, t, ts, to=r) for i, s, t, ts, r in rows]

    async def undelivered_direct_messages(self, recipient: UserRecord) -> list[StoredMessage]:
        return await self._run(self._undelivered, recipient)

    def _mark_delivered(self, ids: list[int]) -> None:
        self.db.executemany(
            "UPDATE direct_messages SET delivered = 1 WHERE id = ?", [(i,) for i in ids]
        )

    async def mark_delivered(self, ids: list[int]) -> None:
        if ids:
            await self._run(self._mark_delivered, ids)

    # -- shared files ------------------------------------------------------------------

    def _add_file(
        self,
        file: FileRecord,
        sender: UserRecord,
        room: RoomRecord | None,
        recipient: UserRecord | None,
    ) -> None:
        self._write(
            "INSERT INTO files (id, name, size, sha256, sender_id, room_id, recipient_id, ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                file.id,
                file.name,
                file.size,
                file.sha256,
                sender.id,
                room.id if room else None,
                recipient.id if recipient else None,
                file.ts,
            ),
        )

    async def add_file(
        self,
        file: FileRecord,
        sender: UserRecord,
        room: RoomRecord | None,
        recipient: UserRecord | None,
    ) -> None:
        """Record a shared file whose bytes are already stored; durable on return."""
        await self._run(self._add_file, file, sender, room, recipient)

    _FILE_COLUMNS = (
        "SELECT f.id, f.name, f.size, f.sha256, s.username, f.ts, r.name, u.username"
        " FROM files f JOIN users s ON s.id = f.sender_id"
        " LEFT JOIN rooms r ON r.id = f.room_id LEFT JOIN users u ON u.id = f.recipient_id"
    )

    def _get_file(self, file_id: str) -> FileRecord | None:
        row = self.db.execute(self._FILE_COLUMNS + " WHERE f.id = ?", (file_id,)).fetchone()
        return FileRecord(*row) if row else None

    async def get_file(self, file_id: str) -> FileRecord | None:
        return await self._run(self._get_file, file_id)

    def _room_files(self, room: RoomRecord, limit: int) -> list[FileRecord]:
        rows = self.db.execute(
            self._FILE_COLUMNS + " WHERE f.room_id = ? ORDER BY f.ts DESC, f.rowid DESC LIMIT ?",
            (room.id, limit),
        ).fetchall()
        return [FileRecord(*row) for row in reversed(rows)]

    async def room_files(self, room: RoomRecord, limit: int) -> list[FileRecord]:
        """Up to ``limit`` newest files shared in a room, oldest first."""
        return await self._run(self._room_files, room, limit)

    def _dm_files(self, a: UserRecord, b: UserRecord, limit: int) -> list[FileRecord]:
        rows = self.db.execute(
            self._FILE_COLUMNS + " WHERE (f.sender_id = ? AND f.recipient_id = ?)"
            " OR (f.sender_id = ? AND f.recipient_id = ?) ORDER BY f.ts DESC, f.rowid DESC LIMIT ?",
            (a.id, b.id, b.id, a.id, limit),
        ).fetchall()
        return [FileRecord(*row) for row in reversed(rows)]

    async def dm_files(self, a: UserRecord, b: UserRecord, limit: int) -> list[FileRecord]:
        """Up to ``limit`` newest files between two users, oldest first."""
        return await self._run(self._dm_files, a, b, limit)

    def _unreferenced(self, hashes: list[str]) -> list[str]:
        return [
            h
            for h in hashes
            if self.db.execute("SELECT 1 FROM files WHERE sha256 = ? LIMIT 1", (h,)).fetchone()
            is None
        ]

    def _delete_room(self, room_id: int) -> list[str]:
        hashes = [
            row[0]
            for row in self.db.execute(
                "SELECT DISTINCT sha256 FROM files WHERE room_id = ?", (room_id,)
            )
        ]
        self._write("DELETE FROM rooms WHERE id = ?", (room_id,))
        return self._unreferenced(hashes)

    # -- lifecycle ---------------------------------------------------------------------

    def _close(self) -> None:
        if self._db is not None:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
            self._db = None

    async def close(self) -> None:
        """Checkpoint and close; the worker thread ends."""
        await self._run(self._close)
        self._executor.shutdown(wait=True)
