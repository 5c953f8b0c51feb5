"""`pymeet.client.files`: the Python client shares and fetches files over the web port."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from pymeet.client import MeetingClient
from pymeet.client.files import FileIntegrityError, FileTransferError, download_file, upload_file
from tests.support.server_process import ServerProcess

PASSWORD = "correct horse battery"


async def logged_in(server: ServerProcess, tmp_path: Path) -> MeetingClient:
    name = f"f{uuid.uuid4().hex[:8]}"
    client = await MeetingClient.connect(server.host, server.port, fingerprint=server.fingerprint,
                                         known_servers=tmp_path / "known.json")
    await client.register(name, f"{name}@example.org", PASSWORD)
    await client.login(name, PASSWORD)
    return client


async def test_upload_download_and_verify(server: ServerProcess, tmp_path: Path) -> None:
    alice, bob = await logged_in(server, tmp_path), await logged_in(server, tmp_path)
    room = f"Share {uuid.uuid4().hex[:6]}"
    await alice.create_room(room)
    await alice.join_room(room)
    await bob.join_room(room)
    assert alice.server_info["web"]["port"] == server.web_port
    source = tmp_path / "Biên bản họp.bin"
    data = os.urandom(700_000)
    source.write_bytes(data)
    seen: list[tuple[int, int]] = []
    info = await upload_file(alice, source, room=room, progress=lambda d, t: seen.append((d, t)))
    assert info["sha256"] == hashlib.sha256(data).hexdigest() and info["name"] == source.name
    assert seen[-1] == (len(data), len(data)) and len(seen) > 3

    joined = await bob.join_room(room)  # the join reply lists the room's files
    assert joined.files == [info]
    target_dir = tmp_path / "downloads"
    target_dir.mkdir()
    path = await download_file(bob, info, target_dir)
    assert path == target_dir / source.name and path.read_bytes() == data

    damaged = dict(info, sha256="0" * 64)
    with pytest.raises(FileIntegrityError):
        await download_file(bob, damaged, tmp_path / "damaged.bin")
    assert not (tmp_path / "damaged.bin").exists()
    assert list(target_dir.glob(".*.part")) == []

    outsider = await logged_in(server, tmp_path)
    with pytest.raises(FileTransferError) as refused:
        await download_file(outsider, info, tmp_path / "nope.bin")
    assert refused.value.status == 403
    for client in (alice, bob, outsider):
        await client.close()
