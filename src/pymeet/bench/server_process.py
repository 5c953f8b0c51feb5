"""The server under test as a subprocess, and what /proc says about processes and sockets."""

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

READY_RE = re.compile(
    r"^PYMEET_READY control=(?P<host>[^:\s]+):(?P<port>\d+) media=(?P<mhost>[^:\s]+):(?P<udp>\d+)"
    r"(?: web=\S+)? fingerprint=(?P<fp>[0-9a-f]{64})$"
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class ServerFailed(RuntimeError):
    """The server did not start, or died."""


@dataclass
class ServerProcess:
    """`pymeet server` on 127.0.0.1 with ephemeral ports and fast password hashing."""

    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    media: tuple[str, int] = ("127.0.0.1", 0)
    fingerprint: str = ""
    process: subprocess.Popen[str] | None = None
    output: deque[str] = field(default_factory=lambda: deque(maxlen=200))

    def start(self, timeout: float = 60.0) -> ServerProcess:
        command = [
            sys.executable, "-m", "pymeet", "server",
            "--host", "127.0.0.1", "--port", "0", "--udp-port", "0", "--web-port", "0",
            "--data-dir", str(self.data_dir), "--pbkdf2-iterations", "1000",
            "--log-level", "warning", "--max-connections", "4096",
            *self.extra_args,
        ]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            bufsize=1,
        )
        ready = threading.Event()

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                line = line.rstrip("\n")
                self.output.append(line)
                match = READY_RE.match(line)
                if match and not ready.is_set():
                    self.host, self.port = match["host"], int(match["port"])
                    self.media = (match["mhost"], int(match["udp"]))
                    self.fingerprint = match["fp"]
                    ready.set()
            ready.set()

        threading.Thread(target=pump, name="bench-server-output", daemon=True).start()
        if not ready.wait(timeout) or not self.fingerprint:
            self.stop()
            raise ServerFailed("the server did not start:\n" + "\n".join(self.output))
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` (all its threads) so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # After the ")" that ends comm: state is fields[0], utime fields[11], stime fields[12].
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` now."""
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def udp_drops(ports: set[int]) -> int:
    """Datagrams the kernel dropped (receive buffer full) on the local UDP ``ports``."""
    dropped = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    parts = line.split()
                    if int(parts[1].rsplit(":", 1)[1], 16) in ports:
                        dropped += int(parts[-1])
        except OSError:
            continue
    return dropped
