"""The store against a real SQLite file: durability, ordering, uniqueness, migrations."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from pymeet.server.store import DATABASE_FILE, MIGRATIONS, DuplicateError, Store


async def test_users_rooms_and_messages_survive_reopening(tmp_path: Path) -> None:
    store = await Store.open(tmp_path)
    alice = await store.create_user("Alice", "alice", "a@x.org", "a@x.org", "h", 1.0)
    bob = await store.create_user("bob", "bob", "b@x.org", "b@x.org", "h", 1.0)
    room = await store.create_room("Phòng 1", "phòng 1", alice, None, 2.0)
    for i in range(60):
        await store.add_room_message(room, bob if i % 2 else alice, f"m{i}", 3.0 + i)
    await store.add_direct_message(alice, bob, "hello bob", 5.0)
    await store.close()

    store = await Store.open(tmp_path)
    assert (await store.find_user("a@x.org")) == alice
    [reloaded] = await store.rooms()
    assert reloaded.name == "Phòng 1" and reloaded.owner == "Alice"
    history = await store.room_history(reloaded, 50)
    assert [m.text for m in history] == [f"m{i}" for i in range(10, 60)]
    backlog = await store.undelivered_direct_messages(bob)
    assert [m.text for m in backlog] == ["hello bob"]
    await store.mark_delivered([backlog[0].id])
    assert await store.undelivered_direct_messages(bob) == []
    assert [m.text for m in await store.dm_history(bob, alice, 50)] == ["hello bob"]
    await store.close()


async def test_unique_names(tmp_path: Path) -> None:
    store = await Store.open(tmp_path)
    alice = await store.create_user("alice", "alice", "a@x.org", "a@x.org", "h", 1.0)
    with pytest.raises(DuplicateError) as user:
        await store.create_user("ALICE", "alice", "other@x.org", "other@x.org", "h", 1.0)
    assert user.value.column == "username"
    with pytest.raises(DuplicateError) as email:
        await store.create_user("alice2", "alice2", "A@x.org", "a@x.org", "h", 1.0)
    assert email.value.column == "email"
    await store.create_room("Lab", "lab", alice, None, 1.0)
    with pytest.raises(DuplicateError):
        await store.create_room("LAB", "lab", alice, None, 1.0)
    await store.close()


async def test_deleting_a_room_deletes_its_history(tmp_path: Path) -> None:
    store = await Store.open(tmp_path)
    alice = await store.create_user("alice", "alice", "a@x.org", "a@x.org", "h", 1.0)
    room = await store.create_room("Lab", "lab", alice, "hash", 1.0)
    await store.add_room_message(room, alice, "bye", 2.0)
    await store.delete_room(room.id)
    again = await store.create_room("Lab", "lab", alice, None, 3.0)
    assert await store.room_history(again, 50) == []
    await store.close()


async def test_database_is_private_wal_and_versioned(tmp_path: Path) -> None:
    store = await Store.open(tmp_path)
    await store.close()
    path = tmp_path / DATABASE_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    store = await Store.open(tmp_path)
    await store.close()
    with sqlite3.connect(tmp_path / DATABASE_FILE) as db:
        db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        await Store.open(tmp_path)
