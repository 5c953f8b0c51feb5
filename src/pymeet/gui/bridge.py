"""The only door between the Tk thread and the network thread (Thonny's model).

Theory of operation::

    main thread (Tk)                          network thread (asyncio)
    ────────────────                          ────────────────────────
    NetworkThread.run(coro, on_ok, on_error) ──run_coroutine_threadsafe──> coro
                                                                            │
    UiQueue.drain(limit) <── root.after ──┐      UiQueue.post(on_ok, result) │
        runs callables in order           └──────── (also every event) <────┘
    Mailbox.take() <── root.after          Mailbox.put(key, frame)  (latest wins)

- `UiQueue` is a `queue.Queue` of callables. Any thread may `post`; only the Tk thread
  `drain`s, in batches of at most ``limit`` items, so a flood of events never freezes
  the window. Posting order is execution order.
- `NetworkThread.run` wraps the coroutine so that its outcome is posted *from the
  loop*, right where it happens. Events and outcomes therefore reach Tk in the order
  the loop saw them; a reply is never overtaken by an event it caused, nor the other
  way round.
- `Mailbox` keeps only the newest value per key (a video frame per tile, an audio
  level per member): producers never wait and never pile up work for Tk.

Nothing in this module imports tkinter; it is tested without a display.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

__all__ = ["DEFAULT_BATCH", "Mailbox", "NetworkThread", "UiQueue"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
DEFAULT_BATCH = 100


class UiQueue:
    """Callables for the Tk thread (see the module docstring)."""

    def __init__(self, batch: int = DEFAULT_BATCH) -> None:
        self.batch = batch
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]]] = (
            queue.SimpleQueue())

    def post(self, func: Callable[..., Any], *args: Any) -> None:
        """Run ``func(*args)`` on the Tk thread at its next drain. Any thread; never blocks."""
        self._queue.put((func, args))

    @property
    def pending(self) -> int:
        """How many callables wait (approximate while other threads post)."""
        return self._queue.qsize()

    def drain(self, limit: int | None = None) -> int:
        """Run up to ``limit`` (default ``batch``) waiting callables in posting order;
        returns how many ran. A callable that raises is logged and skipped."""
        limit = self.batch if limit is None else limit
        done = 0
        while done < limit:
            try:
                func, args = self._queue.get_nowait()
            except queue.Empty:
                break
            done += 1
            try:
                func(*args)
            except Exception:
                logger.exception("UI callback %r failed", getattr(func, "__qualname__", func))
        return done


class Mailbox(Generic[K, V]):
    """The newest value per key; `put` from any thread, `take` on the consumer's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[K, V] = {}
        self.replaced = 0
        """Values overwritten before they were taken (frames the UI never needed)."""

    def put(self, key: K, value: V) -> None:
        """Store ``value`` under ``key``, replacing an untaken older one."""
        with self._lock:
            if key in self._items:
                self.replaced += 1
            self._items[key] = value

    def take(self) -> dict[K, V]:
        """Everything stored since the last `take`, newest value per key."""
        with self._lock:
            items, self._items = self._items, {}
        return items

    def discard(self, key: K) -> None:
        """Forget an untaken value (its tile is gone)."""
        with self._lock:
            self._items.pop(key, None)


class NetworkThread:
    """An asyncio event loop running in one daemon thread.

    Coroutines are handed over with `run` (outcome posted to a `UiQueue`) or `submit`
    (a `concurrent.futures.Future`). `stop` runs a last coroutine, then ends the loop.
    """

    def __init__(self, ui: UiQueue, name: str = "pymeet-network") -> None:
        self.ui = ui
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop; raises RuntimeError before `start` or after `stop`."""
        if self._loop is None:
            raise RuntimeError("the network thread is not running")
        return self._loop

    @property
    def running(self) -> bool:
        """True between `start` and `stop`."""
        return self._loop is not None

    def start(self) -> None:
        """Start the thread and wait until its loop runs."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; the future resolves on the loop's thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T],
            on_ok: Callable[[T], Any] | None = None,
            on_error: Callable[[BaseException], Any] | None = None) -> None:
        """Run ``coro`` on the loop; post ``on_ok(result)`` or ``on_error(exc)`` to the
        UI queue from the loop, in order with the events (module docstring).

        Without ``on_error`` a failure is logged. Cancellation posts nothing.
        """
        ui = self.ui

        async def runner() -> None:
            try:
                result = await coro
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if on_error is not None:
                    ui.post(on_error, exc)
                else:
                    logger.warning("background request failed: %s", exc)
                return
            if on_ok is not None:
                ui.post(on_ok, result)

        try:
            self.submit(runner())
        except RuntimeError:  # the loop is gone (shutting down)
            coro.close()

    def call_soon(self, func: Callable[..., Any], *args: Any) -> None:
        """Run the plain function ``func(*args)`` on the loop's thread, soon."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(func, *args)

    def stop(self, final: Coroutine[Any, Any, Any] | None = None,
             timeout: float = 5.0) -> None:
        """Run ``final`` (bounded by ``timeout``), stop the loop and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            if final is not None:
                final.close()
            return
        if final is not None:
            future = asyncio.run_coroutine_threadsafe(final, loop)
            try:
                future.result(timeout)
            except Exception as exc:  # includes the timeout: leave anyway
                logger.info("shutdown did not finish cleanly: %r", exc)
                future.cancel()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._loop = None
        self._thread = None
