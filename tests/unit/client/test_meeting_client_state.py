"""MeetingClient's bookkeeping fed with server messages directly (no network)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pymeet.client import ConnectionClosed, MeetingClient


def make_client(tmp_path: Path, **options: Any) -> MeetingClient:
    return MeetingClient("127.0.0.1", 1, known_servers=tmp_path / "pins.json", **options)


def in_room(client: MeetingClient, room: str = "Lounge") -> None:
    client._apply_login({"user": {"username": "alice", "email": "a@example.org"},
                         "session": "token",
                         "media": {"port": 7401, "ssrc": 5, "key": "A" * 43 + "="}})
    client._apply_join({"room": {"name": room}, "members": [
        {"username": "alice", "ssrc": 5, "mic": False, "cam": False}]}, "secret")


async def collect(client: MeetingClient) -> list[dict[str, Any]]:
    async with asyncio.timeout(5):
        return [event async for event in client.events()]


async def test_members_follow_events_of_the_current_room_only(tmp_path: Path) -> None:
    client = make_client(tmp_path)
    in_room(client)
    bob = {"username": "bob", "ssrc": 6, "mic": False, "cam": False}
    client._on_event({"type": "room.member_joined", "room": "lounge", "member": bob})
    client._on_event({"type": "room.member_joined", "room": "Elsewhere",
                      "member": {"username": "carol", "ssrc": 7, "mic": False, "cam": False}})
    assert set(client.members) == {"alice", "bob"}
    client._on_event({"type": "room.member_updated", "room": "Lounge",
                      "member": {**bob, "mic": True}})
    assert client.members["bob"]["mic"] is True
    client._on_event({"type": "room.member_left", "room": "Lounge", "username": "bob"})
    assert set(client.members) == {"alice"}
    client._on_event({"type": "room.deleted", "room": "Lounge"})
    assert client.room is None and client.members == {}


async def test_login_state_and_media_key(tmp_path: Path) -> None:
    client = make_client(tmp_path)
    in_room(client)
    assert client.username == "alice" and client.session_token == "token"
    assert client.media is not None and client.media.key == bytes(32)
    assert "key" not in repr(client.media)


async def test_full_queue_drops_the_oldest_and_never_blocks(tmp_path: Path) -> None:
    client = make_client(tmp_path, event_queue_size=3)
    for n in range(5):
        client._on_event({"type": "presence", "username": f"u{n}", "online": True})
    await client.close()
    events = await collect(client)
    assert [e["username"] for e in events] == ["u2", "u3", "u4"]


async def test_callbacks_are_isolated_from_each_other(tmp_path: Path) -> None:
    client = make_client(tmp_path)
    seen: list[str] = []

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("a bug in a handler")

    client.on("presence", broken)
    client.on("presence", lambda event: seen.append(event["username"]))
    client._on_event({"type": "presence", "username": "bob", "online": True})
    assert seen == ["bob"]


async def test_requests_without_a_connection_raise(tmp_path: Path) -> None:
    client = make_client(tmp_path)
    with pytest.raises(ConnectionClosed):
        await client.ping()
    with pytest.raises(ConnectionClosed):
        client.send_media_packet(b"x")
    await client.close()
    assert client.closed
    with pytest.raises(ConnectionClosed, match="closed"):
        await client.send_chat("hello")
    with pytest.raises(ConnectionClosed):
        await client.wait_connected(timeout=1)
