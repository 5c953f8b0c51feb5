from __future__ import annotations

import contextlib
import unicodedata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymeet.protocol.errors import InvalidField, ProtocolError, UnknownType
from pymeet.protocol.framing import FrameDecoder
from pymeet.protocol.messages import (
    REQUEST_FIELDS,
    MsgType,
    dumps,
    frame,
    parse_request,
    parse_server_message,
    reply_error,
    reply_ok,
    request,
    validate_fields,
)

usernames = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{2,31}", fullmatch=True)
emails = st.from_regex(r"[a-z0-9.]{1,20}@[a-z]{1,10}\.[a-z]{2,5}", fullmatch=True)
passwords = st.text(min_size=8, max_size=128).filter(lambda s: 8 <= len(s) <= 128)
rooms = st.from_regex(r"\w[\w .-]{0,38}\w", fullmatch=True).filter(lambda s: len(s) <= 40)
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")) | st.sampled_from("\n\t"),
    min_size=1, max_size=200,
).filter(lambda s: s.strip() != "" and s == s.strip())

FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "client": st.text(min_size=1, max_size=100),
    "protocol": st.just(1),
    "username": usernames,
    "email": emails,
    "password": passwords,
    "room": rooms,
    "text": texts,
    "to": usernames,
    "with": usernames,
    "mic": st.booleans(),
    "cam": st.booleans(),
    "accept": st.booleans(),
    "up": st.booleans(),
    "screen": st.booleans(),
}


def requests_of(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    spec = REQUEST_FIELDS[kind]
    fields = {f.name: FIELD_VALUES[f.name] for f in spec}
    return st.fixed_dictionaries(fields)


@pytest.mark.parametrize("kind", sorted(REQUEST_FIELDS))
@settings(max_examples=40, deadline=None)
@given(data=st.data(), request_id=st.integers(1, 2**53 - 1))
def test_every_request_round_trips(kind: str, data: st.DataObject, request_id: int) -> None:
    fields = data.draw(requests_of(kind))
    decoder = FrameDecoder()
    decoder.receive_data(frame(request(kind, request_id, **fields)))
    payload = decoder.next_frame()
    assert payload is not None
    parsed = parse_request(payload)
    assert (parsed.type, parsed.id) == (kind, request_id)
    validated = validate_fields(parsed)
    for name, value in fields.items():
        # Room names are stored NFC-normalised (docs/PROTOCOL.md); the rest as sent.
        expected = unicodedata.normalize("NFC", value) if name == "room" else value
        assert validated[name] == expected


def test_optional_fields_default_to_none() -> None:
    parsed = parse_request(dumps(request(MsgType.ROOM_CREATE, 3, room="Lab")))
    assert validate_fields(parsed) == {"room": "Lab", "password": None}


@pytest.mark.parametrize("payload", [
    b"\xff\xfe", b"not json", b"[1,2]", b"42", b'{"type":"ping"}', b'{"type":"ping","id":0}',
    b'{"type":"ping","id":-1}', b'{"type":"ping","id":1.0}', b'{"type":"ping","id":true}',
    b'{"type":"ping","id":9007199254740992}', b'{"type":"ping","id":NaN}', b"[" * 100000,
])
def test_bad_envelopes_are_protocol_errors(payload: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_request(payload)
    assert info.value.code == "bad_request"
    assert info.value.request_id is None


def test_missing_type_keeps_the_id() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_request(b'{"id": 7}')
    assert info.value.request_id == 7


def test_unknown_type_and_invalid_field_carry_the_id() -> None:
    with pytest.raises(UnknownType) as unknown:
        validate_fields(parse_request(b'{"type":"teleport","id":4}'))
    assert unknown.value.request_id == 4 and unknown.value.code == "unknown_type"
    with pytest.raises(InvalidField) as invalid:
        validate_fields(parse_request(b'{"type":"chat.send","id":5,"text":""}'))
    assert invalid.value.request_id == 5 and invalid.value.field == "text"
    with pytest.raises(InvalidField) as missing:
        validate_fields(parse_request(b'{"type":"dm.send","id":6,"text":"hi"}'))
    assert missing.value.field == "to"


def test_unknown_fields_are_ignored() -> None:
    parsed = parse_request(b'{"type":"ping","id":1,"future":"field"}')
    assert validate_fields(parsed) == {}


def test_replies_and_events_parse_on_the_client_side() -> None:
    ok = parse_server_message(dumps(reply_ok(9, time=1.5)))
    assert ok == {"type": "reply", "id": 9, "ok": True, "time": 1.5}
    error = parse_server_message(dumps(reply_error(None, ProtocolError("nope"))))
    assert error["error"]["code"] == "bad_request" and "id" not in error
    with pytest.raises(ProtocolError):
        parse_server_message(b'{"type":"reply","id":1}')


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_random_payloads_raise_only_protocol_errors(payload: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        validate_fields(parse_request(payload))


def test_lone_surrogates_are_refused_but_pairs_are_text() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_request(b'{"type":"chat.send","id":3,"text":"a\\ud800b"}')
    assert info.value.code == "bad_request"
    parsed = parse_request(b'{"type":"chat.send","id":4,"text":"\\ud83d\\ude00"}')
    assert validate_fields(parsed) == {"text": "😀"}
