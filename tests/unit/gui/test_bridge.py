from __future__ import annotations

import asyncio
import threading
import time

import pytest

from pymeet.gui.bridge import Mailbox, NetworkThread, UiQueue
from tests.support.timeouts import timeout


def test_drain_is_capped_and_keeps_order() -> None:
    ui = UiQueue(batch=3)
    seen: list[int] = []
    for i in range(7):
        ui.post(seen.append, i)
    assert ui.drain() == 3 and seen == [0, 1, 2]
    assert ui.drain(limit=10) == 4 and seen == list(range(7))
    assert ui.drain() == 0


def test_a_failing_callback_does_not_stop_the_others() -> None:
    ui = UiQueue()
    seen: list[str] = []
    ui.post(lambda: 1 / 0)
    ui.post(seen.append, "after")
    assert ui.drain() == 2 and seen == ["after"]


def test_mailbox_keeps_the_newest_value_per_key() -> None:
    box: Mailbox[str, int] = Mailbox()
    for i in range(5):
        box.put("a", i)
    box.put("b", 9)
    box.put("c", 1)
    box.discard("c")
    assert box.take() == {"a": 4, "b": 9}
    assert box.replaced == 4
    assert box.take() == {}


def drain_until(ui: UiQueue, done: threading.Event) -> None:
    """Drain on this thread until ``done`` (set by a drained callback)."""
    deadline = time.monotonic() + timeout(5)
    while not done.is_set():
        assert time.monotonic() < deadline, "the callbacks never arrived"
        ui.drain()
        time.sleep(0.005)


def test_outcomes_and_events_arrive_in_loop_order_on_the_calling_thread() -> None:
    ui = UiQueue()
    net = NetworkThread(ui)
    net.start()
    try:
        log: list[tuple[str, object, bool]] = []
        main = threading.get_ident()
        done = threading.Event()

        async def work() -> int:
            ui.post(lambda: log.append(("event", 1, threading.get_ident() == main)))
            await asyncio.sleep(0)
            return 42

        def ok(result: int) -> None:
            log.append(("ok", result, threading.get_ident() == main))
            if len(log) == 3:
                done.set()

        async def fail() -> None:
            raise ValueError("nope")

        def error(exc: BaseException) -> None:
            log.append(("error", str(exc), threading.get_ident() == main))
            if len(log) == 3:
                done.set()

        net.run(work(), ok)
        net.run(fail(), on_error=error)
        drain_until(ui, done)
        # Each coroutine's own posts come in order; the two ran concurrently.
        assert log.index(("event", 1, True)) < log.index(("ok", 42, True))
        assert sorted(log) == sorted([("event", 1, True), ("ok", 42, True),
                                      ("error", "nope", True)])
    finally:
        net.stop()
    assert not net.running


def test_stop_runs_a_last_coroutine() -> None:
    ui = UiQueue()
    net = NetworkThread(ui)
    net.start()
    ran: list[bool] = []

    async def final() -> None:
        ran.append(True)

    net.stop(final())
    assert ran == [True]
    with pytest.raises(RuntimeError):
        _ = net.loop
