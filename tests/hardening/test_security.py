"""Security checks as tests (docs/SECURITY.md), against real server processes.

Already covered elsewhere, and not repeated here:

- TLS 1.2-only clients are refused:
  tests/integration/test_session.py::test_tls12_only_client_is_refused
  (and TLS 1.3 with TLS_AES_256_GCM_SHA384: ::test_control_runs_tls13_with_aes256gcm).
- A changed server certificate is refused by `MeetingClient`:
  tests/integration/test_client.py::test_changed_certificate_is_refused (a wrong pin) and
  ::test_reconnect_checks_the_pin_again (another server on the pinned address);
  tests/integration/test_chat_cli.py::test_changed_certificate_is_refused (the CLI).
- Login throttling per identifier and per address, with ``retry_after``:
  tests/integration/test_session.py::test_login_throttled_after_five_failures_even_with_right_password,
  ::test_login_throttled_per_address_after_twenty_failures, ::test_successful_login_clears_failures.
  Here: that the throttle holds across the TLS and WebSocket entrances and hits the
  attacker's address only.
- Room passwords: tests/integration/test_rooms.py::test_locked_room_needs_its_password.
  Here: that guessing them is throttled.
- Non-members and media:
  tests/integration/test_relay.py::test_media_reaches_the_room_and_nobody_else,
  ::test_forged_replayed_and_malformed_datagrams_are_dropped_and_counted,
  ::test_a_stranger_cannot_tunnel_another_sessions_media; chat:
  tests/integration/test_chat_dm.py::test_chat_goes_to_the_other_members_not_the_sender;
  files: tests/integration/test_files.py::test_room_file_flow_and_authorization.
  Here: members who left or were kicked, and replays of a member's packets from elsewhere.
- Only the owner deletes, kicks or mutes:
  tests/integration/test_rooms.py::test_delete_by_non_owner_is_forbidden,
  tests/integration/test_moderation.py::test_owner_kicks_and_others_cannot (kick, and mute
  in ::test_mute_stops_the_audio_and_tells_the_member), and the "their room" column of
  tests/hardening/test_session_states.py (delete, kick and mute by a member: forbidden).
- key.pem is 0600: tests/integration/test_session.py::test_private_key_is_readable_by_owner_only.
  Here: the database files, the data directory and the shared files.
- Secrets in logs: every password, media key and session token a test hands to any
  server is checked against all server output at the end of the run (the session
  fixture in tests/conftest.py, tests/support/secrets_registry.py). Here: a session that
  uses every kind of secret on one server, checked on its own, and proof that the check
  finds a leak when there is one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import stat
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from tests.hardening.helpers import ATTACKER_HOST, MediaMember, attacker_tls
from tests.support import secrets_registry
from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout
from tests.support.wire import (
    DEFAULT_PASSWORD,
    clients_for,
    expect_error,
    unique_name,
    unique_room,
)

Json = dict[str, Any]


class WebSocketClient:
    """A browser session in Python: JSON text messages over the gateway (§5)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0

    async def request(self, kind: str, **fields: Any) -> Json:
        self.next_id += 1
        if isinstance(fields.get("password"), str):
            secrets_registry.record_password(fields["password"])
        await self.ws.send_str(json.dumps({"type": kind, "id": self.next_id, **fields}))
        while True:
            message = await self.ws.receive(timeout=timeout(5))
            assert message.type == aiohttp.WSMsgType.TEXT, message
            decoded: Json = json.loads(message.data)
            if decoded.get("type") == "reply" and decoded.get("id") == self.next_id:
                return decoded


async def websocket(http: aiohttp.ClientSession, server: ServerProcess) -> WebSocketClient:
    client = WebSocketClient(await http.ws_connect(f"http://{server.host}:{server.web_port}/ws"))
    assert (await client.request("hello", client="security-test", protocol=1))["ok"]
    return client


def http_session(source: str | None = None) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(local_addr=(source, 0) if source else None)
    return aiohttp.ClientSession(connector=connector)


# -- throttling ----------------------------------------------------------------------------


async def test_brute_force_is_throttled_across_entrances_and_only_at_the_attackers_address(
    server: ServerProcess,
) -> None:
    async with clients_for(server) as clients, http_session() as http, \
            http_session(ATTACKER_HOST) as attacker_http:
        victim = await clients.registered(unique_name("victim"))
        bystander = await clients.registered(unique_name("bystander"))
        attacker = await attacker_tls(server.host, server.port)
        clients.opened.append(attacker)
        await attacker.hello()
        for _ in range(5):
            await attacker.error("auth.login", "auth_failed", username=victim,
                                 password="guess number")
        # The identifier is throttled at every entrance, even with the right password.
        browser = await websocket(http, server)
        refused = await browser.request("auth.login", username=victim, password=DEFAULT_PASSWORD)
        assert expect_error(refused, "rate_limited")["retry_after"] > 0
        # Twenty failures from one address throttle that address, whatever the name...
        for _ in range(15):
            await attacker.error("auth.login", "auth_failed", username=unique_name("guess"),
                                 password="guess number")
        from_attacker = await websocket(attacker_http, server)
        refused = await from_attacker.request("auth.login", username=bystander,
                                              password=DEFAULT_PASSWORD)
        assert expect_error(refused, "rate_limited")["retry_after"] > 0
        again = await attacker_tls(server.host, server.port)
        clients.opened.append(again)
        await again.hello()
        await again.error("auth.login", "rate_limited", username=bystander,
                          password=DEFAULT_PASSWORD)
        # ...and only that address: the bystander still logs in from its own.
        await clients.login(bystander)
        await browser.ws.close()
        await from_attacker.ws.close()
    print("5 guesses lock the identifier on TLS and WebSocket alike; 20 lock 127.0.0.2 on "
          "both; 127.0.0.1 unaffected")


async def test_guessing_a_room_password_is_throttled(server: ServerProcess) -> None:
    async with clients_for(server) as clients:
        owner = await clients.user()
        room = unique_room("Vault")
        await owner.create_room(room, "the real room password")
        guesser = await clients.user()
        for attempt in range(5):
            await guesser.error("room.join", "wrong_password", room=room,
                                password=f"guess {attempt}")
        # Now even the right password is refused for a while (handlers/rooms.py).
        error = await guesser.error("room.join", "rate_limited", room=room,
                                    password="the real room password")
        assert error["retry_after"] > 0
        await guesser.error("chat.send", "not_in_room", text="let me in")
        member = await clients.user()  # another user is not held up
        joined = await member.join(room, "the real room password")
        assert {m["username"] for m in joined["members"]} == {member.username}
    print("5 wrong room passwords: the 6th attempt is rate_limited, right password or not")


# -- who hears a room ------------------------------------------------------------------------


async def test_former_members_and_outsiders_neither_hear_nor_reach_the_room(
    server: ServerProcess,
) -> None:
    async with clients_for(server) as clients:
        room, other_room = unique_room("Private"), unique_room("Next door")
        alice, bob, carol, dave, eve, frank = [await clients.user() for _ in range(6)]
        await alice.create_room(room)
        await frank.create_room(other_room)
        await frank.join(other_room)
        for member in (alice, bob, carol, dave):
            await member.join(room)
        for client in (alice, bob, carol, dave, eve, frank):
            await client.ok("media.update", mic=True, cam=False)
        media = {c.username: await MediaMember(c, server.host).start()
                 for c in (alice, bob, carol, dave, eve, frank)}
        for endpoint in media.values():
            await endpoint.bind()
        await carol.ok("room.leave")
        await alice.ok("room.kick", username=dave.username)
        await dave.expect_event("room.kicked")

        said = await alice.ok("chat.send", text="members only")
        heard = await bob.expect_event("chat.message")
        assert heard["message"] == said["message"]
        for _ in range(20):
            media[alice.username].audio()
        # Media from those outside: the one who left, the kicked one, the lobby, next door.
        for outsider in (carol, dave, eve, frank):
            for _ in range(5):
                media[outsider.username].audio()
        # Eve replays Alice's genuine datagrams from her own address.
        eve_endpoint = media[eve.username]
        assert eve_endpoint.transport is not None
        for datagram in media[alice.username].sent:
            eve_endpoint.transport.sendto(datagram, eve_endpoint.peer.server)
        # Alice's address was not taken over: Bob's audio still reaches her own socket.
        for _ in range(5):
            media[bob.username].audio()

        await asyncio.sleep(timeout(0.5))
        alice_ssrc, bob_ssrc = media[alice.username].ssrc, media[bob.username].ssrc
        bob_got = media[bob.username].audio_seqs_from(alice_ssrc)
        assert sorted(bob_got) == sorted(set(bob_got)), "a replay was delivered"
        assert len(bob_got) == 20
        assert len(media[alice.username].audio_seqs_from(bob_ssrc)) == 5
        heard_by = {c.username: len(media[c.username].audio_seqs_from(alice_ssrc))
                    for c in (carol, dave, eve, frank)}
        assert heard_by == dict.fromkeys(heard_by, 0), heard_by
        outsiders = {media[c.username].ssrc for c in (carol, dave, eve, frank)}
        for member in (alice, bob):
            leaked = [h for h in media[member.username].opened if h.ssrc in outsiders]
            assert leaked == [], f"{member.username} got media from outside the room"
        for outsider in (carol, dave, eve, frank):
            await outsider.no_event("chat.message", within=0.1)
        stats = await alice.ok("stats")
        for endpoint in media.values():
            endpoint.close()
    print(f"room of 2: 20 + 5 datagrams relayed inside, 0 to 4 outsiders, 0 from them; "
          f"{len(media[alice.username].sent)} replays refused; relay drops "
          f"{stats['relay']['dropped']}")


# -- sessions and tokens ---------------------------------------------------------------------


async def test_a_bearer_token_dies_with_its_session(server: ServerProcess) -> None:
    async with clients_for(server) as clients, http_session() as http:
        room = unique_room("Tokens")
        first = await clients.user()
        await first.create_room(room)
        await first.join(room)
        url = f"http://{server.host}:{server.web_port}/files"

        async def upload(token: str | None) -> int:
            headers = {"X-Filename": urllib.parse.quote("note.txt")}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            async with http.post(url, params={"room": room}, data=b"hello",
                                 headers=headers) as response:
                return response.status

        assert await upload(first.session) == 201
        old = first.session
        second = await clients.login(first.username or "")  # replaces the first session
        await first.closed()
        assert await upload(old) == 401
        await second.join(room)
        assert await upload(second.session) == 201
        token = second.session
        await second.ok("auth.logout")
        await second.closed()
        assert await upload(token) == 401
        assert await upload("A" * 43) == 401
    print("bearer token: 201 while its session lives; 401 after replacement and logout")


# -- files on disk ---------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_database_shared_files_and_data_dir_are_private(server: ServerProcess) -> None:
    async with clients_for(server) as clients, http_session() as http:
        room = unique_room("Disk")
        alice = await clients.user()
        await alice.create_room(room)
        await alice.join(room)
        await alice.ok("chat.send", text="written to the WAL")
        async with http.post(f"http://{server.host}:{server.web_port}/files",
                             params={"room": room}, data=b"private bytes" * 100,
                             headers={"Authorization": f"Bearer {alice.session}",
                                      "X-Filename": "private.bin"}) as response:
            assert response.status == 201
        data_dir = Path(server.data_dir)
        checked = {}
        assert mode(data_dir) & 0o077 == 0, oct(mode(data_dir))
        checked[data_dir.name + "/"] = oct(mode(data_dir))
        database = data_dir / "pymeet.sqlite3"
        for path in (database, database.with_name(database.name + "-wal"),
                     database.with_name(database.name + "-shm")):
            if path.exists():
                assert mode(path) == 0o600, f"{path.name} is {oct(mode(path))}"
                checked[path.name] = oct(mode(path))
        assert database.name in checked and f"{database.name}-wal" in checked
        shared = list((data_dir / "files").rglob("*"))
        assert any(p.is_file() for p in shared), "the upload is not under files/"
        for path in shared:
            assert mode(path) & 0o077 == 0, f"{path} is {oct(mode(path))}"
            checked[str(path.relative_to(data_dir))] = oct(mode(path))
    print(f"modes: {checked}")


# -- secrets in logs -------------------------------------------------------------------------


async def test_a_session_using_every_kind_of_secret_logs_none_of_them(
    server_factory: Callable[..., ServerProcess],
) -> None:
    """One server at --log-level debug sees passwords (register, login, wrong login, room
    password set and tried), session tokens (over TLS, WebSocket and HTTP) and media
    keys (used over UDP); none of them may appear in its output, even after shutdown."""
    before = secrets_registry.recorded()
    server: ServerProcess = await asyncio.to_thread(server_factory)
    async with clients_for(server) as clients, http_session() as http:
        room, room_password = unique_room("Secret"), "open sesame 4711"
        alice = await clients.user(password="alice's own secret 1")
        bob = await clients.user(password="bob's own secret 2")
        probe = await clients.hello()
        await probe.error("auth.login", "auth_failed", username=alice.username,
                          password="a wrong guess 3")
        await alice.create_room(room, room_password)
        await alice.join(room, room_password)
        await bob.error("room.join", "wrong_password", room=room, password="not it 5")
        await bob.join(room, room_password)
        for client in (alice, bob):
            await client.ok("media.update", mic=True, cam=False)
        endpoints = [await MediaMember(c, server.host).start() for c in (alice, bob)]
        for endpoint in endpoints:
            await endpoint.bind()
            endpoint.audio()
        async with http.post(f"http://{server.host}:{server.web_port}/files",
                             params={"room": room}, data=b"x" * 1000,
                             headers={"Authorization": f"Bearer {alice.session}",
                                      "X-Filename": "notes.txt"}) as response:
            assert response.status == 201
            file_id = (await response.json())["file"]["id"]
        async with http.get(f"http://{server.host}:{server.web_port}/files/{file_id}",
                            headers={"Authorization": f"Bearer {bob.session}"}) as response:
            assert response.status == 200
        browser = await websocket(http, server)
        name = unique_name("browser")
        await browser.request("auth.register", username=name, email=f"{name}@example.org",
                              password="browser secret 6")
        login = await browser.request("auth.login", username=name, password="browser secret 6")
        secrets_registry.record_session_token(login["session"])
        secrets_registry.record_media_key(login["media"]["key"])
        await browser.ws.close()
        await alice.ok("auth.logout")
        for endpoint in endpoints:
            endpoint.close()
    await asyncio.to_thread(server.stop)
    mine = {s: k for s, k in secrets_registry.recorded().items() if s not in before}
    kinds = sorted(set(mine.values()))
    assert {"password", "session token", "media key (base64)", "media key (hex)"} <= set(kinds)
    leaks = secrets_registry.find_leaks([("this server", server.output)], mine)
    assert not leaks, "\n".join(leak.describe() for leak in leaks)
    lines = server.output.count("\n") + 1
    print(f"{len(mine)} secrets ({', '.join(kinds)}) checked against {lines} lines of "
          f"debug output: none found")


def test_the_leak_check_finds_a_leaked_secret_in_every_spelling() -> None:
    """The end-of-run check can fail: each way a secret could be written is found."""
    key = bytes([0xFB, 0xEF, 0xBE] * 10 + [1, 2])  # its base64 has "+" and "/"
    token = "Zx9_kQ-" + "p" * 20 + "Lm3vT8wR4yU1oN5"
    secrets = {"hunter2 but longer": "password", token: "session token"}
    for spelling, kind in ((base64.b64encode(key).decode(), "media key (base64)"),
                           (base64.urlsafe_b64encode(key).decode(), "media key (url-safe)"),
                           (key.hex(), "media key (hex)")):
        secrets[spelling] = kind
    output = "\n".join([
        "2026-05-09 INFO pymeet.server: #3 alice logged in (ssrc 12345)",
        "DEBUG request {'password': 'hunter2 but longer'}",
        f"DEBUG token={token}, next",
        f"key:{base64.b64encode(key).decode()}",
        f"[{base64.urlsafe_b64encode(key).decode()}]",
        f"raw key {key.hex()}.",
    ])
    leaks = secrets_registry.find_leaks([("planted", output)], secrets)
    assert len(secrets) == 5
    assert {leak.secret for leak in leaks} == set(secrets)
    assert not secrets_registry.find_leaks([("clean", output.splitlines()[0])], secrets)
    print(f"planted {len(secrets)} secrets in {len(output)} characters: all found")

