from __future__ import annotations

from pymeet.server.rate_limit import TokenBucket


def test_burst_then_steady_rate() -> None:
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert not bucket.take(0.05)  # half a token
    assert bucket.take(0.1)
    assert sum(bucket.take(1.0 + i * 0.01) for i in range(100)) <= 5 + 10 + 1


def test_never_exceeds_the_burst_after_a_long_pause() -> None:
    bucket = TokenBucket(rate=100, burst=3, now=0.0)
    assert sum(bucket.take(1000.0) for _ in range(10)) == 3


def test_amounts_are_bytes_when_used_for_bandwidth() -> None:
    bucket = TokenBucket(rate=1000, burst=1500, now=0.0)
    assert bucket.take(0.0, 1200)
    assert not bucket.take(0.0, 1200)
    assert bucket.take(1.0, 1200)
