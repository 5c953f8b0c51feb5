"""Trust-on-first-use pins: the known-servers file and the trust decision."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from pymeet.client import CertificateMismatch, KnownServers, format_fingerprint
from pymeet.client.errors import KnownServersError, UntrustedServer
from pymeet.client.known_servers import (
    certificate_fingerprint,
    default_path,
    host_port_key,
    normalize_fingerprint,
)
from pymeet.client.trust import ServerTrust

FP_A = "ab" * 32
FP_B = "cd" * 32


@pytest.fixture
def store(tmp_path: Path) -> KnownServers:
    return KnownServers(tmp_path / "conf" / "pymeet" / "known_servers.json")


def test_default_path_prefers_the_environment(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYMEET_KNOWN_SERVERS", str(tmp_path / "pins.json"))
    assert default_path() == tmp_path / "pins.json"
    assert KnownServers().path == tmp_path / "pins.json"


def test_default_path_follows_xdg_config_home(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYMEET_KNOWN_SERVERS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "pymeet" / "known_servers.json"


def test_default_path_falls_back_to_dot_config(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYMEET_KNOWN_SERVERS", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_path() == tmp_path / ".config" / "pymeet" / "known_servers.json"


def test_missing_file_means_no_pins(store: KnownServers) -> None:
    assert store.load() == {}
    assert store.get("127.0.0.1:7400") is None
    assert store.check("127.0.0.1:7400", FP_A) is False
    assert not store.path.exists(), "checking must never create the file"


def test_pin_then_check(store: KnownServers) -> None:
    store.pin("127.0.0.1:7400", FP_A)
    assert store.check("127.0.0.1:7400", FP_A) is True
    assert store.check("127.0.0.1:7400", FP_A.upper()) is True
    assert store.check("127.0.0.1:7401", FP_B) is False
    assert json.loads(store.path.read_text()) == {"127.0.0.1:7400": FP_A}


def test_pin_file_and_directory_are_private(store: KnownServers) -> None:
    store.pin("127.0.0.1:7400", FP_A)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


def test_pin_keeps_other_entries_and_leaves_no_temporary_files(store: KnownServers) -> None:
    store.pin("a.example:7400", FP_A)
    store.pin("b.example:7400", FP_B)
    assert store.load() == {"a.example:7400": FP_A, "b.example:7400": FP_B}
    assert sorted(os.listdir(store.path.parent)) == ["known_servers.json"]


def test_changed_fingerprint_is_refused_with_a_clear_message(store: KnownServers) -> None:
    store.pin("127.0.0.1:7400", FP_A)
    with pytest.raises(CertificateMismatch) as caught:
        store.check("127.0.0.1:7400", FP_B)
    error = caught.value
    assert (error.expected, error.actual, error.host_port) == (FP_A, FP_B, "127.0.0.1:7400")
    text = str(error)
    assert "identity of server 127.0.0.1:7400 has changed" in text
    assert format_fingerprint(FP_A) in text and format_fingerprint(FP_B) in text
    assert str(store.path) in text and "--forget-server" in text
    assert store.get("127.0.0.1:7400") == FP_A, "a mismatch must never replace the pin"


def test_remove_forgets_one_pin(store: KnownServers) -> None:
    store.pin("a:1", FP_A)
    store.pin("b:2", FP_B)
    assert store.remove("a:1") is True
    assert store.remove("a:1") is False
    assert store.load() == {"b:2": FP_B}


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"a:1": "short"}'])
def test_malformed_file_is_an_error_not_a_silent_reset(store: KnownServers,
                                                       content: str) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(content)
    with pytest.raises(KnownServersError):
        store.check("a:1", FP_A)
    with pytest.raises(KnownServersError):
        store.pin("a:1", FP_A)
    assert store.path.read_text() == content


def test_empty_file_means_no_pins(store: KnownServers) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text("")
    assert store.load() == {}


def test_format_fingerprint() -> None:
    formatted = format_fingerprint("0a1b" + "00" * 30)
    assert formatted.startswith("0A:1B:00:")
    assert len(formatted.split(":")) == 32
    assert normalize_fingerprint(formatted) == "0a1b" + "00" * 30


@pytest.mark.parametrize("bad", ["", "zz" * 32, "ab" * 31, "ab" * 33])
def test_normalize_rejects_non_fingerprints(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_fingerprint(bad)


def test_certificate_fingerprint_is_sha256_hex() -> None:
    assert certificate_fingerprint(b"") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def test_host_port_key() -> None:
    assert host_port_key("127.0.0.1", 7400) == "127.0.0.1:7400"
    assert host_port_key("LocalHost", 1) == "localhost:1"
    assert host_port_key("::1", 7400) == "[::1]:7400"


async def test_trust_pins_on_first_use_by_default(store: KnownServers) -> None:
    await ServerTrust(store).verify("h:1", FP_A)
    assert store.get("h:1") == FP_A
    await ServerTrust(store).verify("h:1", FP_A)
    with pytest.raises(CertificateMismatch):
        await ServerTrust(store).verify("h:1", FP_B)


async def test_trust_asks_on_first_contact_only(store: KnownServers) -> None:
    asked: list[tuple[str, str]] = []

    async def ask(host_port: str, fingerprint: str) -> bool:
        asked.append((host_port, fingerprint))
        return True

    trust = ServerTrust(store, on_new_server=ask)
    await trust.verify("h:1", FP_A)
    await trust.verify("h:1", FP_A)
    assert asked == [("h:1", FP_A)]
    assert store.get("h:1") == FP_A


async def test_declined_server_is_not_pinned(store: KnownServers) -> None:
    trust = ServerTrust(store, on_new_server=lambda host_port, fingerprint: False)
    with pytest.raises(UntrustedServer):
        await trust.verify("h:1", FP_A)
    assert store.get("h:1") is None


async def test_explicit_fingerprint_pins_exactly_and_ignores_the_file(
        store: KnownServers) -> None:
    store.pin("h:1", FP_B)
    await ServerTrust(store, fingerprint=format_fingerprint(FP_A)).verify("h:1", FP_A)
    with pytest.raises(CertificateMismatch):
        await ServerTrust(store, fingerprint=FP_A).verify("h:1", FP_B)
    assert store.load() == {"h:1": FP_B}
