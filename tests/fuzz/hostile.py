"""Hostile values for fuzzing the protocol layer, as Hypothesis strategies and as JSON text.

A field value is produced as the JSON *text* that goes on the wire, not as a Python
value, so that the strategies can say what `json.dumps` cannot: nesting thousands deep,
integers of 5000 digits, ``NaN``, invalid UTF-8, and lone UTF-16 surrogates both as
``\\ud800`` escapes and as raw (CESU-8) bytes.

`examples(n)` scales every example budget by ``PYMEET_FUZZ_SCALE`` (default 1), so a
long fuzzing session is ``PYMEET_FUZZ_SCALE=50 pytest tests/fuzz``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import strategies as st

SCALE = float(os.environ.get("PYMEET_FUZZ_SCALE", "1"))


def examples(count: int) -> int:
    """An example budget, scaled by PYMEET_FUZZ_SCALE."""
    return max(1, int(count * SCALE))


NASTY_STRINGS = [
    "", " ", "\t\n", "\x00", "a\x00b", "\x00" * 64, "\r\n\r\n", "\x1b[31mred\x1b[0m",
    "\u202egnp.exe", "\ufeff", "\u200b", "../../etc/passwd", "C:\\Windows\\system32",
    "'; DROP TABLE users; --", "%s%s%s%n", "{0}{1}", "${jndi:ldap://x}", "<script>x</script>",
    "NaN", "null", "true", "1e309", "-0", "Phòng họp 1", "Pho\u0300ng ho\u0323p 1", "😀" * 50,
    "a" * 4000, "a" * 4001, " " * 4001, "x" * 129, "x" * 128, "x" * 7, "ab", "abc",
    "_" * 32, "." + "a" * 5, "me@example.org", "a@b.c", "@", "a" * 64 + "@example.org",
]
BIG_INTEGERS = [2**31, 2**32, 2**53 - 1, 2**53, 2**63, -(2**63), 2**64, 10**30, -1, 0, 1]

lone_surrogates = st.integers(0xD800, 0xDFFF).map(chr)
any_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
control_text = st.text(st.characters(max_codepoint=0x9F, categories=("Cc",)), min_size=1,
                       max_size=8)


def _huge(piece: str, times: int) -> str:
    return piece * times


hostile_strings: st.SearchStrategy[str] = st.one_of(
    any_text,
    st.sampled_from(NASTY_STRINGS),
    st.builds(lambda a, s, b: a + s + b, any_text, lone_surrogates, any_text),
    st.builds(lambda a, c, b: a + c + b, any_text, control_text, any_text),
    st.builds(_huge, st.text(min_size=1, max_size=8), st.integers(500, 20_000)),
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{2,31}", fullmatch=True),  # almost valid
)
json_leaves: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(BIG_INTEGERS),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_strings,
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def dumps_text(value: Any, ascii_only: bool) -> str:
    """JSON text of ``value``. With ``ascii_only`` false a lone surrogate stays in the
    str; the frame is then encoded with ``surrogatepass`` into invalid UTF-8."""
    return json.dumps(value, ensure_ascii=ascii_only)


def nested(depth: int, opener: str) -> str:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return opener * depth + "1" + closer * depth


RAW_FRAGMENTS = [
    "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 5000, "-" + "9" * 5000,
    "1.0", "-0.0", "0.5e-400", '"\\u0000"', '"\\ud800"', '"\\udfff\\ud800"', '"\\ud83d\\ude00"',
    '"a\\u0000b"', "[]", "{}", '{"": null}', "[[[[[[[[[[]]]]]]]]]]",
]
raw_fragments: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(RAW_FRAGMENTS),
    st.builds(nested, st.integers(1, 5000), st.sampled_from(["[", '{"a":'])),
)


@st.composite
def value_texts(draw: st.DrawFn, valid: st.SearchStrategy[Any] | None = None) -> str:
    """The JSON text of one field value: valid (when a strategy is given), hostile, or raw."""
    choices: list[st.SearchStrategy[str]] = [
        json_values.map(lambda v: dumps_text(v, ascii_only=True)),
        json_values.map(lambda v: dumps_text(v, ascii_only=False)),
        raw_fragments,
    ]
    if valid is not None:
        choices.insert(0, valid.map(lambda v: dumps_text(v, ascii_only=False)))
    return draw(st.one_of(*choices))


id_texts: st.SearchStrategy[str] = st.one_of(
    st.integers(1, 2**53 - 1).map(str),
    st.sampled_from(["0", "-1", "1.0", "1e3", "true", "false", "null", '"7"', "[7]", "{}",
                     str(2**53), str(2**64), "9" * 5000, "NaN"]),
    st.integers().map(str),
)
type_texts: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(['"ping"', '""', "null", "7", "[]", '{"type":"ping"}', '"PING"',
                     '"ping\\u0000"', '"\\ud800"', json.dumps("x" * 100_000)]),
    any_text.map(json.dumps),
)


def encode(text: str) -> bytes:
    """Frame bytes of a JSON text; lone surrogates become raw (invalid UTF-8) bytes."""
    return text.encode("utf-8", errors="surrogatepass")
