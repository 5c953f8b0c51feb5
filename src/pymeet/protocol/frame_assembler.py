"""Reassembly of video frames from fragments on a receiver (PROTOCOL.md §4.4, video).

Theory of operation. Fragments are grouped by (ssrc, frame_id). Per ssrc the assembler
keeps the frame_id of the last frame it delivered and at most ``max_partial_frames``
partial frames, in arrival order. A frame is delivered the moment its last missing
fragment arrives, and only if it is newer than the last one delivered (newest complete
frame wins). Delivering a frame drops every partial frame of that ssrc that is older.
frame_ids compare with 32-bit serial-number arithmetic (RFC 1982), so they may wrap.

Every fragment that does not end in a delivered frame is counted once in `counters`:

=================  ===========================================================  ========
key                meaning                                                      unit
=================  ===========================================================  ========
frames_completed   frames delivered                                             frame
superseded         partial frame dropped because a newer frame completed        frame
expired            partial frame dropped because its first fragment is too old  frame
inconsistent       a fragment's frag_count disagrees with the frame's first     frame
overflow           oldest partial frame dropped to stay under the limit         frame
too_large          partial frame dropped for growing over ``max_frame_bytes``   frame
late               fragment of a frame no newer than the last delivered one     fragment
duplicate          fragment already received                                    fragment
bad_fragment       frag_count 0 or frag_index >= frag_count                     fragment
=================  ===========================================================  ========

A frame dropped as inconsistent or too large leaves a tombstone behind, so its
remaining fragments are absorbed silently instead of starting a doomed new frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_MAX_AGE = 0.5  # seconds; §4.4 drops partial frames older than 500 ms
DEFAULT_MAX_PARTIAL_FRAMES = 16
DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024

_SERIAL_BITS = 32
_SERIAL_MODULUS = 1 << _SERIAL_BITS
_SERIAL_HALF = 1 << (_SERIAL_BITS - 1)

COUNTER_KEYS = (
    "frames_completed",
    "superseded",
    "expired",
    "inconsistent",
    "overflow",
    "too_large",
    "late",
    "duplicate",
    "bad_fragment",
)


def frame_id_newer(a: int, b: int) -> bool:
    """True when frame_id ``a`` is newer than ``b`` in 32-bit serial arithmetic (RFC 1982)."""
    return 0 < (a - b) % _SERIAL_MODULUS < _SERIAL_HALF


@dataclass(frozen=True, slots=True)
class CompletedFrame:
    """One whole video frame: its fragments joined in frag_index order."""

    ssrc: int
    frame_id: int
    timestamp: int
    data: bytes
    fragments: int


@dataclass(slots=True)
class _Partial:
    frag_count: int
    timestamp: int
    first_seen: float
    fragments: dict[int, bytes] = field(default_factory=dict)
    size: int = 0
    dead: bool = False  # tombstone: dropped and counted; swallow its other fragments


@dataclass(slots=True)
class _Stream:
    last_delivered: int | None = None
    partials: dict[int, _Partial] = field(default_factory=dict)  # frame_id -> partial


class FrameAssembler:
    """Pure reassembler of video fragments into whole frames, newest frame first.

    Memory is bounded per ssrc by ``max_partial_frames * max_frame_bytes``; call
    `forget` when a sender leaves. Partial frames expire ``max_age`` seconds after their
    first fragment arrived: on the next `add` for that ssrc, or on `expire`.
    """

    __slots__ = ("_streams", "counters", "max_age", "max_frame_bytes", "max_partial_frames")

    def __init__(
        self,
        max_age: float = DEFAULT_MAX_AGE,
        max_partial_frames: int = DEFAULT_MAX_PARTIAL_FRAMES,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        """Raises ValueError unless every limit is positive."""
        if max_age <= 0 or max_partial_frames < 1 or max_frame_bytes < 1:
            raise ValueError("max_age, max_partial_frames and max_frame_bytes must be positive")
        self.max_age = max_age
        self.max_partial_frames = max_partial_frames
        self.max_frame_bytes = max_frame_bytes
        self.counters: dict[str, int] = dict.fromkeys(COUNTER_KEYS, 0)
        self._streams: dict[int, _Stream] = {}

    def partial_frames(self, ssrc: int | None = None) -> int:
        """How many frames are waiting for fragments (tombstones included), for one ssrc or all."""
        if ssrc is not None:
            stream = self._streams.get(ssrc)
            return len(stream.partials) if stream else 0
        return sum(len(stream.partials) for stream in self._streams.values())

    def add(
        self,
        ssrc: int,
        frame_id: int,
        frag_index: int,
        frag_count: int,
        timestamp: int,
        payload: bytes,
        now: float,
    ) -> CompletedFrame | None:
        """Take one fragment received at time ``now``; return the frame it completes, if any.

        A returned frame is always newer than every frame returned before for ``ssrc``.
        Never raises for bad input: a fragment that cannot be used is counted and ignored.
        """
        counters = self.counters
        if not 0 <= frag_index < frag_count:
            counters["bad_fragment"] += 1
            return None
        stream = self._streams.get(ssrc)
        if stream is None:
            stream = self._streams[ssrc] = _Stream()
        else:
            self._expire_stream(stream, now)
        last = stream.last_delivered
        if last is not None and not frame_id_newer(frame_id, last):
            # The newest complete frame wins (§4.4): this one can never be shown.
            counters["duplicate" if frame_id == last else "late"] += 1
            return None

        partial = stream.partials.get(frame_id)
        if partial is None:
            if len(stream.partials) >= self.max_partial_frames:
                oldest = next(iter(stream.partials))
                self._drop(stream, oldest, "overflow")
            partial = stream.partials[frame_id] = _Partial(frag_count, timestamp, now)
        if partial.dead:
            return None
        if frag_count != partial.frag_count:
            self._kill(partial, "inconsistent")
            return None
        if frag_index in partial.fragments:
            counters["duplicate"] += 1
            return None
        partial.fragments[frag_index] = payload
        partial.size += len(payload)
        if partial.size > self.max_frame_bytes:
            self._kill(partial, "too_large")
            return None
        if len(partial.fragments) < frag_count:
            return None

        del stream.partials[frame_id]
        stream.last_delivered = frame_id
        # Older partial frames can never be shown now (§4.4): drop them.
        for older in [f for f in stream.partials if not frame_id_newer(f, frame_id)]:
            self._drop(stream, older, "superseded")
        counters["frames_completed"] += 1
        fragments = partial.fragments
        data = b"".join(fragments[index] for index in range(frag_count))
        return CompletedFrame(ssrc, frame_id, partial.timestamp, data, frag_count)

    def expire(self, now: float) -> None:
        """Drop every partial frame whose first fragment arrived over ``max_age`` ago."""
        for stream in self._streams.values():
            self._expire_stream(stream, now)

    def forget(self, ssrc: int) -> None:
        """Drop everything about ``ssrc`` (partial frames uncounted), e.g. when it leaves."""
        self._streams.pop(ssrc, None)

    def _expire_stream(self, stream: _Stream, now: float) -> None:
        deadline = now - self.max_age
        for frame_id in [f for f, p in stream.partials.items() if p.first_seen < deadline]:
            self._drop(stream, frame_id, "expired")

    def _drop(self, stream: _Stream, frame_id: int, reason: str) -> None:
        partial = stream.partials.pop(frame_id)
        if not partial.dead:
            self.counters[reason] += 1

    def _kill(self, partial: _Partial, reason: str) -> None:
        self.counters[reason] += 1
        partial.dead = True
        partial.fragments.clear()
        partial.size = 0
