"""How long a process that needs almost no CPU waits for one: the machine's share of
the latency.

A thread sleeps 1 ms at a time and notes how late each wake-up is. On an idle machine
the lateness is a few tens of microseconds; when other work keeps both cores busy, a
wake-up can wait tens or hundreds of milliseconds, and so does a relay that was waiting
for its next datagram. The bench runs the probe during each measured window and prints
it beside the relay's latency.
"""

from __future__ import annotations

import threading
import time

from pymeet.bench.histogram import Histogram, percentile_ms

TICK = 0.001
SLOT = 0.1  # timeline resolution, as the load generator's


class SchedulerProbe:
    def __init__(self, start: float, stop: float) -> None:
        self.start = start
        self.stop = stop
        self.lateness = Histogram()
        self.worst = [0.0] * (int((stop - start) / SLOT) + 1)
        self._thread = threading.Thread(target=self._run, name="bench-probe", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sleep, monotonic = time.sleep, time.monotonic
        while (now := monotonic()) < self.start:
            sleep(min(0.05, self.start - now))
        while True:
            before = monotonic()
            if before >= self.stop:
                return
            sleep(TICK)
            late = monotonic() - before - TICK
            self.lateness.add(int(late * 1e9))
            slot = int((before - self.start) / SLOT)
            if late > self.worst[slot]:
                self.worst[slot] = late

    def result(self) -> dict[str, object]:
        self._thread.join(max(0.0, self.stop - time.monotonic()) + 1.0)
        sparse = self.lateness.sparse()
        return {
            "p99_ms": percentile_ms(sparse, 0.99),
            "max_ms": max(self.worst) * 1e3,
            "worst_ms_per_100ms": [round(w * 1e3, 1) for w in self.worst],
        }
