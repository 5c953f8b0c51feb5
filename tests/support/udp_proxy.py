"""A seeded UDP impairment proxy for tests (TESTING.md, "Networks that misbehave").

It sits between one client and the server on 127.0.0.1: the client sends its media to
`UdpImpairmentProxy.address`, the proxy forwards to the server from its own port and
relays the answers back to the client. Each direction has its own `Impairment`: drop,
duplicate, reorder (hold a datagram back until the next one has passed), corrupt (flip
one byte) and truncate, drawn from one seeded `random.Random`. ``kinds`` limits the
impairment to datagrams whose clear header kind byte (§4.2, offset 1) is listed, so a
test can mangle media while keeping pings and pongs intact. ``blocked`` drops
everything, in both directions, like a firewall.

Counters (``counters``) say what was done, per direction: ``up_forwarded``,
``down_dropped``, ``up_corrupted`` and so on. ``headers`` keeps the clear (kind, ssrc,
seq) of every datagram received, per direction, before any impairment.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

Address = tuple[str, int]
REORDER_HOLD = 0.02  # a held datagram goes out after the next one, or after this long


@dataclass(frozen=True)
class Impairment:
    """Probabilities (0..1) of what happens to one datagram in one direction."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    corrupt: float = 0.0
    truncate: float = 0.0
    kinds: frozenset[int] | None = None  # None: every datagram may be impaired


class _Side(asyncio.DatagramProtocol):
    def __init__(self, proxy: UdpImpairmentProxy, direction: str) -> None:
        self.proxy = proxy
        self.direction = direction
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.proxy._received(self.direction, data, addr)

    def error_received(self, exc: Exception) -> None:
        self.proxy.counters[f"{self.direction}_errors"] += 1


class UdpImpairmentProxy:
    """One client <-> one server, with impairments (see the module docstring)."""

    def __init__(self, target: Address, *, upstream: Impairment | None = None,
                 downstream: Impairment | None = None, seed: int = 0) -> None:
        self.target = target
        self.upstream = upstream or Impairment()
        self.downstream = downstream or Impairment()
        self.random = random.Random(seed)
        self.blocked = False
        self.counters: Counter[str] = Counter()
        self.headers: deque[tuple[str, int, int, int]] = deque(maxlen=100_000)
        self._front: _Side | None = None  # faces the client
        self._back: _Side | None = None  # faces the server
        self._client: Address | None = None
        self._held: dict[str, tuple[bytes, asyncio.TimerHandle]] = {}

    @property
    def address(self) -> Address:
        """Where the client should send its media."""
        assert self._front is not None and self._front.transport is not None
        host, port = self._front.transport.get_extra_info("sockname")[:2]
        return host, port

    async def start(self) -> UdpImpairmentProxy:
        loop = asyncio.get_running_loop()
        _, front = await loop.create_datagram_endpoint(
            lambda: _Side(self, "up"), local_addr=("127.0.0.1", 0))
        _, back = await loop.create_datagram_endpoint(
            lambda: _Side(self, "down"), remote_addr=self.target)
        self._front, self._back = front, back
        return self

    def close(self) -> None:
        for _, timer in self._held.values():
            timer.cancel()
        self._held.clear()
        for side in (self._front, self._back):
            if side is not None and side.transport is not None:
                side.transport.close()

    async def __aenter__(self) -> UdpImpairmentProxy:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    # -- the datapath ------------------------------------------------------------------

    def _received(self, direction: str, data: bytes, addr: Address) -> None:
        counters = self.counters
        counters[f"{direction}_received"] += 1
        if len(data) >= 12:
            self.headers.append((direction, data[1], int.from_bytes(data[4:8], "big"),
                                 int.from_bytes(data[8:12], "big")))
        if direction == "up":
            self._client = addr
        if self.blocked:
            counters[f"{direction}_blocked"] += 1
            return
        impairment = self.upstream if direction == "up" else self.downstream
        kind = data[1] if len(data) > 1 else -1
        if impairment.kinds is not None and kind not in impairment.kinds:
            self._emit(direction, data)
            return
        rng = self.random
        if rng.random() < impairment.drop:
            counters[f"{direction}_dropped"] += 1
            return
        if rng.random() < impairment.corrupt and data:
            index = rng.randrange(len(data))
            data = data[:index] + bytes([data[index] ^ (1 << rng.randrange(8))]) + data[index + 1:]
            counters[f"{direction}_corrupted"] += 1
        if rng.random() < impairment.truncate and len(data) > 1:
            data = data[:rng.randrange(1, len(data))]
            counters[f"{direction}_truncated"] += 1
        copies = 2 if rng.random() < impairment.duplicate else 1
        if copies == 2:
            counters[f"{direction}_duplicated"] += 1
        if rng.random() < impairment.reorder and direction not in self._held:
            counters[f"{direction}_reordered"] += 1
            timer = asyncio.get_running_loop().call_later(
                REORDER_HOLD, self._release, direction)
            self._held[direction] = (data, timer)
            return
        for _ in range(copies):
            self._emit(direction, data)

    def _emit(self, direction: str, data: bytes) -> None:
        if direction == "up":
            back = self._back
            if back is not None and back.transport is not None:
                back.transport.sendto(data)
        else:
            front, client = self._front, self._client
            if front is not None and front.transport is not None and client is not None:
                front.transport.sendto(data, client)
        self.counters[f"{direction}_forwarded"] += 1
        if direction in self._held:
            self._release(direction)  # the held datagram goes out after this one

    def _release(self, direction: str) -> None:
        held = self._held.pop(direction, None)
        if held is None:
            return
        data, timer = held
        timer.cancel()
        self._emit(direction, data)
