"""A token bucket: pure, with the time passed in, so control and media share it."""

from __future__ import annotations


class TokenBucket:
    """Allows ``rate`` units per second on average and bursts of up to ``burst`` units."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def take(self, now: float, amount: float = 1.0) -> bool:
        """Spend ``amount`` if available; False (and nothing spent) when over the limit."""
        tokens = self.tokens + (now - self.stamp) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        self.stamp = now
        if tokens < amount:
            self.tokens = tokens
            return False
        self.tokens = tokens - amount
        return True
