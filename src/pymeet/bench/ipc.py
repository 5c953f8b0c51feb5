"""Commands between the bench's coordinator and its processes, over multiprocessing pipes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any


def read_commands(
    conn: Connection, loop: asyncio.AbstractEventLoop, deliver: Callable[[Any], None],
    on_eof: Any,
) -> threading.Thread:
    """Read commands from ``conn`` in a thread and hand each to ``deliver`` on the loop.

    The pipe stays a blocking socket that the loop never watches: an event loop would
    make it non-blocking, and a large reply could then be cut short mid-message.
    """

    def reader() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                message = on_eof
            try:
                loop.call_soon_threadsafe(deliver, message)
            except RuntimeError:  # the loop is closed
                return
            if message is on_eof:
                return

    thread = threading.Thread(target=reader, name="bench-commands", daemon=True)
    thread.start()
    return thread
