"""`lobby.update` pushes (§3.2): the full room list, coalesced to at most one per
interval however fast rooms change."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class LobbyNotifier:
    """Call `changed()` whenever the room list or a member count changes; `publish`
    runs at most once per ``interval`` seconds, after the latest change."""

    def __init__(self, publish: Callable[[], None], interval: float = 0.25) -> None:
        self._publish = publish
        self._interval = interval
        self._handle: asyncio.TimerHandle | None = None
        self._last = float("-inf")

    def changed(self) -> None:
        if self._handle is not None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last + self._interval - loop.time())
        self._handle = loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._last = asyncio.get_running_loop().time()
        self._publish()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
