"""A real PyMeet server in a subprocess on 127.0.0.1 with ephemeral ports."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.timeouts import timeout

READY_RE = re.compile(
    r"^PYMEET_READY control=(?P<host>[^:\s]+):(?P<port>\d+) media=[^:\s]+:(?P<udp>\d+)"
    r"(?: web=[^:\s]+:(?P<web>\d+))? fingerprint=(?P<fp>[0-9a-f]{64})$"
)
FAST_PBKDF2_ITERATIONS = 1000
ALL_SERVERS: list[ServerProcess] = []
"""Every server started in this run, kept with its output for the end-of-run check that
no secret was logged (tests/support/secrets_registry.py)."""


@dataclass
class ServerProcess:
    """Start, stop, kill and restart one server on one data directory.

    Its combined output is kept (see `output`) so tests can check what it logged.
    """

    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    udp_port: int = 0
    web_port: int | None = None
    fingerprint: str = ""
    process: subprocess.Popen[str] | None = None
    _lines: deque[str] = field(default_factory=lambda: deque(maxlen=20000))
    _all_output: list[str] = field(default_factory=list)
    _pump: threading.Thread | None = None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "pymeet", "server",
            "--host", "127.0.0.1", "--port", "0", "--udp-port", "0", "--web-port", "0",
            "--data-dir", str(self.data_dir),
            "--pbkdf2-iterations", str(FAST_PBKDF2_ITERATIONS),
            "--log-level", "debug",
            *self.extra_args,
        ]

    def start(self) -> ServerProcess:
        if all(server is not self for server in ALL_SERVERS):
            ALL_SERVERS.append(self)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=env, bufsize=1,
        )
        ready = threading.Event()
        problem: list[str] = []

        def pump(proc: subprocess.Popen[str]) -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                self._lines.append(line)
                self._all_output.append(line)
                match = READY_RE.match(line)
                if match and not ready.is_set():
                    self.host = match["host"]
                    self.port = int(match["port"])
                    self.udp_port = int(match["udp"])
                    self.web_port = int(match["web"]) if match["web"] else None
                    self.fingerprint = match["fp"]
                    ready.set()
            problem.append("server exited")
            ready.set()

        self._pump = threading.Thread(target=pump, args=(self.process,), daemon=True)
        self._pump.start()
        if not ready.wait(timeout(30)) or problem:
            output = "\n".join(self._all_output[-50:])
            self.stop()
            raise RuntimeError(f"server did not become ready:\n{output}")
        return self

    @property
    def output(self) -> str:
        return "\n".join(self._all_output)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Stop gracefully (SIGTERM); returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout(15))
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        if self._pump is not None:
            self._pump.join(timeout(5))  # it ends at the pipe's EOF
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None
        return code

    def kill(self) -> None:
        """kill -9: no chance to clean up."""
        self.stop(signal.SIGKILL)

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()
