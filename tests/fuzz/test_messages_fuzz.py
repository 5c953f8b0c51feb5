"""Fuzzing the JSON message layer (PROTOCOL.md §2, §3.5; docs/PROTOCOL.md "Envelope").

Every request type of `REQUEST_FIELDS` is sent with each field valid, hostile (huge
strings, nulls, wrong types, NUL bytes, control characters, lone surrogates, nested
objects, big integers) or raw (NaN, 5000-digit numbers, nesting 5000 deep, invalid
UTF-8), under hostile envelopes too. What must hold is what the server relies on:

- `parse_request` and `validate_fields` raise nothing but `ProtocolError` subclasses
  (bad_request, unknown_type, invalid_field), with the request id whenever it was
  readable and the field at fault named;
- what they accept obeys its rule (checking it again changes nothing), and no request
  of a known type is accepted with a missing or extra field;
- the error reply the server would build from the exception is sendable JSON of
  bounded size, whatever the size of the input (nothing echoes a 100 kB string back).

(tests/unit/protocol/test_messages.py covers round trips of valid requests and random
bytes; this module aims at the values in between.)
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymeet.protocol.errors import InvalidField, ProtocolError, UnknownType
from pymeet.protocol.messages import (
    MAX_REQUEST_ID,
    REQUEST_FIELDS,
    dumps,
    parse_request,
    parse_server_message,
    reply_error,
    validate_fields,
)
from tests.fuzz.hostile import (
    encode,
    examples,
    hostile_strings,
    id_texts,
    json_values,
    raw_fragments,
    type_texts,
    value_texts,
)

MAX_ERROR_REPLY_BYTES = 2000
"""An error reply is a short fixed text plus at most a 64-character excerpt of the type."""

VALID_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "client": st.text(min_size=1, max_size=100),
    "protocol": st.just(1),
    "username": st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{2,31}", fullmatch=True),
    "email": st.from_regex(r"[a-z0-9.]{1,20}@[a-z]{1,10}\.[a-z]{2,5}", fullmatch=True),
    "password": st.text(min_size=8, max_size=128),
    "room": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,38}[A-Za-z0-9]", fullmatch=True),
    "text": st.text(min_size=1, max_size=200).filter(lambda s: s.isprintable() and s.strip()),
    "to": st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{2,31}", fullmatch=True),
    "with": st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{2,31}", fullmatch=True),
    "mic": st.booleans(),
    "cam": st.booleans(),
    "accept": st.booleans(),
    "up": st.booleans(),
    "screen": st.booleans(),
}
GENERIC_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.booleans(), st.integers(0, 10), st.text(min_size=1, max_size=20))
"""For a field added to the table after this file: often valid, and the fuzzing still runs."""


def valid(name: str) -> st.SearchStrategy[Any]:
    """Values that obey the rule of field ``name``."""
    return VALID_VALUES.get(name, GENERIC_VALUES)

REQUEST_TYPES = sorted(REQUEST_FIELDS)


def request_text(type_text: str, id_text: str, fields: dict[str, str]) -> str:
    members = [f'"type":{type_text}', f'"id":{id_text}']
    members += [f"{json.dumps(name)}:{text}" for name, text in fields.items()]
    return "{" + ",".join(members) + "}"


def readable_id(id_text: str) -> int | None:
    """The id the server can read from this JSON text (§2: an integer in 1..2^53-1)."""
    try:
        value = json.loads(id_text)
    except ValueError:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_REQUEST_ID:
        return value
    return None


def serve_like_the_server(payload: bytes) -> tuple[str, dict[str, Any] | ProtocolError]:
    """What dispatch does with one payload, minus the handler: the validated fields, or
    the ProtocolError. Anything else propagates and fails the test."""
    try:
        return "accepted", validate_fields(parse_request(payload))
    except ProtocolError as exc:
        return exc.code.value, exc


def check_error(exc: ProtocolError, expected_id: int | None) -> None:
    """The reply built from ``exc`` is what the server may send: bounded, encodable JSON."""
    reply = dumps(reply_error(exc.request_id, exc))
    assert len(reply) <= MAX_ERROR_REPLY_BYTES, f"{len(reply)}-byte error reply: {reply[:300]!r}"
    decoded = json.loads(reply)
    assert decoded["error"]["code"] == exc.code.value
    if expected_id is not None:
        assert exc.request_id == expected_id, (exc, expected_id)


@pytest.mark.parametrize("kind", REQUEST_TYPES)
def test_every_request_type_with_hostile_field_values(kind: str) -> None:
    spec = REQUEST_FIELDS[kind]
    names = [field.name for field in spec]
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()

    @settings(max_examples=examples(150), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(data=st.data(), request_id=st.integers(1, MAX_REQUEST_ID))
    def run(data: st.DataObject, request_id: int) -> None:
        # About one example in three keeps every field valid; the others corrupt some.
        corrupt: set[str] = set()
        if names and data.draw(st.integers(0, 99), label="mode") >= 33:
            corrupt = data.draw(st.sets(st.sampled_from(names), min_size=1), label="corrupt")
        fields: dict[str, str] = {}
        for field in spec:
            if not field.required and data.draw(st.booleans(), label=f"omit {field.name}"):
                continue
            if field.name not in corrupt:
                fields[field.name] = json.dumps(data.draw(valid(field.name)),
                                                ensure_ascii=False)
            elif field.required and data.draw(st.integers(0, 9)) == 0:
                continue  # a missing required field
            else:
                fields[field.name] = data.draw(value_texts(valid(field.name)),
                                               label=field.name)
        if data.draw(st.booleans(), label="extra field"):
            fields["x-" + data.draw(st.text(max_size=8))] = data.draw(value_texts())
        text = request_text(json.dumps(kind), str(request_id), fields)
        outcome, result = serve_like_the_server(encode(text))
        outcomes[outcome] += 1
        if isinstance(result, ProtocolError):
            check_error(result, None)
            if isinstance(result, InvalidField):
                assert result.field in names, result.field
                assert result.request_id == request_id
            else:
                # Only the envelope can fail otherwise: invalid UTF-8, NaN, a number too
                # long or nesting too deep to parse, or a lone surrogate (bad_request).
                assert type(result) is ProtocolError, result
            return
        assert sorted(result) == sorted(names), "exactly the table's fields come out"
        for field in spec:
            value = result[field.name]
            if value is None:
                assert not field.required
                continue
            assert field.check(value, field.name) == value, (field.name, value)

    run()
    elapsed = time.perf_counter() - started
    print(f"{kind}: {sum(outcomes.values())} requests in {elapsed:.2f} s: {dict(outcomes)}")
    # Both sides of every rule were reached, so the run exercised the validators.
    assert outcomes["accepted"] > 0, dict(outcomes)
    assert outcomes["invalid_field"] > 0 or not names, dict(outcomes)


def test_hostile_envelopes() -> None:
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()

    @settings(max_examples=examples(600), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(
        type_text=st.one_of(st.sampled_from(REQUEST_TYPES).map(json.dumps), type_texts),
        id_text=id_texts,
        fields=st.dictionaries(st.one_of(st.sampled_from(sorted(VALID_VALUES)),
                                         hostile_strings.filter(
                                             lambda s: len(s) < 100 and s not in ("id", "type"))),
                               st.one_of(value_texts(), raw_fragments), max_size=4),
        layout=st.sampled_from(["object", "duplicate keys", "array", "scalar", "truncated"]),
    )
    def run(type_text: str, id_text: str, fields: dict[str, str], layout: str) -> None:
        text = request_text(type_text, id_text, fields)
        if layout == "duplicate keys":
            text = text[:-1] + ',"id":' + id_text + ',"type":' + type_text + "}"
        elif layout == "array":
            text = "[" + text + "]"
        elif layout == "scalar":
            text = id_text
        elif layout == "truncated":
            text = text[: len(text) // 2]
        outcome, result = serve_like_the_server(encode(text))
        outcomes[outcome] += 1
        if not isinstance(result, ProtocolError):
            return
        expected_id = readable_id(id_text) if layout in ("object", "duplicate keys") else None
        try:
            type_value = json.loads(type_text)
        except ValueError:
            type_value = None
        if isinstance(result, UnknownType):
            assert isinstance(type_value, str) and type_value not in REQUEST_FIELDS
        if expected_id is None:
            assert result.request_id is None, "an id that is not readable is never made up"
        check_error(result, expected_id if type(result) is not ProtocolError else None)

    run()
    elapsed = time.perf_counter() - started
    print(f"envelopes: {sum(outcomes.values())} payloads in {elapsed:.2f} s: {dict(outcomes)}")
    assert {"bad_request", "unknown_type"} <= set(outcomes), dict(outcomes)


def test_mutated_valid_requests() -> None:
    """Bytes flipped, cut, doubled or spliced into valid requests."""
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()

    @st.composite
    def valid_payload(draw: st.DrawFn) -> bytes:
        kind = draw(st.sampled_from(REQUEST_TYPES))
        body = {f.name: draw(valid(f.name)) for f in REQUEST_FIELDS[kind]}
        return dumps({"type": kind, "id": draw(st.integers(1, MAX_REQUEST_ID)), **body})

    @settings(max_examples=examples(800), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(valid_payload(), st.lists(st.tuples(st.sampled_from(["flip", "cut", "insert",
                                                                 "delete", "double"]),
                                               st.integers(0, 10_000), st.binary(max_size=8)),
                                     min_size=1, max_size=4))
    def run(payload: bytes, mutations: list[tuple[str, int, bytes]]) -> None:
        data = bytearray(payload)
        for operation, where, junk in mutations:
            at = where % (len(data) + 1)
            if operation == "flip" and data:
                data[at % len(data)] ^= 1 << (where % 8)
            elif operation == "cut":
                del data[at:]
            elif operation == "insert":
                data[at:at] = junk
            elif operation == "delete":
                del data[at : at + 1 + len(junk)]
            else:
                data.extend(bytes(data))
        outcome, result = serve_like_the_server(bytes(data))
        outcomes[outcome] += 1
        if isinstance(result, ProtocolError):
            check_error(result, None)

    run()
    elapsed = time.perf_counter() - started
    print(f"mutations: {sum(outcomes.values())} payloads in {elapsed:.2f} s: {dict(outcomes)}")
    assert outcomes["bad_request"] > 0 and outcomes["accepted"] > 0, dict(outcomes)


def test_client_side_parser_of_server_messages() -> None:
    """`parse_server_message` (what a client does with what a server sends) raises
    nothing but ProtocolError, and what it accepts is usable: a dict with a str type,
    and a reply with a bool ok."""
    outcomes: Counter[str] = Counter()

    @settings(max_examples=examples(600), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(st.fixed_dictionaries(
        {},
        optional={
            "type": st.one_of(st.just("reply"), st.text(max_size=12), json_values),
            "id": st.one_of(st.integers(1, MAX_REQUEST_ID), json_values),
            "ok": st.one_of(st.booleans(), json_values),
            "error": st.one_of(st.fixed_dictionaries({"code": st.text(max_size=12)}),
                               json_values),
            "message": json_values,
        }), st.booleans())
    def run(obj: dict[str, Any], ascii_only: bool) -> None:
        payload = encode(json.dumps(obj, ensure_ascii=ascii_only))
        try:
            message = parse_server_message(payload)
        except ProtocolError as exc:
            outcomes[exc.code.value] += 1
            return
        outcomes["accepted"] += 1
        assert isinstance(message["type"], str)
        if message["type"] == "reply":
            assert isinstance(message["ok"], bool)
            if not message["ok"]:
                assert isinstance(message["error"], dict)

    run()
    print(f"server messages: {dict(outcomes)}")
    assert outcomes["accepted"] > 0 and outcomes["bad_request"] > 0, dict(outcomes)
