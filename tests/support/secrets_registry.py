"""Every secret the tests hand to a server, and a check that no server ever logged one.

STYLE.md habit 11 and docs/SECURITY.md promise that passwords, media keys and session
tokens never reach a log. The servers in the tests run with ``--log-level debug``, so
the promise can be checked for real: tests record the secrets they use here (the raw
wire client does it by itself in `WireClient.send_request` and `WireClient.login`), every
`ServerProcess` keeps its whole output (`server_process.ALL_SERVERS`), and at the end of
the run a session fixture in ``tests/conftest.py`` calls `assert_no_leaks`.

Theory of operation. Secrets come in two shapes:

- token-like (base64, URL-safe base64 or hex: session tokens and media keys). Output is
  cut into maximal runs of the base64 alphabet with one regex pass, and each run long
  enough to hold a secret is looked up by every window of a secret's length. That stays
  linear in the size of the output, whatever the number of recorded secrets.
- anything else (passwords). There are few distinct ones, each found with ``in``.

A secret shorter than `MIN_SECRET_LENGTH` or with fewer than `MIN_DISTINCT_CHARACTERS`
distinct characters (``"x" * 128``, used by the field-rule tests) is not recorded: it
would match innocent text such as a room name, and such a "leak" would prove nothing.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MIN_SECRET_LENGTH = 8
MIN_DISTINCT_CHARACTERS = 4
TOKEN_RUN = re.compile(r"[A-Za-z0-9+/=_-]{16,}")
TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9+/=_-]+")

_secrets: dict[str, str] = {}
"""secret -> what it is (for the failure message), in recording order."""


@dataclass(frozen=True)
class Leak:
    kind: str
    secret: str
    source: str
    line: str

    def describe(self) -> str:
        line = self.line.replace(self.secret, redact(self.secret))
        shown = line if len(line) <= 240 else line[:240] + "..."
        return f"{self.kind} {redact(self.secret)} in {self.source}: {shown}"


def redact(secret: str) -> str:
    """Enough of a secret to recognise it in a report, not enough to use it."""
    return f"{secret[:4]}…({len(secret)} chars)"


def record(secret: Any, kind: str) -> None:
    """Remember one secret (ignored unless it is a string worth looking for)."""
    if not isinstance(secret, str):
        return
    if len(secret) < MIN_SECRET_LENGTH or len(set(secret)) < MIN_DISTINCT_CHARACTERS:
        return
    _secrets.setdefault(secret, kind)


def record_password(password: Any) -> None:
    record(password, "password")


def record_session_token(token: Any) -> None:
    record(token, "session token")


def record_media_key(key: str | bytes) -> None:
    """A media key (§4.1), given as the base64 text of the login reply or as raw bytes:
    its base64, URL-safe base64 and hex spellings are all recorded."""
    if isinstance(key, str):
        try:
            raw = base64.b64decode(key, validate=True)
        except (binascii.Error, ValueError):
            record(key, "media key")
            return
    else:
        raw = key
    record(base64.b64encode(raw).decode("ascii"), "media key (base64)")
    record(base64.urlsafe_b64encode(raw).decode("ascii"), "media key (url-safe base64)")
    record(base64.b64encode(raw).decode("ascii").rstrip("="), "media key (base64)")
    record(raw.hex(), "media key (hex)")
    record(raw.hex().upper(), "media key (hex)")


def record_request_fields(fields: Mapping[str, Any]) -> None:
    """The secrets among a request's fields: a password set or offered."""
    record_password(fields.get("password"))


def recorded() -> dict[str, str]:
    """A copy of everything recorded so far (secret -> kind)."""
    return dict(_secrets)


def find_leaks(
    outputs: Iterable[tuple[str, str]], secrets: Mapping[str, str] | None = None
) -> list[Leak]:
    """Every recorded secret found in ``outputs`` (pairs of source name and text)."""
    table = _secrets if secrets is None else secrets
    tokens = {s: k for s, k in table.items() if TOKEN_CHARACTERS.fullmatch(s)}
    others = {s: k for s, k in table.items() if s not in tokens}
    lengths = sorted({len(s) for s in tokens})
    leaks: list[Leak] = []
    for source, text in outputs:
        if tokens:
            for run in TOKEN_RUN.finditer(text):
                value = run.group()
                for length in lengths:
                    if length > len(value):
                        break
                    for start in range(len(value) - length + 1):
                        window = value[start : start + length]
                        if window in tokens:
                            leaks.append(Leak(tokens[window], window, source,
                                              _line_at(text, run.start())))
        for secret, kind in others.items():
            index = text.find(secret)
            if index >= 0:
                leaks.append(Leak(kind, secret, source, _line_at(text, index)))
    return leaks


def _line_at(text: str, index: int) -> str:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return text[start : end if end >= 0 else len(text)]


def server_outputs() -> list[tuple[str, str]]:
    """The whole output of every server started in this run, by data directory."""
    from tests.support.server_process import ALL_SERVERS

    return [(f"server {server.data_dir}", server.output) for server in ALL_SERVERS]


def assert_no_leaks(outputs: Iterable[tuple[str, str]] | None = None) -> None:
    """Fail, listing each leak, if any recorded secret appears in server output."""
    sources = list(server_outputs() if outputs is None else outputs)
    leaks = find_leaks(sources)
    if leaks:
        listing = "\n".join(f"  {leak.describe()}" for leak in leaks[:50])
        more = f"\n  ... and {len(leaks) - 50} more" if len(leaks) > 50 else ""
        raise AssertionError(
            f"{len(leaks)} secret(s) found in server output:\n{listing}{more}"
        )
