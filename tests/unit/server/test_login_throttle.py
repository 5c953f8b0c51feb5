from __future__ import annotations

from pymeet.server.login_throttle import LoginThrottle


def test_identifier_is_throttled_after_five_failures_for_the_window() -> None:
    throttle = LoginThrottle(per_identifier=5, per_address=100, window=300)
    for i in range(5):
        assert throttle.retry_after("alice", "10.0.0.1", i) == 0
        throttle.record_failure("alice", "10.0.0.1", i)
    wait = throttle.retry_after("alice", "10.0.0.2", 5)
    assert 0 < wait <= 300
    assert throttle.retry_after("bob", "10.0.0.1", 5) == 0
    assert throttle.retry_after("alice", "10.0.0.1", 5 + wait) == 0


def test_address_is_throttled_across_identifiers() -> None:
    throttle = LoginThrottle(per_identifier=5, per_address=3, window=60)
    for name in ("a", "b", "c"):
        throttle.record_failure(name, "192.0.2.9", 1.0)
    assert throttle.retry_after("d", "192.0.2.9", 2.0) > 0
    assert throttle.retry_after("d", "192.0.2.10", 2.0) == 0


def test_success_clears_the_identifier() -> None:
    throttle = LoginThrottle(per_identifier=2, per_address=100, window=60)
    throttle.record_failure("carol", "h", 0)
    throttle.record_success("carol")
    throttle.record_failure("carol", "h", 1)
    assert throttle.retry_after("carol", "h", 1) == 0
