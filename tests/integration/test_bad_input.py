"""Hostile and malformed input on the control channel (PROTOCOL.md §1, §2, §3.5;
docs/PROTOCOL.md "Framing", "Envelope", "Limits").

Every case ends with proof that the server still serves: the same connection where it
stays open, and a brand-new one (`assert_served`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import string
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout
from tests.support.wire import (
    Clients,
    WireClient,
    assert_served,
    clients_for,
    email_for,
    expect_error,
    running_server,
    unique_name,
    unique_room,
)

MAX_FRAME = 1_048_576
MAX_ID = 2**53 - 1


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("bad")) as server:
        yield server


@pytest.fixture
async def clients(shared: ServerProcess) -> AsyncIterator[Clients]:
    async with clients_for(shared) as pool:
        yield pool


# -- framing (§1) ------------------------------------------------------------------------


@pytest.mark.parametrize("length", [MAX_FRAME + 1, 2**32 - 1])
async def test_oversize_length_prefix_is_refused_and_closed(
    shared: ServerProcess, clients: Clients, length: int
) -> None:
    client = await clients.hello()
    await client.send_raw(struct.pack(">I", length))  # the body never follows
    reply = await client.next_reply()
    expect_error(reply, "frame_too_large")
    assert "id" not in reply
    await client.closed()
    await assert_served(shared)


async def test_frame_of_exactly_one_mebibyte_is_accepted(
    shared: ServerProcess, clients: Clients
) -> None:
    client = await clients.hello()
    head = b'{"type":"ping","id":42,"padding":"'
    tail = b'"}'
    payload = head + b"x" * (MAX_FRAME - len(head) - len(tail)) + tail
    assert len(payload) == MAX_FRAME
    await client.send_payload(payload)
    reply = await client.reply(42, wait=15)
    assert reply["ok"] is True
    await assert_served(shared, client)


async def test_zero_length_frame_is_bad_request_and_stream_stays_in_sync(
    shared: ServerProcess, clients: Clients
) -> None:
    client = await clients.hello()
    # The empty frame and a ping in the same write: the ping must still parse.
    ping = json.dumps({"type": "ping", "id": 9}).encode()
    await client.send_raw(b"\x00\x00\x00\x00" + struct.pack(">I", len(ping)) + ping)
    bad = await client.next_reply()
    expect_error(bad, "bad_request")
    assert "id" not in bad
    assert (await client.reply(9))["ok"] is True
    await assert_served(shared, client)


async def test_frame_fed_one_byte_at_a_time_still_parses(
    shared: ServerProcess, clients: Clients
) -> None:
    client = await clients.hello()
    payload = json.dumps({"type": "ping", "id": 5}).encode()
    for byte in struct.pack(">I", len(payload)) + payload:
        await client.send_raw(bytes([byte]))
        await asyncio.sleep(0.005)
    assert (await client.reply(5))["ok"] is True
    await assert_served(shared, client)


async def test_several_frames_in_one_write(shared: ServerProcess, clients: Clients) -> None:
    client = await clients.hello()
    frames = b"".join(
        struct.pack(">I", len(p)) + p
        for p in (json.dumps({"type": "ping", "id": i}).encode() for i in (11, 12, 13))
    )
    await client.send_raw(frames)
    for i in (11, 12, 13):
        assert (await client.reply(i))["ok"] is True


async def test_junk_tunnelled_media_is_dropped_silently(
    shared: ServerProcess, clients: Clients
) -> None:
    # A payload starting with 0x00 is a sealed media packet (§1, §4.6); one that does not
    # authenticate is dropped without a reply (§4.3), and control goes on.
    client = await clients.user()
    await client.send_payload(b"\x00" + bytes(range(1, 60)))
    await client.no_event("reply", within=0.3)
    await assert_served(shared, client)


# -- envelope (§2) -----------------------------------------------------------------------

NO_ID_PAYLOADS = {
    "invalid-utf8": b'{"type":"ping","id":1,"x":"\xff\xfe"}',
    "invalid-json": b'{"type": "ping", "id": 1',
    "trailing-garbage": b'{"type":"ping","id":1} }',
    "json-array": b'[{"type":"ping","id":1}]',
    "json-string": b'"ping"',
    "json-number": b"17",
    "json-null": b"null",
    "json-true": b"true",
    "nan": b'{"type":"ping","id":1,"x":NaN}',
    "infinity": b'{"type":"ping","id":1,"x":Infinity}',
    "deep-nesting": b'{"type":"ping","id":1,"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "empty-object": b"{}",
    "missing-id": b'{"type":"ping"}',
    "id-null": b'{"type":"ping","id":null}',
    "id-float": b'{"type":"ping","id":1.0}',
    "id-fraction": b'{"type":"ping","id":1.5}',
    "id-true": b'{"type":"ping","id":true}',
    "id-false": b'{"type":"ping","id":false}',
    "id-zero": b'{"type":"ping","id":0}',
    "id-negative": b'{"type":"ping","id":-3}',
    "id-2^53": b'{"type":"ping","id":9007199254740992}',
    "id-huge": b'{"type":"ping","id":1000000000000000000000000000000}',
    "id-exponent": b'{"type":"ping","id":1e3}',
    "id-string": b'{"type":"ping","id":"7"}',
    "id-list": b'{"type":"ping","id":[7]}',
}


@pytest.mark.parametrize("payload", NO_ID_PAYLOADS.values(), ids=NO_ID_PAYLOADS.keys())
async def test_malformed_payload_is_bad_request_and_connection_stays_open(
    shared: ServerProcess, clients: Clients, payload: bytes
) -> None:
    client = await clients.hello()
    await client.send_payload(payload)
    reply = await client.next_reply()
    expect_error(reply, "bad_request")
    # No id could be read from any of these (docs/PROTOCOL.md, Envelope).
    assert "id" not in reply
    await assert_served(shared, client)


BAD_TYPE_PAYLOADS = {
    "missing-type": {"id": 77},
    "type-null": {"type": None, "id": 77},
    "type-number": {"type": 5, "id": 77},
    "type-list": {"type": ["ping"], "id": 77},
    "type-empty": {"type": "", "id": 77},
}


@pytest.mark.parametrize("obj", BAD_TYPE_PAYLOADS.values(), ids=BAD_TYPE_PAYLOADS.keys())
async def test_unusable_type_is_bad_request_with_the_id(
    shared: ServerProcess, clients: Clients, obj: dict[str, Any]
) -> None:
    client = await clients.hello()
    await client.send(obj)
    reply = await client.next_reply()
    expect_error(reply, "bad_request")
    assert reply.get("id") == 77
    await assert_served(shared, client)


async def test_largest_id_is_accepted(clients: Clients) -> None:
    client = await clients.hello()
    await client.send({"type": "ping", "id": MAX_ID})
    reply = await client.next_reply()
    assert reply["ok"] is True and reply["id"] == MAX_ID


async def test_unknown_fields_are_ignored(clients: Clients) -> None:
    client = await clients.open()
    reply = await client.ok("hello", client="tests", protocol=1, future={"x": [1, 2]})
    assert reply["protocol"] == 1
    await client.ok("ping", extra="ignored", nested={"a": None})


async def test_unknown_type(shared: ServerProcess, clients: Clients) -> None:
    client = await clients.hello()
    error = await client.error("room.teleport", "unknown_type", room="Moon")
    assert "field" not in error
    # A reply type from a client is no request either.
    await client.error("reply", "unknown_type")
    await assert_served(shared, client)


async def test_unknown_type_is_reported_before_hello_required(clients: Clients) -> None:
    # docs/PROTOCOL.md: the type is checked before the session state.
    client = await clients.open()
    await client.error("bogus.request", "unknown_type")
    await client.error("ping", "hello_required")
    await client.hello()


async def test_garbage_as_first_payload(shared: ServerProcess, clients: Clients) -> None:
    client = await clients.open()
    await client.send_payload(b"GET / HTTP/1.1\r\n\r\n")
    expect_error(await client.next_reply(), "bad_request")
    await client.hello()
    await assert_served(shared, client)


async def test_sixteen_consecutive_garbage_payloads_close_the_connection(
    shared: ServerProcess, clients: Clients
) -> None:
    client = await clients.hello()
    # Fifteen in a row, then a good request: the count starts again.
    for _ in range(2):
        for _ in range(15):
            await client.send_payload(b"not json at all")
        assert (await client.ping())["ok"] is True
    for _ in range(16):
        await client.send_payload(b"not json at all")
    await client.closed()
    bad = [m for m in client.received if m["type"] == "reply" and m.get("ok") is False]
    assert all(m["error"]["code"] == "bad_request" for m in bad)
    assert len(bad) >= 30 + 15
    await assert_served(shared)


async def test_request_flood_is_rate_limited_and_then_served(
    shared: ServerProcess, clients: Clients
) -> None:
    client = await clients.user()
    ids = []
    for _ in range(200):
        ids.append(await client.send_request("ping"))
    replies = [await client.reply(request_id) for request_id in ids]
    limited = [r for r in replies if not r["ok"]]
    assert limited, "200 requests at once were all served"
    for reply in limited:
        expect_error(reply, "rate_limited")
    assert any(r["ok"] for r in replies)
    # No reply is duplicated, and no request lost its reply.
    await client.no_event("reply", within=0.2)
    # Another session is unaffected, at once.
    other = await clients.user()
    await other.ok("room.list")
    # The flooded session is served again once its bucket refills.
    deadline = asyncio.get_running_loop().time() + timeout(10)
    while True:
        reply = await client.request("room.list")
        if reply["ok"]:
            break
        expect_error(reply, "rate_limited")
        assert asyncio.get_running_loop().time() < deadline, "never served again"
        await asyncio.sleep(0.1)
    await assert_served(shared, client)


async def test_json_escapes_decode_like_raw_utf8(clients: Clients) -> None:
    client = await clients.user()
    to = json.dumps(client.username)
    text = r'"\ud83d\ude00 caf\u00e9 \u0041"'
    payload = f'{{"type":"dm.send","id":300,"to":{to},"text":{text}}}'.encode()
    await client.send_payload(payload)
    reply = await client.reply(300)
    assert reply["ok"] is True, reply
    assert reply["message"]["text"] == "😀 café A"


LONE_SURROGATES = {
    "text": '{"type":"dm.send","id":301,"to":"%(me)s","text":"a\\ud800b"}',
    "email": '{"type":"auth.register","id":301,"username":"%(new)s",'
             '"email":"x\\udc00@example.org","password":"password123"}',
    "password": '{"type":"auth.register","id":301,"username":"%(new)s",'
                '"email":"%(new)s@example.org","password":"pass\\ud800word"}',
}


@pytest.mark.parametrize("template", LONE_SURROGATES.values(), ids=LONE_SURROGATES.keys())
async def test_lone_surrogate_is_refused_not_an_internal_error(
    shared: ServerProcess, clients: Clients, template: str
) -> None:
    # JSON can escape a lone UTF-16 surrogate, which is no Unicode text: the request is
    # malformed (bad_request or invalid_field), not a server failure (internal).
    client = await clients.user()
    payload = template % {"me": client.username, "new": unique_name("sur")}
    await client.send_payload(payload.encode())
    reply = await client.reply(301)
    assert reply["ok"] is False, reply
    assert reply["error"]["code"] in ("bad_request", "invalid_field"), reply
    history = await client.ok("dm.history", **{"with": client.username})
    assert history["messages"] == []
    await assert_served(shared, client)


# -- field rules (§3.5) ------------------------------------------------------------------

Fields = Callable[[WireClient], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    """One request; `field` is the field expected at fault, or None when it must succeed."""

    msg_type: str
    fields: Fields
    field: str | None
    login: bool = True


def _token(n: int) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def register(**override: Any) -> Fields:
    def build(_client: WireClient) -> dict[str, Any]:
        name = unique_name("v")
        fields: dict[str, Any] = {
            "username": name, "email": email_for(name), "password": "password123",
        }
        for key, value in override.items():
            fields[key] = value() if callable(value) else value
        return fields
    return build


def create(**override: Any) -> Fields:
    def build(_client: WireClient) -> dict[str, Any]:
        fields: dict[str, Any] = {"room": unique_room("Valid")}
        for key, value in override.items():
            fields[key] = value() if callable(value) else value
        return fields
    return build


def to_self(text: str) -> Fields:
    return lambda client: {"to": client.username, "text": text}


def fixed(**fields: Any) -> Fields:
    return lambda _client: dict(fields)


def email_of_length(length: int) -> str:
    local = _token(60)
    domain = "d" * (length - len(local) - 1 - len(".org")) + ".org"
    return f"{local}@{domain}"


CASES: dict[str, Case] = {
    # username: ^[A-Za-z0-9_][A-Za-z0-9_.-]{2,31}$
    "username-2": Case("auth.register", register(username="ab"), "username", False),
    "username-3": Case("auth.register", register(username=lambda: _token(3)), None, False),
    "username-32": Case("auth.register", register(username=lambda: _token(32)), None, False),
    "username-33": Case("auth.register", register(username=lambda: _token(33)), "username",
                        False),
    "username-leading-dot": Case("auth.register", register(username=lambda: "." + _token(5)),
                                 "username", False),
    "username-leading-dash": Case("auth.register", register(username=lambda: "-" + _token(5)),
                                  "username", False),
    "username-leading-underscore": Case(
        "auth.register", register(username=lambda: "_" + _token(5) + ".x-y"), None, False),
    "username-space": Case("auth.register", register(username="two words"), "username", False),
    "username-at": Case("auth.register", register(username="me@home"), "username", False),
    "username-unicode": Case("auth.register", register(username="Đức123"), "username", False),
    "username-trailing-newline": Case(
        "auth.register", register(username=lambda: _token(6) + "\n"), "username", False),
    # email: at most 254, ^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$
    "email-254": Case("auth.register", register(email=lambda: email_of_length(254)), None,
                      False),
    "email-255": Case("auth.register", register(email=lambda: email_of_length(255)), "email",
                      False),
    "email-local-64": Case("auth.register",
                           register(email=lambda: _token(64) + "@example.org"), None, False),
    "email-local-65": Case("auth.register",
                           register(email=lambda: _token(65) + "@example.org"), "email", False),
    "email-no-at": Case("auth.register", register(email="plain.example.org"), "email", False),
    "email-no-dot": Case("auth.register", register(email="user@localhost"), "email", False),
    "email-space": Case("auth.register", register(email="a b@example.org"), "email", False),
    "email-empty-local": Case("auth.register", register(email="@example.org"), "email", False),
    "email-two-ats": Case("auth.register", register(email="a@b@example.org"), "email", False),
    "email-trailing-newline": Case("auth.register", register(email="a@example.org\n"), "email",
                                   False),
    # password: 8 to 128 where one is set
    "password-7": Case("auth.register", register(password="x" * 7), "password", False),
    "password-8": Case("auth.register", register(password="x" * 8), None, False),
    "password-128": Case("auth.register", register(password="x" * 128), None, False),
    "password-129": Case("auth.register", register(password="x" * 129), "password", False),
    "password-8-cyrillic": Case("auth.register", register(password="пароль12"), None, False),
    "password-7-cjk": Case("auth.register", register(password="密码密码密码密"), "password",
                           False),
    "room-password-7": Case("room.create", create(password="x" * 7), "password"),
    "room-password-8": Case("room.create", create(password="x" * 8), None),
    "room-password-129": Case("room.create", create(password="x" * 129), "password"),
    # room: ^\w[\w .-]{0,39}$, no trailing space
    "room-1": Case("room.create", create(room=lambda: secrets.choice("ÆØÅŒÞ")), None),
    "room-40": Case("room.create", create(room=lambda: _token(40)), None),
    "room-40-unicode": Case("room.create",
                            create(room=lambda: "".join(secrets.choice("ĐƯÂÊÔƠ")
                                                        for _ in range(40))), None),
    "room-41-unicode": Case("room.create", create(room="Đ" * 41), "room"),
    "room-41": Case("room.create", create(room=lambda: _token(41)), "room"),
    "room-inner-punctuation": Case("room.create", create(room=lambda: f"R_{_token(4)} v1.2-b"),
                                   None),
    "room-trailing-space": Case("room.create", create(room=lambda: _token(6) + " "), "room"),
    "room-leading-space": Case("room.create", create(room=lambda: " " + _token(6)), "room"),
    "room-leading-dot": Case("room.create", create(room=lambda: "." + _token(6)), "room"),
    "room-leading-dash": Case("room.create", create(room=lambda: "-" + _token(6)), "room"),
    "room-slash": Case("room.create", create(room=lambda: _token(3) + "/" + _token(3)), "room"),
    "room-tab": Case("room.create", create(room=lambda: _token(3) + "\t" + _token(3)), "room"),
    "room-newline": Case("room.create", create(room=lambda: _token(6) + "\n"), "room"),
    "room-empty": Case("room.create", create(room=""), "room"),
    "room-join-41": Case("room.join", fixed(room="r" * 41), "room"),
    "room-delete-slash": Case("room.delete", fixed(room="a/b"), "room"),
    # text: 1 to 4000 after trimming; no control characters but \n and \t
    "text-empty": Case("dm.send", to_self(""), "text"),
    "text-whitespace": Case("dm.send", to_self(" \n\t  "), "text"),
    "text-1": Case("dm.send", to_self("x"), None),
    "text-4000": Case("dm.send", to_self("x" * 4000), None),
    "text-4000-padded": Case("dm.send", to_self("  " + "x" * 4000 + "\n\n"), None),
    "text-4001": Case("dm.send", to_self("x" * 4001), "text"),
    "text-nul": Case("dm.send", to_self("a\x00b"), "text"),
    "text-cr": Case("dm.send", to_self("line\r\nline"), "text"),
    "text-escape": Case("dm.send", to_self("\x1b[31mred"), "text"),
    "text-del": Case("dm.send", to_self("a\x7fb"), "text"),
    "text-c1": Case("dm.send", to_self("a\x85b"), "text"),
    "text-newline-tab": Case("dm.send", to_self("a\nb\tc"), None),
    "text-4000-emoji": Case("dm.send", to_self("😀" * 4000), None),
    "text-4001-emoji": Case("dm.send", to_self("😀" * 4001), "text"),
    "text-unicode-separators": Case("dm.send", to_self("a\u2028b\u00a0c"), None),
    "chat-text-4001": Case("chat.send", fixed(text="y" * 4001), "text"),
    "dm-to-invalid": Case("dm.send", fixed(to="not a name", text="hi"), "to"),
    "dm-history-with-invalid": Case("dm.history", fixed(**{"with": "x"}), "with"),
    # wrong JSON types
    "username-null": Case("auth.register", register(username=None), "username", False),
    "username-number": Case("auth.register", register(username=12345), "username", False),
    "username-list": Case("auth.register", register(username=["abc"]), "username", False),
    "email-number": Case("auth.register", register(email=5), "email", False),
    "password-number": Case("auth.register", register(password=12345678), "password", False),
    "password-null": Case("auth.register", register(password=None), "password", False),
    "login-username-null": Case("auth.login", fixed(username=None, password="whatever"),
                                "username", False),
    "login-password-number": Case("auth.login", fixed(username="someone", password=12345678),
                                  "password", False),
    "room-null": Case("room.create", fixed(room=None), "room"),
    "room-number": Case("room.create", fixed(room=42), "room"),
    "room-list": Case("room.join", fixed(room=["Lobby"]), "room"),
    "room-password-number": Case("room.create", create(password=12345678), "password"),
    "text-null": Case("chat.send", fixed(text=None), "text"),
    "text-number": Case("dm.send", lambda c: {"to": c.username, "text": 5}, "text"),
    "text-list": Case("dm.send", lambda c: {"to": c.username, "text": ["hi"]}, "text"),
    "to-number": Case("call.invite", fixed(to=5), "to"),
    "mic-string": Case("media.update", fixed(mic="true", cam=False), "mic"),
    "mic-number": Case("media.update", fixed(mic=1, cam=False), "mic"),
    "cam-null": Case("media.update", fixed(mic=True, cam=None), "cam"),
    "accept-string": Case("call.answer", fixed(to="someone", accept="yes"), "accept"),
    # missing required fields
    "register-missing-email": Case(
        "auth.register", lambda _c: {"username": unique_name("m"), "password": "password123"},
        "email", False),
    "create-missing-room": Case("room.create", fixed(), "room"),
    "dm-missing-text": Case("dm.send", lambda c: {"to": c.username}, "text"),
    "media-missing-cam": Case("media.update", fixed(mic=True), "cam"),
    "answer-missing-accept": Case("call.answer", fixed(to="someone"), "accept"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_field_rule(shared: ServerProcess, clients: Clients, case: Case) -> None:
    client = await (clients.user() if case.login else clients.hello())
    fields = case.fields(client)
    reply = await client.request(case.msg_type, **fields)
    if case.field is None:
        assert reply["ok"] is True, reply
        if case.msg_type == "dm.send":
            assert reply["message"]["text"] == fields["text"].strip()
    else:
        error = expect_error(reply, "invalid_field")
        assert error.get("field") == case.field, error
    await assert_served(shared, client)
