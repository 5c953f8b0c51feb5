"""The load generator: one worker process playing every participant of some rooms.

Theory of operation. The coordinator (`pymeet.bench.cli`) starts a few workers and
gives each a disjoint set of rooms, so every room's senders and receivers live in one
process. It drives them with commands over a pipe, one at a time:

- ``grow``: log the participants of more rooms in over TLS (register, login, the first
  member creates the room, all join, ``media.update`` mic and camera on).
- ``prepare``: give every participant a fresh UDP socket connected to the target (the
  server's media port, or the bare forwarder). For the server, each socket pings until
  a pong comes back, so the server has bound its address (§4.3 step 4).
- ``run``: at an agreed `time.monotonic` instant (one clock for every process on the
  machine), every participant sends voice (50 packets/s of 640 bytes) and 320×240
  video at 15 fps (frames of about 9 KB in 8 fragments, back to back), each phase
  staggered at random. Every datagram is sealed with the session's key and the
  session's one seq counter (§4.2); the first 8 payload bytes are the send time in
  monotonic nanoseconds.
- ``stop``: close everything and exit.

Accounting is exact: a voice or video frame belongs to the measured window when its
due time does, and sending stops when the window closes, so each sender's window is
one range of its seqs, from the first seq it sealed in the window on. A receiver counts
a datagram when its (ssrc, seq) falls in that range, however late it arrives (the
receivers keep reading for a grace period after the window). Every ``open_every``-th
counted datagram is opened (with the receiver's own key for the server, which
reseals; with the sender's key for the bare forwarder, which does not) and gives one
latency sample: the kernel's arrival time at the receiving socket (``SO_TIMESTAMPNS``)
minus the send time, so that this process's own scheduling delays stay out of the
relay's figure. The time the receiving process read it is kept too ("observed").

The run itself is one synchronous epoll loop (`Worker._run_blocking`), not the event
loop, because the generator shares the machine with the relay it measures.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import heapq
import os
import random
import resource
import select
import socket
import ssl
import struct
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pymeet.bench.control import BenchError, ControlClient, client_context
from pymeet.bench.histogram import Histogram
from pymeet.bench.ipc import read_commands
from pymeet.protocol.media_packet import (
    BASE_HEADER,
    CLIENT_TO_SERVER,
    MAX_VIDEO_FRAGMENT_PAYLOAD,
    NONCE,
    SERVER_TO_CLIENT,
    VERSION,
    VIDEO_HEADER,
    Kind,
)
from pymeet.server.relay import enlarge_buffers

PASSWORD = "bench password 1"
AUDIO_INTERVAL = 0.020
AUDIO_PAYLOAD = 640
AUDIO_SAMPLES = 320
VIDEO_FPS = 15.0
VIDEO_CLOCK = 90_000
FRAME_BYTES = (8_400, 9_200)  # a 320×240 JPEG at quality 50–60 (TESTING.md: about 8.7 KB)
SEND_TIME = struct.Struct(">Q")
RECEIVED = struct.Struct(">xBxxII")  # kind, ssrc, seq of a received datagram
SOCKET_BUFFER = 1 << 20
SLOT_NS = 100_000_000  # the stall timeline's resolution
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value
TIMESPEC = struct.Struct("=qq")
TIMESTAMP_SPACE = socket.CMSG_SPACE(TIMESPEC.size)
KEEPALIVE = 20.0  # control pings, well inside the server's 90 s idle timeout
NEVER = 1 << 40  # a seq no sender reaches: "the window has not opened yet"
_AUDIO, _VIDEO, _PING, _PONG = int(Kind.AUDIO), int(Kind.VIDEO), int(Kind.PING), int(Kind.PONG)


class Participant:
    """One session: control connection, key, seq counter, and its current UDP socket."""

    __slots__ = (
        "aead", "audio_ts", "control", "frame_id", "lo", "name", "room", "seq", "sock",
        "ssrc",
    )

    def __init__(self, name: str, room: int) -> None:
        self.name = name
        self.room = room
        self.control: ControlClient | None = None
        self.ssrc = 0
        self.aead: AESGCM | None = None
        self.seq = 0
        self.sock: socket.socket | None = None
        self.lo = NEVER  # the first seq of the measured window
        self.audio_ts = 0
        self.frame_id = 0

    def seal(self, header: bytes, seq: int, payload: bytes) -> bytes:
        assert self.aead is not None
        return header + self.aead.encrypt(
            NONCE.pack(CLIENT_TO_SERVER, self.ssrc, seq), payload, header
        )


class Worker:
    def __init__(self, conn: Connection, spec: dict[str, Any]) -> None:
        self.conn = conn
        self.index: int = spec["index"]
        self.host: str = spec["host"]
        self.port: int = spec["port"]
        self.fingerprint: str = spec["fingerprint"]
        self.tag: str = spec["tag"]
        self.room_size: int = spec["room_size"]
        self.rooms: dict[int, list[Participant]] = {}
        self.context: ssl.SSLContext = client_context()
        self.random = random.Random(spec.get("seed", 1) * 1000 + self.index)
        self.audio_body = os.urandom(AUDIO_PAYLOAD - SEND_TIME.size)
        self.video_body = os.urandom(MAX_VIDEO_FRAGMENT_PAYLOAD)
        self.target = "server"

    @property
    def participants(self) -> list[Participant]:
        return [p for members in self.rooms.values() for p in members]

    # -- commands ------------------------------------------------------------------------

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        commands: asyncio.Queue[Any] = asyncio.Queue()
        read_commands(self.conn, loop, commands.put_nowait, {"op": "stop"})
        keepalive = loop.create_task(self._keepalive())
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "grow": self.grow, "prepare": self.prepare, "run": self.run, "stats": self.stats,
        }
        try:
            while True:
                command = await commands.get()
                if command["op"] == "stop":
                    break
                try:
                    result = await handlers[command["op"]](command)
                    self.conn.send({"ok": True, **(result or {})})
                except Exception as exc:
                    self.conn.send({"ok": False, "error": f"{exc}\n{traceback.format_exc()}"})
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
            await self._close()

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE)
            for p in self.participants:
                if p.control is not None and not p.control.closed:
                    with contextlib.suppress(BenchError, TimeoutError):
                        await p.control.request("ping", timeout=10)

    async def _close(self) -> None:
        for p in self.participants:
            self._drop_socket(p)
            if p.control is not None:
                await p.control.close()

    async def stats(self, command: dict[str, Any]) -> dict[str, Any]:
        """The relay's counters (the ``stats`` request), through any live session."""
        for p in self.participants:
            if p.control is not None and not p.control.closed:
                reply = await p.control.request("stats")
                return {"relay": reply.get("relay", {})}
        return {"relay": {}}

    # -- grow: logins --------------------------------------------------------------------

    async def grow(self, command: dict[str, Any]) -> dict[str, Any]:
        limit = asyncio.Semaphore(4)

        async def one_room(room: int) -> None:
            async with limit:
                await self._fill_room(room)

        new = [room for room in command["rooms"] if room not in self.rooms]
        await asyncio.gather(*(one_room(room) for room in new))
        return {"participants": len(self.participants)}

    async def _fill_room(self, room: int) -> None:
        name = f"bench {self.tag} {room}"
        members = [Participant(f"b{self.tag}_{room}_{i}", room) for i in range(self.room_size)]
        await asyncio.gather(*(self._login(p) for p in members))
        first = members[0].control
        assert first is not None
        await first.request("room.create", room=name)
        for p in members:  # in order, so that member events stay few
            assert p.control is not None
            await p.control.request("room.join", room=name)
            await p.control.request("media.update", mic=True, cam=True)
        self.rooms[room] = members

    async def _login(self, p: Participant) -> None:
        control = await ControlClient.open(
            self.host, self.port, self.fingerprint, context=self.context
        )
        p.control = control
        await control.request(
            "auth.register", username=p.name, email=f"{p.name}@bench.invalid", password=PASSWORD
        )
        reply = await control.request("auth.login", username=p.name, password=PASSWORD)
        media = reply["media"]
        p.ssrc = int(media["ssrc"])
        p.aead = AESGCM(base64.b64decode(media["key"]))

    # -- prepare: sockets ----------------------------------------------------------------

    def _drop_socket(self, p: Participant) -> None:
        if p.sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(p.sock.fileno())
            p.sock.close()
            p.sock = None

    async def prepare(self, command: dict[str, Any]) -> dict[str, Any]:
        self.target = command["target"]
        address = (command["host"], command["port"])
        for p in self.participants:
            self._drop_socket(p)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            enlarge_buffers(sock, SOCKET_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.bind(("127.0.0.1", 0))
            sock.connect(address)
            sock.setblocking(False)
            p.sock = sock
        if self.target == "server":
            await self._bind_addresses()
        return {
            "ports": {p.ssrc: p.sock.getsockname()[1] for p in self.participants if p.sock},
            "rooms": {room: [p.ssrc for p in members] for room, members in self.rooms.items()},
        }

    async def _bind_addresses(self) -> None:
        """Ping from every socket until the server pongs: its address is then bound."""
        loop = asyncio.get_running_loop()
        waiting = {p.ssrc: p for p in self.participants}
        all_bound = asyncio.Event()

        def on_readable(p: Participant) -> None:
            assert p.sock is not None
            with contextlib.suppress(BlockingIOError, ConnectionRefusedError):
                while True:
                    data = p.sock.recv(2048)
                    if len(data) > 1 and data[1] == _PONG:
                        waiting.pop(p.ssrc, None)
                        if not waiting:
                            all_bound.set()

        for p in self.participants:
            assert p.sock is not None
            loop.add_reader(p.sock.fileno(), on_readable, p)
        try:
            for _attempt in range(20):
                for p in list(waiting.values()):
                    p.seq += 1
                    header = BASE_HEADER.pack(VERSION, _PING, 0, p.ssrc, p.seq, 0)
                    ping = p.seal(header, p.seq, SEND_TIME.pack(time.monotonic_ns()))
                    with contextlib.suppress(OSError):
                        p.sock.send(ping)  # type: ignore[union-attr]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(all_bound.wait(), 0.5)
                if not waiting:
                    return
            raise BenchError(f"{len(waiting)} participants never got a pong from the server")
        finally:
            for p in self.participants:
                if p.sock is not None:
                    loop.remove_reader(p.sock.fileno())

    # -- run: the load -------------------------------------------------------------------

    async def run(self, command: dict[str, Any]) -> dict[str, Any]:
        """The load itself. It runs without the event loop (see `_run_blocking`)."""
        return self._run_blocking(command)

    def _run_blocking(self, command: dict[str, Any]) -> dict[str, Any]:
        """Send and receive from ``start`` until the window closes, then receive for
        ``grace`` seconds more.

        One plain epoll loop, not the event loop: per datagram, a reader callback and a
        timer future per send cost the generator more than the datagram itself, and every
        microsecond the generator spends is taken from the relay it measures. The control
        connections sleep meanwhile (runs are far shorter than the idle timeout).
        """
        start: float = command["start"]
        window_open = start + command["warmup"]
        window_close = window_open + command["duration"]
        receive_until = window_close + command["grace"]
        open_every: int = max(1, int(command.get("open_every", 1)))
        participants = self.participants
        senders = {p.ssrc: p for p in participants}
        for p in participants:
            p.lo = NEVER
        counters = {"delivered": 0, "stray": 0, "bad_tag": 0, "send_errors": 0}
        # Audio and video: kernel arrival at the receiver's socket minus the send time
        # (the relay's latency). 0: when the receiving process read it (the relay's
        # latency plus this generator's own scheduling delay).
        latency = {_AUDIO: Histogram(), _VIDEO: Histogram(), 0: Histogram()}
        delivered_bytes = [0]
        bare = self.target == "bare"
        origin_ns = int(window_open * 1e9)
        worst = [0] * (int((window_close - window_open) * 1e9 // SLOT_NS) + 1)
        poller = select.epoll()
        readers: dict[int, Callable[[], None]] = {}
        for p in participants:
            assert p.sock is not None and p.aead is not None
            readers[p.sock.fileno()] = self._receiver(
                p, senders, bare, open_every, counters, latency, delivered_bytes, worst,
                origin_ns,
            )
            poller.register(p.sock.fileno(), select.EPOLLIN)
        send = self._sender(counters)
        rng = self.random
        video_interval = 1.0 / VIDEO_FPS
        # (due, tie-break, kind, participant); an event belongs to the measured window
        # when its due time does, which makes each sender's window a range of its seqs.
        heap: list[tuple[float, int, int, Participant]] = []
        for order, p in enumerate(participants):
            heap.append((start + rng.uniform(0, AUDIO_INTERVAL), 2 * order, _AUDIO, p))
            heap.append((start + rng.uniform(0, video_interval), 2 * order + 1, _VIDEO, p))
        heapq.heapify(heap)
        lag_max = lag_sum = 0.0
        events = 0
        monotonic = time.monotonic
        poll = poller.poll
        try:
            while True:
                now = monotonic()
                while heap and heap[0][0] <= now:
                    due, order, kind, p = heapq.heappop(heap)
                    if p.lo == NEVER and due >= window_open:
                        p.lo = p.seq + 1
                    lateness = now - due
                    lag_sum += lateness
                    events += 1
                    if lateness > lag_max:
                        lag_max = lateness
                    send(p, kind, due)
                    due += AUDIO_INTERVAL if kind == _AUDIO else video_interval
                    if due < window_close:
                        heapq.heappush(heap, (due, order, kind, p))
                    now = monotonic()
                if not heap and now >= receive_until:
                    break
                wake = heap[0][0] if heap else receive_until
                for fd, _ in poll(max(0.0, wake - now)):
                    readers[fd]()
        finally:
            poller.close()
        offered = expected = 0
        for members in self.rooms.values():
            for p in members:
                sent = p.seq + 1 - p.lo if p.lo != NEVER else 0
                offered += sent
                expected += sent * (len(members) - 1)
        return {
            **counters,
            "offered": offered,
            "expected": expected,
            "delivered_bytes": delivered_bytes[0],
            "latency_audio": latency[_AUDIO].sparse(),
            "latency_video": latency[_VIDEO].sparse(),
            "latency_observed": latency[0].sparse(),
            "worst_ms_per_100ms": [round(w / 1e6, 1) for w in worst],
            "send_lag_max_ms": lag_max * 1e3,
            "send_lag_mean_ms": (lag_sum / events if events else 0.0) * 1e3,
            "ports": [p.sock.getsockname()[1] for p in participants if p.sock is not None],
        }

    def _receiver(
        self,
        p: Participant,
        senders: dict[int, Participant],
        bare: bool,
        open_every: int,
        counters: dict[str, int],
        latency: dict[int, Histogram],
        delivered_bytes: list[int],
        worst: list[int],
        origin_ns: int,
    ) -> Callable[[], None]:
        """The socket's read callback: drain it, count, sample latency. ``worst`` keeps
        the highest latency per `SLOT_NS` of send time since ``origin_ns``: when stalls
        happened, for the JSON file."""
        assert p.sock is not None and p.aead is not None
        recvmsg = p.sock.recvmsg
        own = p.aead
        direction = CLIENT_TO_SERVER if bare else SERVER_TO_CLIENT
        unpack = RECEIVED.unpack_from
        now_ns = time.monotonic_ns
        nonce = NONCE.pack
        send_time = SEND_TIME.unpack_from
        kernel_time = TIMESPEC.unpack
        # SO_TIMESTAMPNS stamps arrivals on the realtime clock; the payload carries the
        # monotonic clock. The offset between them is taken once per run.
        realtime_offset = time.time_ns() - time.monotonic_ns()
        hist_audio, hist_video = latency[_AUDIO].add, latency[_VIDEO].add
        observed = latency[0].add
        slots = len(worst)

        def drain() -> None:
            counted = stray = bad = size = 0
            try:
                while True:
                    data, ancillary, _, _ = recvmsg(2048, TIMESTAMP_SPACE)
                    kind, ssrc, seq = unpack(data)
                    sender = senders.get(ssrc)
                    if sender is None or seq < sender.lo:
                        stray += 1
                        continue
                    counted += 1
                    size += len(data)
                    if seq % open_every:
                        continue
                    header_size = 24 if kind == _VIDEO else 16
                    aead = sender.aead if bare else own
                    try:
                        payload = aead.decrypt(  # type: ignore[union-attr]
                            nonce(direction, ssrc, seq), data[header_size:], data[:header_size]
                        )
                    except InvalidTag:
                        bad += 1
                        continue
                    (sent,) = send_time(payload)
                    now = now_ns()
                    observed(now - sent)
                    if ancillary:
                        seconds, nanoseconds = kernel_time(ancillary[0][2])
                        arrived = seconds * 1_000_000_000 + nanoseconds - realtime_offset
                    else:
                        arrived = now
                    delay = arrived - sent
                    (hist_video if kind == _VIDEO else hist_audio)(delay)
                    slot = (sent - origin_ns) // SLOT_NS
                    if 0 <= slot < slots and delay > worst[slot]:
                        worst[slot] = delay
            except (BlockingIOError, ConnectionRefusedError):
                pass
            finally:
                counters["delivered"] += counted
                counters["stray"] += stray
                counters["bad_tag"] += bad
                delivered_bytes[0] += size

        return drain

    def _sender(self, counters: dict[str, int]) -> Callable[[Participant, int, float], None]:
        """``send(participant, kind, due)``: one 20 ms voice datagram, or one video frame
        of about 9 KB in 8 fragments sent back to back, as a camera client does."""
        rng = self.random
        audio_body, video_body = self.audio_body, self.video_body
        pack_time = SEND_TIME.pack
        pack_audio, pack_video = BASE_HEADER.pack, VIDEO_HEADER.pack
        now_ns = time.monotonic_ns
        stamp = SEND_TIME.size

        def send(p: Participant, kind: int, due: float) -> None:
            sock_send = p.sock.send  # type: ignore[union-attr]
            try:
                if kind == _AUDIO:
                    p.seq += 1
                    header = pack_audio(VERSION, _AUDIO, 0, p.ssrc, p.seq, p.audio_ts)
                    p.audio_ts = (p.audio_ts + AUDIO_SAMPLES) & 0xFFFFFFFF
                    sock_send(p.seal(header, p.seq, pack_time(now_ns()) + audio_body))
                    return
                size = rng.randint(*FRAME_BYTES)
                count = -(-size // MAX_VIDEO_FRAGMENT_PAYLOAD)
                timestamp = int(due * VIDEO_CLOCK) & 0xFFFFFFFF
                frame_id = p.frame_id = (p.frame_id + 1) & 0xFFFFFFFF
                for index in range(count):
                    length = min(MAX_VIDEO_FRAGMENT_PAYLOAD, size)
                    size -= length
                    p.seq += 1
                    header = pack_video(
                        VERSION, _VIDEO, 0, p.ssrc, p.seq, timestamp, frame_id, index, count
                    )
                    body = video_body[: length - stamp]
                    sock_send(p.seal(header, p.seq, pack_time(now_ns()) + body))
            except OSError:
                counters["send_errors"] += 1

        return send


def serve(conn: Connection, spec: dict[str, Any]) -> None:
    """Process entry point: run a `Worker` on uvloop until told to stop."""
    if spec.get("nice"):
        os.nice(int(spec["nice"]))
    if spec.get("cpus"):
        os.sched_setaffinity(0, set(spec["cpus"]))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    with contextlib.suppress(KeyboardInterrupt):
        loop.run_until_complete(Worker(conn, spec).main())
    loop.close()
