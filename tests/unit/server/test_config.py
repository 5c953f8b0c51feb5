from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from pymeet.server.config import ServerConfig, add_arguments, from_sources


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults() -> None:
    config = from_sources(parse(), environ={})
    assert config == ServerConfig()
    assert config.host == "127.0.0.1" and config.pbkdf2_iterations == 600_000


def test_flags_beat_environment_which_beats_defaults() -> None:
    environ = {"PYMEET_PORT": "9000", "PYMEET_DATA_DIR": "/tmp/x", "PYMEET_LOG_LEVEL": "debug"}
    config = from_sources(parse("--port", "9100"), environ=environ)
    assert config.port == 9100
    assert config.data_dir == Path("/tmp/x")
    assert config.log_level == "debug"


def test_bad_values_are_named() -> None:
    with pytest.raises(ValueError, match="PYMEET_PORT"):
        from_sources(parse(), environ={"PYMEET_PORT": "seventy"})
    with pytest.raises(ValueError, match="--port"):
        from_sources(parse("--port", "70000"), environ={})
    with pytest.raises(ValueError, match="--log-level"):
        from_sources(parse("--log-level", "chatty"), environ={})


def test_boolean_settings() -> None:
    assert from_sources(parse("--web-tls"), environ={}).web_tls is True
    assert from_sources(parse(), environ={"PYMEET_WEB_TLS": "yes"}).web_tls is True
    assert from_sources(parse("--no-web-tls"), environ={"PYMEET_WEB_TLS": "1"}).web_tls is False
    with pytest.raises(ValueError, match="PYMEET_WEB_TLS"):
        from_sources(parse(), environ={"PYMEET_WEB_TLS": "maybe"})
