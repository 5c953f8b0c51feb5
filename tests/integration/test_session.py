"""Contract tests of TLS and the session requests (PROTOCOL.md §1, §3.1; docs/PROTOCOL.md
"Transport" and "Sessions") against a real server process, talking raw wire."""

from __future__ import annotations

import asyncio
import base64
import ssl
import stat
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.server_process import ServerProcess
from tests.support.wire import (
    Clients,
    WireClient,
    assert_served,
    client_ssl_context,
    clients_for,
    email_for,
    expect_error,
    media_key,
    running_server,
    unique_name,
    unique_room,
)

U32_MAX = 2**32 - 1


def user_of(user: dict[str, object]) -> dict[str, object]:
    """The User fields of §3 (a server may add fields, §2)."""
    return {"username": user["username"], "email": user["email"]}

NEEDS_LOGIN = [
    "auth.logout", "user.list", "room.list", "room.create", "room.join", "room.leave",
    "room.delete", "chat.send", "dm.send", "dm.history", "media.update", "call.invite",
    "call.answer",
]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("session")) as server:
        yield server


@pytest.fixture
async def clients(shared: ServerProcess) -> AsyncIterator[Clients]:
    async with clients_for(shared) as pool:
        yield pool


# -- TLS ---------------------------------------------------------------------------------


async def test_control_runs_tls13_with_aes256gcm(clients: Clients) -> None:
    client = await clients.open()
    assert client.ssl_object.version() == "TLSv1.3"
    assert client.ssl_object.cipher()[0] == "TLS_AES_256_GCM_SHA384"
    await client.hello()


async def test_every_tls_handshake_completes(shared: ServerProcess) -> None:
    # A TLS client sends its ClientHello the moment TCP connects; the server must never
    # lose it (a lost ClientHello leaves the handshake hanging until it times out).
    for attempt in range(40):
        try:
            client = await WireClient.open(shared.host, shared.port)
        except (TimeoutError, ConnectionError) as exc:
            raise AssertionError(
                f"TLS handshake {attempt + 1} of 40 stalled ({exc.__class__.__name__})"
            ) from exc
        try:
            await client.hello()
        finally:
            await client.aclose()


async def test_tls12_only_client_is_refused(shared: ServerProcess) -> None:
    legacy = client_ssl_context(minimum=ssl.TLSVersion.TLSv1_2, maximum=ssl.TLSVersion.TLSv1_2)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        client = await WireClient.open(shared.host, shared.port, context=legacy)
        await client.aclose()  # reached only if the server completed a TLS 1.2 handshake
    await assert_served(shared)


async def test_presented_certificate_matches_ready_line_fingerprint(
    shared: ServerProcess, clients: Clients
) -> None:
    client = await clients.open()
    assert len(shared.fingerprint) == 64
    assert client.peer_fingerprint() == shared.fingerprint


def test_private_key_is_readable_by_owner_only(shared: ServerProcess) -> None:
    key = Path(shared.data_dir) / "key.pem"
    assert key.exists()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (Path(shared.data_dir) / "cert.pem").exists()


# -- hello -------------------------------------------------------------------------------


async def test_hello_reply_names_server_protocol_and_features(clients: Clients) -> None:
    client = await clients.open()
    reply = await client.hello()
    assert isinstance(reply["server"], str) and reply["server"]
    assert reply["protocol"] == 1
    assert isinstance(reply["features"], list)
    assert all(isinstance(feature, str) for feature in reply["features"])


async def test_hello_again_is_answered_again(clients: Clients) -> None:
    client = await clients.open()
    first = await client.hello()
    second = await client.hello()
    assert second["protocol"] == first["protocol"] == 1


@pytest.mark.parametrize(
    ("msg_type", "fields"),
    [
        ("ping", {}),
        ("auth.login", {"username": "nobody", "password": "whatever1"}),
        ("auth.register", {"username": "nobody", "email": "n@example.org",
                           "password": "whatever1"}),
        ("room.list", {}),
    ],
)
async def test_first_request_must_be_hello(
    shared: ServerProcess, clients: Clients, msg_type: str, fields: dict[str, object]
) -> None:
    client = await clients.open()
    await client.error(msg_type, "hello_required", **fields)
    # The connection is still usable once hello is said.
    await client.hello()
    await assert_served(shared, client)


@pytest.mark.parametrize("version", [0, 2, 99])
async def test_unsupported_protocol_version(
    shared: ServerProcess, clients: Clients, version: int
) -> None:
    client = await clients.open()
    await client.error("hello", "unsupported_protocol", client="future", protocol=version)
    await client.hello(protocol=1)
    await assert_served(shared, client)


@pytest.mark.parametrize("msg_type", NEEDS_LOGIN)
async def test_requests_need_a_logged_in_session(clients: Clients, msg_type: str) -> None:
    client = await clients.hello()
    await client.error(msg_type, "unauthenticated")
    # still served, and ping needs no login
    await client.ping()


async def test_ping_before_login_returns_server_unix_time(clients: Clients) -> None:
    client = await clients.hello()
    reply = await client.ping()
    assert isinstance(reply["time"], float)
    # Unix seconds, not a monotonic clock (a generous bound: clocks may differ a little).
    assert abs(reply["time"] - time.time()) < 3600


# -- register / login --------------------------------------------------------------------


async def test_register_returns_the_user_as_spelled(clients: Clients) -> None:
    client = await clients.hello()
    name = unique_name("Mixed")
    email = f"{name}@Example.ORG"
    reply = await client.register(name, email)
    assert user_of(reply["user"]) == {"username": name, "email": email}


async def test_register_refuses_taken_username_case_insensitively(clients: Clients) -> None:
    client = await clients.hello()
    name = unique_name("Dup")
    await client.register(name)
    await client.error(
        "auth.register", "user_exists",
        username=name.upper(), email=email_for("other" + name), password="password123",
    )
    await client.error(
        "auth.register", "user_exists",
        username=name.lower(), email=email_for("third" + name), password="password123",
    )


async def test_register_refuses_taken_email_case_insensitively(clients: Clients) -> None:
    client = await clients.hello()
    name = unique_name("mail")
    await client.register(name, f"{name}@example.org")
    await client.error(
        "auth.register", "email_exists",
        username=unique_name("mail"), email=f"{name.upper()}@EXAMPLE.org", password="password123",
    )


async def test_concurrent_registrations_of_one_name_create_one_user(clients: Clients) -> None:
    name = unique_name("race")
    racers = await asyncio.gather(*(clients.hello() for _ in range(6)))
    replies = await asyncio.gather(*(
        racer.request("auth.register", username=name if i % 2 else name.upper(),
                      email=email_for(f"r{i}{name}"), password="password123")
        for i, racer in enumerate(racers)
    ))
    assert sum(r["ok"] for r in replies) == 1, replies
    for reply in replies:
        if not reply["ok"]:
            expect_error(reply, "user_exists")


async def test_login_by_username_case_insensitively(clients: Clients) -> None:
    name = unique_name("Case")
    await clients.registered(name)
    client = await clients.hello()
    reply = await client.login(name.swapcase())
    assert user_of(reply["user"]) == {"username": name, "email": email_for(name)}
    assert isinstance(reply["session"], str) and reply["session"]


async def test_login_by_email_case_insensitively(clients: Clients) -> None:
    name = unique_name("byMail")
    await clients.registered(name)
    client = await clients.hello()
    reply = await client.login(email_for(name).upper())
    assert reply["user"]["username"] == name
    # The login worked: requests that need a session are served.
    await client.ok("room.list")


async def test_login_media_credentials(shared: ServerProcess, clients: Clients) -> None:
    client = await clients.user()
    media = client.media
    assert media["port"] == shared.udp_port
    assert isinstance(media["ssrc"], int) and not isinstance(media["ssrc"], bool)
    assert 0 < media["ssrc"] <= U32_MAX
    assert len(media_key(client)) == 32
    # The session token: 256 random bits, URL-safe base64 (docs/PROTOCOL.md, Sessions).
    token = client.session or ""
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) == 32


async def test_live_sessions_get_distinct_ssrcs_and_fresh_keys(clients: Clients) -> None:
    users = await asyncio.gather(*(clients.user() for _ in range(6)))
    ssrcs = [user.media["ssrc"] for user in users]
    assert len(set(ssrcs)) == len(ssrcs)
    keys = [media_key(user) for user in users]
    assert len(set(keys)) == len(keys)
    # A second login of the same user gets a fresh key and a fresh session token.
    again = await clients.login(users[0].username or "")
    assert media_key(again) != keys[0]
    assert again.session != users[0].session


async def test_wrong_user_and_wrong_password_fail_alike(clients: Clients) -> None:
    name = unique_name("secret")
    await clients.registered(name)
    client = await clients.hello()
    wrong_password = await client.error(
        "auth.login", "auth_failed", username=name, password="not the password"
    )
    wrong_user = await client.error(
        "auth.login", "auth_failed", username=unique_name("ghost"), password="not the password"
    )
    assert wrong_user == wrong_password
    # A short wrong password is a wrong password, not a malformed one.
    short = await client.error("auth.login", "auth_failed", username=name, password="x")
    assert short == wrong_password
    await client.login(name)


async def test_login_throttled_after_five_failures_even_with_right_password(
    server: ServerProcess,
) -> None:
    async with clients_for(server) as clients:
        victim = unique_name("victim")
        bystander = unique_name("bystander")
        await clients.registered(victim)
        await clients.registered(bystander)
        attacker = await clients.hello()
        for _ in range(5):
            await attacker.error("auth.login", "auth_failed", username=victim, password="guess1234")
        throttled = await attacker.error("auth.login", "rate_limited", username=victim,
                                         password="correct horse battery")
        assert isinstance(throttled["retry_after"], int | float)
        assert throttled["retry_after"] > 0
        # The throttle follows the identifier, not the connection.
        fresh = await clients.hello()
        await fresh.error("auth.login", "rate_limited", username=victim,
                          password="correct horse battery")
        # Another identifier is unaffected.
        other = await clients.hello()
        await other.login(bystander)
        await assert_served(server, attacker)


async def test_login_throttled_per_address_after_twenty_failures(server: ServerProcess) -> None:
    async with clients_for(server) as clients:
        name = unique_name("innocent")
        await clients.registered(name)
        guesser = await clients.hello()
        for _ in range(20):
            await guesser.error("auth.login", "auth_failed", username=unique_name("guess"),
                                password="guess1234")
        # Every connection from this address is refused now, whatever the identifier.
        fresh = await clients.hello()
        error = await fresh.error("auth.login", "rate_limited", username=name,
                                  password="correct horse battery")
        assert error["retry_after"] > 0


async def test_successful_login_clears_failures(server: ServerProcess) -> None:
    async with clients_for(server) as clients:
        name = unique_name("forgetful")
        await clients.registered(name)
        client = await clients.hello()
        for _ in range(4):
            await client.error("auth.login", "auth_failed", username=name, password="oops12345")
        await client.login(name)
        second = await clients.hello()
        for _ in range(4):
            await second.error("auth.login", "auth_failed", username=name, password="oops12345")
        await second.login(name)


# -- logout, presence, user.list -----------------------------------------------------------


async def test_logout_replies_then_closes_and_others_see_offline(clients: Clients) -> None:
    watcher = await clients.user()
    leaver = await clients.user()
    await watcher.expect_event("presence", lambda e: e["username"] == leaver.username)
    room = unique_room("Logout")
    await watcher.create_room(room)
    await watcher.join(room)
    await leaver.join(room)
    reply = await leaver.ok("auth.logout")
    assert reply["ok"] is True
    await leaver.closed()
    event = await watcher.expect_event(
        "presence", lambda e: e["username"] == leaver.username and e["online"] is False
    )
    assert event["online"] is False
    left = await watcher.expect_event("room.member_left")
    assert left["room"] == room and left["username"] == leaver.username
    # Logged out means logged out: a new connection must log in again.
    again = await clients.hello()
    await again.error("room.list", "unauthenticated")


async def test_presence_goes_to_other_logged_in_sessions(clients: Clients) -> None:
    watcher = await clients.user()
    anonymous = await clients.hello()
    newcomer = await clients.user()
    event = await watcher.expect_event("presence", lambda e: e["username"] == newcomer.username)
    assert event["online"] is True
    await asyncio.gather(
        newcomer.no_event("presence", lambda e: e["username"] == newcomer.username),
        anonymous.no_event("presence"),
    )
    await newcomer.aclose()  # a dropped connection also goes offline
    await watcher.expect_event(
        "presence", lambda e: e["username"] == newcomer.username and e["online"] is False
    )


async def test_user_list_shows_online_users_and_their_rooms(clients: Clients) -> None:
    alice = await clients.user()
    bob = await clients.user()
    offline = await clients.registered()
    room = unique_room("Lounge")
    await bob.create_room(room)
    await bob.join(room)
    users = {u["username"]: u["room"] for u in (await alice.ok("user.list"))["users"]}
    assert users[alice.username] is None
    assert users[bob.username] == room
    assert offline not in users
    await bob.ok("room.leave")
    users = {u["username"]: u["room"] for u in (await alice.ok("user.list"))["users"]}
    assert users[bob.username] is None


async def test_second_login_replaces_the_first_session(clients: Clients) -> None:
    first = await clients.user()
    name = first.username or ""
    peer = await clients.user()
    room = unique_room("Replace")
    await first.create_room(room)
    await first.join(room)
    await peer.join(room)
    second = await clients.login(name)
    closed = await first.expect_event("session.closed")
    assert closed["reason"] == "replaced"
    await first.closed()
    left = await peer.expect_event("room.member_left", lambda e: e["username"] == name)
    assert left["room"] == room
    # The user never went offline.
    await peer.no_event("presence", lambda e: e["username"] == name)
    # The new session works, is in the lobby, and is the only one of that user.
    users = (await second.ok("user.list"))["users"]
    assert [(u["username"], u["room"]) for u in users if u["username"] == name] == [(name, None)]
    sent = (await peer.ok("dm.send", to=name, text="which one of you?"))["message"]
    assert (await second.expect_event("dm.message"))["message"] == sent
    members = (await peer.ok("room.join", room=room))["members"]
    assert [m["username"] for m in members] == [peer.username]


async def test_registered_user_survives_reconnect(clients: Clients) -> None:
    name = unique_name("again")
    first = await clients.user(name)
    await first.aclose()
    again = await clients.login(name)
    assert user_of(again.user or {}) == {"username": name, "email": email_for(name)}


async def test_error_reply_carries_the_request_id(clients: Clients) -> None:
    client = await clients.hello()
    request_id = await client.send_request("room.list")
    reply = await client.next_reply()
    assert reply["id"] == request_id
    expect_error(reply, "unauthenticated")
