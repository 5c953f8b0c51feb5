"""Trust on first use: the certificate fingerprints this user has pinned, per server.

The file is one JSON object mapping ``"host:port"`` to the SHA-256 fingerprint of the
server certificate's DER bytes, as 64 lowercase hex digits::

    {"127.0.0.1:7400": "3f1c...e9"}

Its path is ``$PYMEET_KNOWN_SERVERS`` when set, else
``$XDG_CONFIG_HOME/pymeet/known_servers.json`` (``~/.config/pymeet/...`` by default).
Writes are atomic (a temporary file in the same directory, then ``os.replace``), the
directory is created with mode 0700 and the file has mode 0600. The file is read afresh
on every lookup, so several clients of one user share their pins.

A fingerprint that differs from the pinned one is refused with `CertificateMismatch`;
nothing here ever replaces a pin silently.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pymeet.client.errors import CertificateMismatch, KnownServersError

__all__ = [
    "ENV_KNOWN_SERVERS",
    "KnownServers",
    "certificate_fingerprint",
    "default_path",
    "format_fingerprint",
    "host_port_key",
    "normalize_fingerprint",
]

logger = logging.getLogger(__name__)

ENV_KNOWN_SERVERS = "PYMEET_KNOWN_SERVERS"
FINGERPRINT_RE = re.compile(r"^[0-9a-f]{64}$")


def default_path() -> Path:
    """Where pins live: ``$PYMEET_KNOWN_SERVERS``, else under ``$XDG_CONFIG_HOME``."""
    explicit = os.environ.get(ENV_KNOWN_SERVERS)
    if explicit:
        return Path(explicit).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home).expanduser() / "pymeet" / "known_servers.json"


def host_port_key(host: str, port: int) -> str:
    """The key of a server in the file: ``host:port``, IPv6 hosts in brackets."""
    host = host.strip().lower()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def certificate_fingerprint(der: bytes) -> str:
    """SHA-256 of a certificate's DER bytes, as 64 lowercase hex digits."""
    return hashlib.sha256(der).hexdigest()


def normalize_fingerprint(fingerprint: str) -> str:
    """Accept ``abcd...``, ``AB:CD:...`` or with spaces; return 64 lowercase hex digits.

    Raises ValueError for anything that is not a SHA-256 fingerprint.
    """
    cleaned = re.sub(r"[\s:]", "", fingerprint).lower()
    if not FINGERPRINT_RE.fullmatch(cleaned):
        raise ValueError("a fingerprint is 64 hex digits (SHA-256), optionally with ':'")
    return cleaned


def format_fingerprint(fingerprint: str) -> str:
    """A fingerprint for humans to compare: ``AB:CD:EF:...`` (32 pairs)."""
    hex_digits = normalize_fingerprint(fingerprint).upper()
    return ":".join(hex_digits[i : i + 2] for i in range(0, len(hex_digits), 2))


class KnownServers:
    """The pinned fingerprints of one user, backed by one JSON file.

    Promises: `check` never pins; `pin` writes atomically with mode 0600; a missing file
    is an empty set of pins; a malformed file raises `KnownServersError` rather than
    being overwritten, so a pin is never lost by accident.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self._path = Path(path).expanduser() if path is not None else default_path()

    @property
    def path(self) -> Path:
        """The JSON file holding the pins."""
        return self._path

    def __repr__(self) -> str:
        return f"KnownServers({str(self._path)!r})"

    def load(self) -> dict[str, str]:
        """All pins, ``{"host:port": fingerprint}``; empty when the file does not exist."""
        try:
            raw = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise KnownServersError(f"cannot read {self._path}: {exc.strerror}") from None
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise KnownServersError(
                f"{self._path} is not valid JSON; fix or delete it to pin servers again"
            ) from None
        if not isinstance(data, dict):
            raise KnownServersError(f"{self._path} must hold a JSON object")
        pins: dict[str, str] = {}
        for key, value in data.items():
            try:
                pins[str(key)] = normalize_fingerprint(str(value))
            except ValueError:
                raise KnownServersError(
                    f"{self._path}: the entry {key!r} is not a SHA-256 fingerprint"
                ) from None
        return pins

    def get(self, host_port: str) -> str | None:
        """The fingerprint pinned for ``host_port``, or None."""
        return self.load().get(host_port)

    def check(self, host_port: str, fingerprint: str) -> bool:
        """True when ``fingerprint`` is the one pinned for ``host_port``; False when
        nothing is pinned there. Raises `CertificateMismatch` when another one is."""
        actual = normalize_fingerprint(fingerprint)
        expected = self.get(host_port)
        if expected is None:
            return False
        if expected != actual:
            raise CertificateMismatch(
                self.mismatch_message(host_port, expected, actual),
                host_port=host_port, expected=expected, actual=actual,
            )
        return True

    def mismatch_message(self, host_port: str, expected: str, actual: str) -> str:
        """The warning shown when a server's identity changed."""
        return (
            f"WARNING: the identity of server {host_port} has changed!\n"
            f"  pinned fingerprint:    {format_fingerprint(expected)}\n"
            f"  presented fingerprint: {format_fingerprint(actual)}\n"
            "Someone may be intercepting the connection, or the server got a new "
            "certificate (for example, its data directory was reset).\n"
            "The connection was refused. If you are sure the change is legitimate, remove "
            f"the old pin: delete the entry \"{host_port}\" from {self._path} "
            f"(or run: pymeet chat --server {host_port} --forget-server)."
        )

    def pin(self, host_port: str, fingerprint: str) -> None:
        """Remember ``fingerprint`` for ``host_port`` (adding or replacing the entry)."""
        pins = self.load()
        pins[host_port] = normalize_fingerprint(fingerprint)
        self._write(pins)
        logger.info("pinned the certificate of %s in %s", host_port, self._path)

    def remove(self, host_port: str) -> bool:
        """Forget the pin of ``host_port``; True when there was one."""
        pins = self.load()
        if pins.pop(host_port, None) is None:
            return False
        self._write(pins)
        logger.info("removed the pin of %s from %s", host_port, self._path)
        return True

    def _write(self, pins: Mapping[str, str]) -> None:
        directory = self._path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        text = json.dumps(dict(sorted(pins.items())), indent=2) + "\n"
        fd, temp_name = tempfile.mkstemp(prefix=".known_servers.", suffix=".tmp",
                                         dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp_name, 0o600)
            os.replace(temp_name, self._path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
