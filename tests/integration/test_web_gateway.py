"""The WebSocket gateway (PROTOCOL.md §5) against a real server: browser sessions are
sessions like any other, and media crosses between UDP and WebSocket members of a room."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from pymeet.protocol.media_packet import (
    CLIENT_TO_SERVER,
    MAX_VIDEO_FRAGMENT_PAYLOAD,
    Kind,
    MediaHeader,
)
from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout
from tests.support.udp_peer import UdpPeer
from tests.support.wire import DEFAULT_PASSWORD, Clients, unique_name, unique_room

WEB_MEDIA = struct.Struct(">BIII")


class WebClient:
    """A browser's view of the gateway, in Python: JSON as text, media as binary."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        self.media: list[tuple[int, int, int, int, bytes]] = []

    async def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        request_id = next(self.ids)
        await self.ws.send_str(json.dumps({"type": kind, "id": request_id, **fields}))
        while True:
            message = await self.receive()
            if message.get("type") == "reply" and message.get("id") == request_id:
                return message

    async def ok(self, kind: str, **fields: Any) -> dict[str, Any]:
        reply = await self.request(kind, **fields)
        assert reply["ok"], reply
        return reply

    async def receive(self) -> dict[str, Any]:
        while True:
            message = await self.ws.receive(timeout=timeout(5))
            if message.type == aiohttp.WSMsgType.BINARY:
                self.media.append((*WEB_MEDIA.unpack_from(message.data),
                                   message.data[WEB_MEDIA.size:]))
                continue
            assert message.type == aiohttp.WSMsgType.TEXT, message
            decoded: dict[str, Any] = json.loads(message.data)
            if decoded.get("type") != "reply":
                self.events.append(decoded)
            return decoded

    async def drain(self, quiet: float = 0.5) -> None:
        """Read everything that arrives until ``quiet`` seconds pass without a message."""
        with pytest.raises(TimeoutError):
            while True:
                message = await self.ws.receive(timeout=timeout(quiet))
                if message.type == aiohttp.WSMsgType.BINARY:
                    self.media.append((*WEB_MEDIA.unpack_from(message.data),
                                       message.data[WEB_MEDIA.size:]))
                elif message.type == aiohttp.WSMsgType.TEXT:
                    self.events.append(json.loads(message.data))
                else:
                    raise AssertionError(f"websocket ended: {message}")

    async def send_media(self, kind: int, timestamp: int, payload: bytes) -> None:
        await self.ws.send_bytes(WEB_MEDIA.pack(kind, 0, timestamp, 0) + payload)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def desktop_in_new_room(server: ServerProcess, clients: Clients, room: str) -> UdpPeer:
    """A TLS user who creates and joins ``room`` with mic and camera on; its bound UDP."""
    desktop = await clients.user()
    await desktop.create_room(room)
    await desktop.join(room)
    await desktop.ok("media.update", mic=True, cam=True)
    udp = UdpPeer((server.host, desktop.media["port"]), desktop.media["ssrc"],
                  base64.b64decode(desktop.media["key"]))
    udp.bind()
    return udp


async def web_user(server: ServerProcess, http: aiohttp.ClientSession) -> WebClient:
    ws = await http.ws_connect(f"http://{server.host}:{server.web_port}/ws")
    client = WebClient(ws)
    await client.ok("hello", client="test-browser", protocol=1)
    name = unique_name("web")
    await client.ok("auth.register", username=name, email=f"{name}@example.org",
                    password=DEFAULT_PASSWORD)
    login = await client.ok("auth.login", username=name, password=DEFAULT_PASSWORD)
    assert login["media"]["ssrc"] > 0
    return client


async def test_websocket_sessions_follow_the_same_rules(server: ServerProcess,
                                                        http: aiohttp.ClientSession) -> None:
    ws = await http.ws_connect(f"http://{server.host}:{server.web_port}/ws")
    client = WebClient(ws)
    assert (await client.request("ping"))["error"]["code"] == "hello_required"
    await client.ok("hello", client="test-browser", protocol=1)
    assert (await client.request("room.list"))["error"]["code"] == "unauthenticated"
    bad = await client.request("auth.register", username="x", email="x@y.z", password="p")
    assert bad["error"] == {"code": "invalid_field", "field": "username",
                            "message": bad["error"]["message"]}
    await ws.send_str("not json")
    garbage = await client.receive()
    assert garbage["error"]["code"] == "bad_request"
    assert (await client.request("teleport"))["error"]["code"] == "unknown_type"
    await ws.close()


async def test_browser_and_tls_users_chat_in_one_room(server: ServerProcess,
                                                      http: aiohttp.ClientSession) -> None:
    clients = Clients(server)
    room = unique_room("Mixed")
    desktop = await clients.user()
    await desktop.create_room(room)
    await desktop.join(room)
    browser = await web_user(server, http)
    joined = await browser.ok("room.join", room=room)
    assert {m["username"] for m in joined["members"]} == {desktop.username,
                                                          joined["members"][-1]["username"]}
    await desktop.expect_event("room.member_joined")
    sent = await browser.ok("chat.send", text="xin chào từ trình duyệt")
    got = await desktop.expect_event("chat.message")
    assert got["message"] == sent["message"]
    reply = await desktop.ok("chat.send", text="hello browser")
    while not any(e.get("type") == "chat.message" for e in browser.events):
        await browser.receive()
    [event] = [e for e in browser.events if e.get("type") == "chat.message"]
    assert event["message"] == reply["message"]
    for client in clients.opened:
        await client.aclose()


async def test_media_crosses_between_udp_and_websocket(server: ServerProcess,
                                                       http: aiohttp.ClientSession) -> None:
    clients = Clients(server)
    room = unique_room("Bridge")
    udp = await desktop_in_new_room(server, clients, room)
    browser = await web_user(server, http)
    await browser.ok("room.join", room=room)
    browser_ssrc = (await browser.ok("media.update", mic=True, cam=True))["member"]["ssrc"]

    # UDP -> browser: audio passes through; a 3-fragment frame arrives whole, once.
    udp.audio(b"\x05" * 640)
    jpeg = b"\xff\xd8" + os.urandom(2 * MAX_VIDEO_FRAGMENT_PAYLOAD + 100) + b"\xff\xd9"
    chunks = [jpeg[i:i + MAX_VIDEO_FRAGMENT_PAYLOAD]
              for i in range(0, len(jpeg), MAX_VIDEO_FRAGMENT_PAYLOAD)]
    for index in (2, 0, 1):  # out of order
        header = MediaHeader(Kind.VIDEO, udp.ssrc, udp.seq + 1 + index, 9000, frame_id=7,
                             frag_index=index, frag_count=3)
        udp.send(udp.cipher.seal(CLIENT_TO_SERVER, header, chunks[index]))
    udp.seq += 3
    await browser.drain()
    audio = [m for m in browser.media if m[0] == Kind.AUDIO]
    video = [m for m in browser.media if m[0] == Kind.VIDEO]
    assert [(m[1], m[4]) for m in audio] == [(udp.ssrc, b"\x05" * 640)]
    assert [(m[1], m[2], m[3], m[4]) for m in video] == [(udp.ssrc, 9000, 7, jpeg)]

    # Browser -> UDP: audio resealed as one datagram; a JPEG fragmented once.
    await browser.send_media(Kind.AUDIO, 320, b"\x06" * 640)
    big = b"\xff\xd8" + os.urandom(5000) + b"\xff\xd9"
    await browser.send_media(Kind.VIDEO, 18000, big)
    received = udp.receive()
    assert all(h.ssrc == browser_ssrc for h, _ in received)
    assert [p for h, p in received if h.kind == Kind.AUDIO] == [b"\x06" * 640]
    fragments = sorted((h for h in received if h[0].kind == Kind.VIDEO),
                       key=lambda hp: hp[0].frag_index)
    assert len(fragments) == -(-len(big) // MAX_VIDEO_FRAGMENT_PAYLOAD)
    assert {h.frame_id for h, _ in fragments} == {1}
    assert b"".join(p for _, p in fragments) == big
    seqs = [h.seq for h, _ in received]
    assert len(set(seqs)) == len(seqs)  # one counter, no nonce reuse
    udp.close()
    for client in clients.opened:
        await client.aclose()


async def test_browser_media_stays_in_its_room(server: ServerProcess,
                                               http: aiohttp.ClientSession) -> None:
    browser = await web_user(server, http)
    room = unique_room("Alone")
    await browser.ok("room.create", room=room)
    await browser.ok("room.join", room=room)
    await browser.ok("media.update", mic=True, cam=False)
    outsider = await web_user(server, http)
    await outsider.ok("room.create", room=unique_room("Else"))
    await browser.send_media(Kind.AUDIO, 0, bytes(640))
    await browser.send_media(Kind.VIDEO, 0, b"\xff\xd8x\xff\xd9")  # camera is off
    await outsider.drain()
    assert outsider.media == []
    stats = (await browser.ok("stats"))["relay"]["dropped"]
    assert stats.get("no_recipients", 0) >= 1 and stats.get("cam_off", 0) >= 1


async def test_a_slow_browser_loses_video_not_audio_and_holds_nobody_up(
    server_factory: Callable[..., ServerProcess], http: aiohttp.ClientSession
) -> None:
    # Limits raised so that only the browsers' reading speed decides what arrives.
    server = server_factory("--media-packet-rate", "100000", "--media-packet-burst", "100000",
                            "--media-byte-rate", "1e9", "--media-byte-burst", "1e9")
    clients = Clients(server)
    room = unique_room("Slow")
    udp = await desktop_in_new_room(server, clients, room)
    slow = await web_user(server, http)
    await slow.ok("room.join", room=room)
    fast = await web_user(server, http)
    await fast.ok("room.join", room=room)

    reading = asyncio.create_task(fast.drain(quiet=2))
    # 300 frames of 60 KB (18 MB, far past any socket buffer) with audio between them.
    jpeg = b"\xff\xd8" + bytes(60_000) + b"\xff\xd9"
    chunks = [jpeg[i:i + MAX_VIDEO_FRAGMENT_PAYLOAD]
              for i in range(0, len(jpeg), MAX_VIDEO_FRAGMENT_PAYLOAD)]
    for n in range(300):  # the slow browser reads nothing meanwhile; the fast one does
        for index, chunk in enumerate(chunks):
            udp.send(udp.seal(Kind.VIDEO, chunk, timestamp=n * 6000, frame_id=n + 1,
                              frag_index=index, frag_count=len(chunks)))
        udp.audio()
        await asyncio.sleep(0.005)
    await reading
    fast_video = sum(1 for m in fast.media if m[0] == Kind.VIDEO)
    fast_audio = sum(1 for m in fast.media if m[0] == Kind.AUDIO)
    await slow.drain()
    slow_video = sum(1 for m in slow.media if m[0] == Kind.VIDEO)
    slow_audio = sum(1 for m in slow.media if m[0] == Kind.AUDIO)
    assert fast_audio == 300 and fast_video >= 100  # the reading browser is served
    assert slow_audio >= 50  # at least the last second of audio survives
    assert slow_video < fast_video  # the stalled browser lost video first
    print(f"fast browser: {fast_video} frames, {fast_audio} audio; "
          f"slow browser: {slow_video} frames, {slow_audio} audio")
    udp.close()
    for client in clients.opened:
        await client.aclose()
