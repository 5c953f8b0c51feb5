"""The replay window of PROTOCOL.md §4.3 step 3, over one sender's 32-bit seq numbers.

Theory of operation (as in RFC 4303 §3.4.3 and Mumble's ``CryptState``): remember the
highest seq accepted, ``top``, and an integer bitmask whose bit ``i`` says whether
``top - i`` was seen. A seq above ``top`` slides the window forward; a seq inside it is
accepted once; a seq below ``top - width + 1`` is too old to judge and is refused.
Everything is O(1) (the mask is ``width`` bits, a few machine words).

Seqs do not wrap: a sender logs in again for a fresh key before its counter passes
2^32 − 1 (§4.3), and a fresh key comes with a fresh window.

Call it only after the datagram authenticated (§4.3 steps 2 then 3), so forged
packets can neither move the window nor inflate its counters.
"""

from __future__ import annotations

from pymeet.protocol.errors import MediaPacketError

MIN_WIDTH = 256  # §4.3: the window is at least 256 packets wide
DEFAULT_WIDTH = 1024


class ReplayWindow:
    """Accepts each seq at most once, and refuses seqs older than the window.

    Counters (attributes): ``accepted``, ``replayed`` (seen before) and ``late`` (older
    than the window).
    """

    __slots__ = ("_full", "_mask", "_top", "accepted", "late", "replayed", "width")

    def __init__(self, width: int = DEFAULT_WIDTH) -> None:
        """Raises ValueError when ``width`` is under 256."""
        if width < MIN_WIDTH:
            raise ValueError(f"replay window width must be >= {MIN_WIDTH}, not {width}")
        self.width = width
        self._full = (1 << width) - 1
        self._top = -1  # no seq seen yet
        self._mask = 0  # bit i set: seq (top - i) seen
        self.accepted = 0
        self.replayed = 0
        self.late = 0

    @property
    def highest(self) -> int | None:
        """The newest seq accepted so far, or None before the first."""
        return self._top if self._top >= 0 else None

    def check(self, seq: int) -> bool:
        """True when `update` would accept ``seq``: never seen and not older than the window.

        Pure: changes neither the window nor the counters.
        """
        age = self._top - seq
        if age < 0:
            return True
        if age >= self.width:
            return False
        return not (self._mask >> age) & 1

    def update(self, seq: int) -> bool:
        """Record an authenticated ``seq``; return True when it is the newest seen so far.

        The server binds the source address only on True (§4.3 step 4). A seq that
        `check` refuses is not recorded: it raises `MediaPacketError` with reason
        ``replayed`` or ``late`` and bumps that counter.
        """
        age = self._top - seq
        if age < 0:
            # Newer than everything: slide the window so that bit 0 is ``seq``.
            shift = -age
            self._mask = ((self._mask << shift) | 1) & self._full if shift < self.width else 1
            self._top = seq
            self.accepted += 1
            return True
        if age >= self.width:
            self.late += 1
            raise MediaPacketError("late", f"seq {seq} is older than the replay window")
        bit = 1 << age
        if self._mask & bit:
            self.replayed += 1
            raise MediaPacketError("replayed", f"seq {seq} was already received")
        self._mask |= bit
        self.accepted += 1
        return False
