"""Latency histograms that are cheap to fill on a hot path and merge across processes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

BIN_NS = 10_000  # 10 µs bins
BINS = 200_000  # up to 2 s; anything slower lands in the last bin


class Histogram:
    """Counts of latencies in `BIN_NS` bins. ``add`` is one index and one increment."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts = [0] * BINS

    def add(self, latency_ns: int) -> None:
        index = latency_ns // BIN_NS
        self.counts[index if 0 <= index < BINS else (BINS - 1 if index > 0 else 0)] += 1

    def sparse(self) -> dict[int, int]:
        """The non-empty bins, for sending to another process."""
        return {index: count for index, count in enumerate(self.counts) if count}


def merge(parts: Iterable[Mapping[int, int]]) -> dict[int, int]:
    total: dict[int, int] = {}
    for part in parts:
        for index, count in part.items():
            total[int(index)] = total.get(int(index), 0) + count
    return total


def percentile_ms(sparse: Mapping[int, int], fraction: float) -> float | None:
    """The latency (ms, upper edge of its bin) below which ``fraction`` of the samples
    lie; None when there are no samples."""
    total = sum(sparse.values())
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    for index in sorted(sparse):
        seen += sparse[index]
        if seen >= rank:
            return (index + 1) * BIN_NS / 1e6
    return (max(sparse) + 1) * BIN_NS / 1e6


def samples(sparse: Mapping[int, int]) -> int:
    return sum(sparse.values())


def percentiles_of(values: list[float], *fractions: float) -> list[float | None]:
    """Exact percentiles (nearest rank) of a small list of values."""
    if not values:
        return [None for _ in fractions]
    ordered = sorted(values)
    out: list[float | None] = []
    for fraction in fractions:
        rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.4999)))
        out.append(ordered[rank - 1])
    return out
