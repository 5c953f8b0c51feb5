"""File sharing over HTTP (PROTOCOL.md §3.4) against a real server process."""

from __future__ import annotations

import asyncio
import hashlib
import os
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from tests.support.server_process import ServerProcess
from tests.support.wire import Clients, WireClient, login_as, unique_room


def base(server: ServerProcess) -> str:
    return f"http://{server.host}:{server.web_port}"


def auth(client: WireClient, name: str = "notes.txt") -> dict[str, str]:
    return {"Authorization": f"Bearer {client.session}",
            "X-Filename": urllib.parse.quote(name)}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def upload(http: aiohttp.ClientSession, server: ServerProcess, client: WireClient,
                 data: bytes, *, room: str | None = None, to: str | None = None,
                 name: str = "notes.txt") -> tuple[int, dict]:  # type: ignore[type-arg]
    params = {"room": room} if room is not None else {"to": to or ""}
    async with http.post(f"{base(server)}/files", params=params, data=data,
                         headers=auth(client, name)) as response:
        return response.status, await response.json()


async def download(http: aiohttp.ClientSession, server: ServerProcess, client: WireClient | None,
                   file_id: str) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {client.session}"} if client else {}
    async with http.get(f"{base(server)}/files/{file_id}", headers=headers) as response:
        return response.status, await response.read()


async def test_room_file_flow_and_authorization(server: ServerProcess,
                                                http: aiohttp.ClientSession) -> None:
    clients = Clients(server)
    room = unique_room("Files")
    alice = await clients.user()
    await alice.create_room(room)
    await alice.join(room)
    bob = await clients.user()
    await bob.join(room)
    carol = await clients.user()  # not a member

    data = os.urandom(300_000) + "Tài liệu".encode()
    status, body = await upload(http, server, alice, data, room=room, name="Báo cáo 1.pdf")
    assert status == 201
    info = body["file"]
    assert info["name"] == "Báo cáo 1.pdf" and info["size"] == len(data)
    assert info["sha256"] == hashlib.sha256(data).hexdigest() and info["from"] == alice.username
    shared = await bob.expect_event("file.shared")
    assert shared == {"type": "file.shared", "file": info, "room": room, "to": None}
    await carol.no_event("file.shared")

    assert await download(http, server, bob, info["id"]) == (200, data)
    assert (await download(http, server, carol, info["id"]))[0] == 403
    assert (await download(http, server, None, info["id"]))[0] == 401
    assert (await download(http, server, bob, "no-such-file"))[0] == 404
    assert (await upload(http, server, carol, b"x", room=room))[0] == 403
    status, body = await upload(http, server, carol, b"x", room="No such room")
    assert status == 404 and body["error"]["code"] == "room_not_found"
    async with http.post(f"{base(server)}/files", params={"room": room}, data=b"x",
                         headers={"X-Filename": "a"}) as response:
        assert response.status == 401
    # The history a joiner sees lists the file.
    joined = await carol.join(room)
    assert joined["files"] == [info]
    for client in clients.opened:
        await client.aclose()


async def test_direct_file_reaches_only_the_two_parties(server: ServerProcess,
                                                        http: aiohttp.ClientSession) -> None:
    clients = Clients(server)
    alice, bob, carol = await clients.user(), await clients.user(), await clients.user()
    data = b"just for bob\n" * 1000
    status, body = await upload(http, server, alice, data, to=bob.username, name="../../etc/x")
    assert status == 201 and body["file"]["name"] == "x"  # no directories in names
    event = await bob.expect_event("file.shared")
    assert event["to"] == bob.username and event["room"] is None
    assert await download(http, server, bob, body["file"]["id"]) == (200, data)
    assert await download(http, server, alice, body["file"]["id"]) == (200, data)
    assert (await download(http, server, carol, body["file"]["id"]))[0] == 403
    history = await bob.ok("dm.history", **{"with": alice.username})
    assert history["files"] == [body["file"]]
    assert (await upload(http, server, alice, b"x", to="nobody_here"))[0] == 404
    for client in clients.opened:
        await client.aclose()


async def test_size_limit_and_interrupted_upload_leave_nothing(
    server_factory: Callable[..., ServerProcess], http: aiohttp.ClientSession
) -> None:
    server = server_factory("--max-file-mb", "1")
    clients = Clients(server)
    alice = await clients.user()
    bob = await clients.user()
    incoming = server.data_dir / "files" / "incoming"

    status, body = await upload(http, server, alice, os.urandom(1024 * 1024 + 1), to=bob.username)
    assert status == 413 and body["error"]["code"] == "too_large"

    async def chunked_body() -> AsyncIterator[bytes]:  # no Content-Length: limit found mid-way
        for _ in range(40):
            yield os.urandom(64 * 1024)

    async with http.post(f"{base(server)}/files", params={"to": bob.username},
                         data=chunked_body(), headers=auth(alice)) as response:
        assert response.status == 413

    # A client that dies mid-upload: announce 800 KB, send 200 KB, vanish.
    _, writer = await asyncio.open_connection(server.host, server.web_port)
    writer.write((f"POST /files?to={bob.username} HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {alice.session}\r\nX-Filename: cut.bin\r\n"
                  "Content-Length: 800000\r\n\r\n").encode() + os.urandom(200_000))
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.transport.abort()
    await asyncio.sleep(0.5)
    assert list(incoming.iterdir()) == []
    stored = [p for p in (server.data_dir / "files").rglob("*") if p.is_file()]
    assert stored == []  # nothing partial, nothing oversized
    await bob.no_event("file.shared")
    assert (await upload(http, server, alice, b"ok", to=bob.username))[0] == 201
    for client in clients.opened:
        await client.aclose()


async def test_files_survive_a_restart_byte_for_byte(
    server_factory: Callable[..., ServerProcess], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    server = server_factory(data_dir=tmp_path / "data")
    room = unique_room("Keep")
    owner = WireClient
    clients = Clients(server)
    alice = await clients.user()
    await alice.create_room(room)
    await alice.join(room)
    data = os.urandom(2 * 1024 * 1024 + 7)
    _, body = await upload(http, server, alice, data, room=room, name="big.bin")
    # Same content again under another name: stored once.
    _, twin = await upload(http, server, alice, data, room=room, name="copy.bin")
    assert twin["file"]["sha256"] == body["file"]["sha256"]
    name = alice.username
    for client in clients.opened:
        await client.aclose()
    server.restart()

    again = await login_as(server, name)
    joined = await again.join(room)
    assert [f["name"] for f in joined["files"]] == ["big.bin", "copy.bin"]
    again.session = again.session  # the new session's token
    assert await download(http, server, again, body["file"]["id"]) == (200, data)
    blobs = [p for p in (server.data_dir / "files").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    await again.ok("room.delete", room=room)  # deleting the room removes its files
    blobs = [p for p in (server.data_dir / "files").rglob("*") if p.is_file()]
    assert blobs == []
    del owner
    await again.aclose()
