"""Server settings: one dataclass, filled from flags, then `PYMEET_*` environment
variables, then the embedded defaults (STYLE.md habit 12)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

DEFAULT_CONTROL_PORT = 7400
DEFAULT_MEDIA_PORT = 7401
DEFAULT_WEB_PORT = 7480


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server can be told. Field metadata holds each flag's help."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_CONTROL_PORT
    udp_port: int = DEFAULT_MEDIA_PORT
    web_port: int = DEFAULT_WEB_PORT
    data_dir: Path = Path("data")
    pbkdf2_iterations: int = 600_000
    log_level: str = "info"
    idle_timeout: float = 90.0
    hello_timeout: float = 10.0
    handshake_timeout: float = 10.0
    max_connections: int = 1024
    request_rate: float = 20.0
    request_burst: float = 60.0
    max_output_buffer: int = 8 * 1024 * 1024
    media_packet_rate: float = 1500.0
    media_packet_burst: float = 600.0
    media_byte_rate: float = 1_500_000.0
    media_byte_burst: float = 600_000.0
    web_tls: bool = False
    max_file_mb: float = 100.0
    event_loop: str = "auto"


HELP: dict[str, str] = {
    "host": "address to listen on (all three ports)",
    "port": "TCP control port (TLS 1.3); 0 picks a free port",
    "udp_port": "UDP media port; 0 picks a free port",
    "web_port": "HTTP port for the browser client and file sharing; 0 picks a free port",
    "data_dir": "directory for the database, the certificate and shared files",
    "pbkdf2_iterations": "PBKDF2-HMAC-SHA256 iterations for new password hashes",
    "log_level": "debug, info, warning or error",
    "idle_timeout": "seconds without any frame before a connection is closed",
    "hello_timeout": "seconds allowed between the TLS handshake and the first frame",
    "handshake_timeout": "seconds allowed for the TLS handshake",
    "max_connections": "most control connections at once",
    "request_rate": "requests per second a session may sustain",
    "request_burst": "requests a session may send in one burst",
    "max_output_buffer": "bytes queued for a connection before it is closed as too slow",
    "media_packet_rate": "media datagrams per second a session may send",
    "media_packet_burst": "media datagrams a session may send in one burst",
    "media_byte_rate": "media bytes per second a session may send",
    "media_byte_burst": "media bytes a session may send in one burst",
    "web_tls": "serve the web port over HTTPS with the server's certificate",
    "max_file_mb": "largest shared file, in MiB",
    "event_loop": "auto (uvloop when installed), uvloop or asyncio",
}


def _env_name(name: str) -> str:
    return "PYMEET_" + name.upper()


TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def _parse(raw: str, default: Any) -> Any:
    """An environment value in the type of the setting's default."""
    if isinstance(default, bool):
        word = raw.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise ValueError(raw)
        return word in TRUE_WORDS
    if isinstance(default, Path):
        return Path(raw)
    return type(default)(raw)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per setting. Defaults stay None so the environment can fill them."""
    for item in fields(ServerConfig):
        default = item.default
        if isinstance(default, bool):
            parser.add_argument(
                "--" + item.name.replace("_", "-"),
                dest=item.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{HELP[item.name]} (default off; env {_env_name(item.name)}=1)",
            )
            continue
        parser.add_argument(
            "--" + item.name.replace("_", "-"),
            dest=item.name,
            type=type(default) if not isinstance(default, Path) else Path,
            default=None,
            help=f"{HELP[item.name]} (default {default}; env {_env_name(item.name)})",
        )


def from_sources(
    args: argparse.Namespace | None = None, environ: Mapping[str, str] | None = None
) -> ServerConfig:
    """Flags win over environment variables, which win over defaults. A malformed
    environment value raises ValueError naming the variable."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for item in fields(ServerConfig):
        flag_value = getattr(args, item.name, None) if args is not None else None
        if flag_value is not None:
            values[item.name] = flag_value
            continue
        raw = environ.get(_env_name(item.name))
        if raw is None or item.default is MISSING:
            continue
        kind = type(item.default)
        try:
            values[item.name] = _parse(raw, item.default)
        except ValueError:
            raise ValueError(
                f"{_env_name(item.name)}={raw!r} is not a valid {kind.__name__}"
            ) from None
    config = ServerConfig(**values)
    validate(config)
    return config


def validate(config: ServerConfig) -> None:
    """Refuse settings that cannot work, with a message naming the setting."""
    for name in ("port", "udp_port", "web_port"):
        port = getattr(config, name)
        if not 0 <= port <= 65535:
            raise ValueError(f"--{name.replace('_', '-')} must be between 0 and 65535")
    if config.pbkdf2_iterations < 1:
        raise ValueError("--pbkdf2-iterations must be at least 1")
    if config.log_level.lower() not in {"debug", "info", "warning", "error"}:
        raise ValueError("--log-level must be debug, info, warning or error")
    for name in (
        "idle_timeout",
        "hello_timeout",
        "handshake_timeout",
        "request_rate",
        "request_burst",
        "media_packet_rate",
        "media_packet_burst",
        "media_byte_rate",
        "media_byte_burst",
        "max_file_mb",
    ):
        if getattr(config, name) <= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be positive")
    if config.event_loop not in {"auto", "uvloop", "asyncio"}:
        raise ValueError("--event-loop must be auto, uvloop or asyncio")
    if config.max_connections < 1:
        raise ValueError("--max-connections must be at least 1")
