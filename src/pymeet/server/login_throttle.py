"""Throttling of failed logins per identifier and per IP address (docs/PROTOCOL.md).

The identifier is whatever the client typed (case-folded), whether or not such a user
exists, so the throttle itself never reveals which accounts exist. Pure: time is passed in.
"""

from __future__ import annotations

from collections import deque

MAX_TRACKED = 100_000


class LoginThrottle:
    def __init__(
        self, per_identifier: int = 5, per_address: int = 20, window: float = 300.0
    ) -> None:
        self.per_identifier = per_identifier
        self.per_address = per_address
        self.window = window
        self._identifiers: dict[str, deque[float]] = {}
        self._addresses: dict[str, deque[float]] = {}

    def _recent(self, table: dict[str, deque[float]], key: str, now: float) -> deque[float]:
        failures = table.get(key)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del table[key]
        return failures

    def retry_after(self, identifier: str, address: str, now: float) -> float:
        """Seconds until another attempt is allowed; 0 when allowed now."""
        wait = 0.0
        for table, key, limit in (
            (self._identifiers, identifier, self.per_identifier),
            (self._addresses, address, self.per_address),
        ):
            failures = self._recent(table, key, now)
            if len(failures) >= limit:
                wait = max(wait, failures[-limit] + self.window - now)
        return wait

    def record_failure(self, identifier: str, address: str, now: float) -> None:
        for table, key in ((self._identifiers, identifier), (self._addresses, address)):
            if key not in table and len(table) >= MAX_TRACKED:
                self._prune(table, now)
            table.setdefault(key, deque(maxlen=64)).append(now)

    def record_success(self, identifier: str) -> None:
        self._identifiers.pop(identifier, None)

    def _prune(self, table: dict[str, deque[float]], now: float) -> None:
        for key in list(table):
            self._recent(table, key, now)
        while len(table) >= MAX_TRACKED:
            del table[next(iter(table))]
