from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.server_process import ServerProcess


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers on fresh data directories (or a given one); all stopped at teardown."""
    started: list[ServerProcess] = []

    def start(*extra_args: str, data_dir: Path | None = None) -> ServerProcess:
        directory = data_dir or tmp_path / f"data{len(started)}"
        server = ServerProcess(directory, list(extra_args)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """One running server with a fresh data directory."""
    return server_factory()


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_server_output() -> Iterator[None]:
    """At the end of the run, no password, media key or session token that a test used
    appears in the output of any server (docs/SECURITY.md; tests/support/secrets_registry.py)."""
    from tests.support.secrets_registry import assert_no_leaks

    yield
    assert_no_leaks()
