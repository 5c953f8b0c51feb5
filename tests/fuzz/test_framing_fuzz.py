"""Fuzzing the control framing decoder (PROTOCOL.md §1; docs/PROTOCOL.md "Framing").

A Hypothesis state machine writes a stream the way a hostile peer might: valid frames
of any size up to the limit, empty frames, an oversize length prefix, and raw garbage,
cut into chunks at random places. It checks the decoder against a model of the stream:

- valid frames come out whole, in order, however the stream is chunked;
- an empty frame raises `ProtocolError` and nothing else, and the stream stays in sync;
- an oversize length raises `FrameTooLarge` before a byte of the body is buffered, and
  then the decoder refuses further use with `LocalProtocolError` (its documented
  contract: the connection must be closed);
- nothing else ever comes out, and the decoder never holds more than the stream it was
  given that has not yet come out as frames.

(tests/unit/protocol/test_framing.py covers the chunking of valid frames and short
random byte strings; this aims at the interleavings.)
"""

from __future__ import annotations

import struct
import time
from collections import Counter, deque

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from pymeet.protocol.errors import FrameTooLarge, LocalProtocolError, ProtocolError
from pymeet.protocol.framing import LENGTH_PREFIX, FrameDecoder, encode_frame
from tests.fuzz.hostile import examples

EMPTY = "empty"
OVERSIZE = "oversize"
GARBAGE = "garbage"

STEPS: Counter[str] = Counter()


class DecoderMachine(RuleBasedStateMachine):
    """The model: ``pending`` bytes not yet fed, ``expected`` what those bytes must
    produce, in order (a payload, EMPTY or OVERSIZE). After garbage the model no longer
    knows the frame boundaries, so it only checks that errors stay documented."""

    @initialize(max_size=st.sampled_from([1, 2, 16, 300, 70_000]), garbage=st.booleans())
    def start(self, max_size: int, garbage: bool) -> None:
        self.max_size = max_size
        self.garbage_allowed = garbage
        self.decoder = FrameDecoder(max_size=max_size)
        self.pending = bytearray()
        self.expected: deque[bytes | str] = deque()
        self.fed = 0
        self.taken = 0
        self.broken = False
        self.desynchronised = False
        self.refused = False
        STEPS["machines"] += 1

    def _clean(self) -> bool:
        return not self.broken

    @precondition(_clean)
    @rule(data=st.data())
    def write_frame(self, data: st.DataObject) -> None:
        payload = data.draw(st.binary(min_size=1, max_size=min(self.max_size, 3000)))
        if data.draw(st.booleans()) and self.max_size >= 70_000:
            payload = payload * (self.max_size // len(payload))  # up to the limit itself
        self.pending += encode_frame(payload)
        self.expected.append(payload)
        STEPS["frames"] += 1

    @precondition(_clean)
    @rule()
    def write_empty_frame(self) -> None:
        self.pending += LENGTH_PREFIX.pack(0)
        self.expected.append(EMPTY)
        STEPS["empty"] += 1

    @precondition(_clean)
    @rule(excess=st.integers(1, 2**32 - 1))
    def write_oversize_prefix(self, excess: int) -> None:
        size = min(self.max_size + excess, 2**32 - 1)
        self.pending += struct.pack(">I", size) + b"body that must never be buffered"
        self.expected.append(OVERSIZE)
        STEPS["oversize"] += 1

    @precondition(lambda self: self._clean() and self.garbage_allowed)
    @rule(junk=st.binary(min_size=1, max_size=64))
    def write_garbage(self, junk: bytes) -> None:
        self.pending += junk
        self.expected.append(GARBAGE)
        self.desynchronised = True
        STEPS["garbage"] += 1

    @precondition(lambda self: not self.broken and len(self.pending) > 0)
    @rule()
    def deliver_everything(self) -> None:
        self._feed(len(self.pending))

    @precondition(lambda self: not self.broken and len(self.pending) > 0)
    @rule(data=st.data())
    def deliver_some(self, data: st.DataObject) -> None:
        self._feed(data.draw(st.integers(1, len(self.pending))))

    def _feed(self, size: int) -> None:
        chunk = bytes(self.pending[:size])
        del self.pending[:size]
        self.decoder.receive_data(chunk)
        self.fed += size
        STEPS["chunks"] += 1
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                payload = self.decoder.next_frame()
            except FrameTooLarge:
                STEPS["frame_too_large"] += 1
                if not self.desynchronised:
                    assert self.expected.popleft() == OVERSIZE
                assert self.decoder.buffered == 0, "the body was buffered"
                self.broken = True
                return
            except ProtocolError as exc:
                STEPS["bad_request"] += 1
                assert type(exc) is ProtocolError and exc.code == "bad_request"
                if not self.desynchronised:
                    assert self.expected.popleft() == EMPTY
                continue
            if payload is None:
                return
            STEPS["payloads"] += 1
            self.taken += 4 + len(payload)
            assert 1 <= len(payload) <= self.max_size
            if not self.desynchronised:
                assert self.expected.popleft() == payload

    @precondition(lambda self: self.broken and not self.refused)
    @rule(more=st.binary(max_size=8))
    def use_after_fatal_error(self, more: bytes) -> None:
        self.refused = True
        with pytest.raises(LocalProtocolError):
            self.decoder.receive_data(more)
        with pytest.raises(LocalProtocolError):
            self.decoder.next_frame()
        STEPS["refused_after_fatal"] += 1

    @precondition(lambda self: self.refused)
    @rule()
    def reconnect(self) -> None:
        """The server closed the connection; the peer comes back on a new one."""
        self.decoder = FrameDecoder(max_size=self.max_size)
        self.pending.clear()
        self.expected.clear()
        self.fed = self.taken = 0
        self.broken = self.refused = self.desynchronised = False
        STEPS["reconnects"] += 1

    @invariant()
    def holds_no_more_than_it_was_given(self) -> None:
        assert self.decoder.buffered <= self.fed - self.taken


def test_decoder_state_machine() -> None:
    STEPS.clear()
    started = time.perf_counter()
    run_state_machine_as_test(
        DecoderMachine,
        settings=settings(max_examples=examples(300), stateful_step_count=40, deadline=None,
                          database=None, suppress_health_check=[HealthCheck.too_slow]),
    )
    elapsed = time.perf_counter() - started
    print(f"framing: {STEPS['machines']} streams, {STEPS['chunks']} chunks in {elapsed:.2f} s: "
          f"{dict(STEPS)}")
    # Every path of the decoder was taken, or the machine did not test what it claims.
    for step in ("payloads", "bad_request", "frame_too_large", "refused_after_fatal"):
        assert STEPS[step] > 0, dict(STEPS)
