"""The media plane end to end (PROTOCOL.md §4): real server, real `MeetingClient`s,
`MediaEngine`s with synthetic sources, on 127.0.0.1.

What a participant would notice is asserted: whose video frames arrive (read back from
the synthetic camera's marker) and that they move forward, whose voices are in the mix
(an FFT finds each sender's tone), that nothing leaks back or across rooms, that a
muted medium stops, that a bad network skips frames instead of showing garbage, that a
blocked UDP path falls back to the tunnel, that real PyAudio works through ALSA files,
and that missing hardware is explained rather than fatal.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pymeet.client import CONNECTION_RESTORED, MeetingClient
from pymeet.client.media import (
    PRESETS,
    CameraSource,
    MediaEngine,
    MediaTransport,
    MicrophoneSource,
    RecordingSink,
    SpeakerSink,
    SyntheticCamera,
    ToneSource,
    encode_jpeg,
    read_marker,
)
from pymeet.protocol.media_packet import Kind
from pymeet.protocol.video_fragmenter import VideoPacketizer
from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout
from tests.support.udp_proxy import Impairment, UdpImpairmentProxy

PASSWORD = "correct horse battery"
SAMPLE_RATE = 16_000
MEDIA_KINDS = frozenset({Kind.AUDIO, Kind.VIDEO})


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


# -- analysis helpers -------------------------------------------------------------------


def tone_strengths(samples: np.ndarray[Any, Any], frequencies: list[float]) -> dict[float, float]:
    """Spectral magnitude (Hann window, normalised) within ±8 Hz of each frequency."""
    signal = samples.astype(np.float64)
    if signal.size < 1600:
        return dict.fromkeys(frequencies, 0.0)
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size))) / signal.size
    bins = np.fft.rfftfreq(signal.size, 1 / SAMPLE_RATE)
    return {f: float(spectrum[(bins > f - 8) & (bins < f + 8)].max()) for f in frequencies}


def assert_tones(samples: np.ndarray[Any, Any], present: list[float], absent: list[float],
                 what: str) -> None:
    strengths = tone_strengths(samples, present + absent)
    weakest = min(strengths[f] for f in present)
    assert weakest > 100, f"{what}: expected tones {present} missing: {strengths}"
    for f in absent:
        assert strengths[f] < 0.02 * weakest, f"{what}: tone {f} Hz should be absent: {strengths}"


# -- participants -----------------------------------------------------------------------


@dataclass
class Peer:
    """One participant: a logged-in client, its engine, and everything it received."""

    name: str
    sender_id: int
    tone: float
    client: MeetingClient
    engine: MediaEngine
    recording: RecordingSink
    frames: dict[str, list[tuple[int, int, int]]] = field(
        default_factory=lambda: defaultdict(list))  # sender -> [(frame_id, number, sender id)]
    loudest: dict[str, float] = field(default_factory=dict)  # sender -> peak level heard
    unreadable_frames: int = 0
    unknown_senders: int = 0

    def on_level(self, username: str | None, level: float, speaking: bool) -> None:
        if username is not None:
            self.loudest[username] = max(level, self.loudest.get(username, 0.0))

    def on_frame(self, username: str | None, ssrc: int, image: Any, frame_id: int) -> None:
        if username is None:
            self.unknown_senders += 1
            return
        marker = read_marker(image)
        if marker is None:
            self.unreadable_frames += 1
            return
        self.frames[username].append((frame_id, *marker))

    def frames_from(self, other: Peer) -> list[tuple[int, int, int]]:
        return self.frames.get(other.name, [])

    def stream_of(self, other: Peer) -> dict[str, Any]:
        """This peer's receive stats for ``other`` ({} when nothing arrived)."""
        return self.stream_named(other.name)

    def stream_named(self, username: str) -> dict[str, Any]:
        """This peer's receive stats for ``username`` ({} when nothing arrived)."""
        for stream in self.engine.snapshot()["streams"].values():
            if stream["username"] == username:
                return dict(stream)
        return {}


PeerFactory = Callable[..., Awaitable[Peer]]


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the whole module; every test uses its own users and rooms."""
    server = ServerProcess(tmp_path_factory.mktemp("media")).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def pins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "known_servers.json"
    monkeypatch.setenv("PYMEET_KNOWN_SERVERS", str(path))
    return path


@pytest.fixture
async def make_peer(media_server: ServerProcess) -> AsyncIterator[PeerFactory]:
    """Register, log in, join ``room`` and start an engine with synthetic media."""
    made: list[Peer] = []

    async def make(room: str, sender_id: int, tone: float, *,
                   media_address: tuple[str, int] | None = None,
                   server: ServerProcess | None = None, **engine_options: Any) -> Peer:
        name = unique(f"p{sender_id}_")
        server = server or media_server
        async with asyncio.timeout(timeout(20)):
            client = await MeetingClient.connect(server.host, server.port)
            await client.register(name, f"{name}@example.org", PASSWORD)
            await client.login(name, PASSWORD)
            try:
                await client.create_room(room)
            except Exception as exc:  # another peer created it first
                assert getattr(exc, "raw_code", None) == "room_exists", exc
            await client.join_room(room)
        recording = RecordingSink(max_seconds=30)
        engine_options.setdefault("video_source", SyntheticCamera(sender_id))
        engine_options.setdefault("audio_source", ToneSource(tone))
        engine_options.setdefault("video_preset", "low")
        engine = MediaEngine(client, speaker=recording, media_address=media_address,
                             **engine_options)
        peer = Peer(name, sender_id, tone, client, engine, recording)
        engine.on_frame = peer.on_frame
        engine.on_audio_level = peer.on_level
        made.append(peer)
        await engine.start()
        return peer

    yield make
    for peer in made:
        try:
            async with asyncio.timeout(timeout(10)):
                await peer.engine.stop()
        finally:
            await peer.client.close()


async def eventually(condition: Callable[[], bool], seconds: float, what: str,
                     details: Callable[[], Any] = lambda: None) -> None:
    """Wait until ``condition()`` holds; fail with ``what`` and ``details()`` otherwise."""
    try:
        async with asyncio.timeout(timeout(seconds)):
            while not condition():  # noqa: ASYNC110 - polling state owned by the engines
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}: {details()}")


async def start_sending(*peers: Peer) -> None:
    for peer in peers:
        assert await peer.engine.set_cam(True), peer.engine.problems
        assert await peer.engine.set_mic(True), peer.engine.problems


def assert_video_from(receiver: Peer, sender: Peer) -> None:
    """Every frame shown came whole from ``sender``, in order."""
    frames = receiver.frames_from(sender)
    assert frames, f"{receiver.name} saw no frame from {sender.name}"
    assert {sender_id for _, _, sender_id in frames} == {sender.sender_id}
    frame_ids = [frame_id for frame_id, _, _ in frames]
    numbers = [number for _, number, _ in frames]
    assert frame_ids == sorted(set(frame_ids)), "frame ids must only move forward"
    assert numbers == sorted(set(numbers)), "frame numbers must only move forward"


def has_frames(receiver: Peer, senders: list[Peer], count: int) -> bool:
    return all(len(receiver.frames_from(sender)) >= count for sender in senders)


# -- tests ------------------------------------------------------------------------------


async def test_three_peers_see_and_hear_each_other_and_nothing_leaks(
        make_peer: PeerFactory) -> None:
    room, other_room = unique("media "), unique("elsewhere ")
    a = await make_peer(room, 101, 440.0)
    b = await make_peer(room, 102, 660.0)
    c = await make_peer(room, 103, 880.0)
    outsider = await make_peer(other_room, 104, 1100.0)
    trio = [a, b, c]
    await start_sending(a, b, c, outsider)

    def everyone_has_everything() -> bool:
        return all(has_frames(p, [q for q in trio if q is not p], 15)
                   and p.recording.duration >= 2.0 for p in trio)

    await eventually(everyone_has_everything, 20, "three-way video and audio",
                     lambda: {p.name: {k: len(v) for k, v in p.frames.items()} for p in trio})

    tones = [p.tone for p in trio]
    for receiver in trio:
        others = [p for p in trio if p is not receiver]
        for sender in others:
            assert_video_from(receiver, sender)
        # Nothing comes back to the sender, nothing crosses rooms.
        assert set(receiver.frames) == {p.name for p in others}
        assert receiver.unreadable_frames == 0 and receiver.unknown_senders == 0
        assert receiver.engine.transport.counters["drop_own_ssrc"] == 0
        ssrcs = set(receiver.engine.snapshot()["streams"])
        assert ssrcs == {p.engine.transport.ssrc for p in others}
        assert_tones(receiver.recording.samples(1.5),
                     present=[p.tone for p in others],
                     absent=[receiver.tone, outsider.tone], what=receiver.name)
        assert receiver.engine.snapshot()["send"]["video_frames"] > 0

    # The outsider, alone in its room, receives nothing at all, while sending.
    assert outsider.frames == {}
    assert outsider.engine.snapshot()["streams"] == {}
    assert outsider.recording.frames_written > 50
    assert not outsider.recording.samples().any()
    assert outsider.engine.snapshot()["send"]["audio_packets"] > 50
    assert sorted(tones) == [440.0, 660.0, 880.0]

    # Camera off: a's video stops arriving while its audio keeps coming.
    assert await a.engine.set_cam(False) is False
    sent_video = a.engine.snapshot()["send"]["video_packets"]
    await asyncio.sleep(0.3)  # whatever was in flight lands
    video_before = {p.name: p.stream_of(a)["video_packets"] for p in (b, c)}
    audio_before = b.stream_of(a)["audio_packets"]
    await eventually(lambda: b.stream_of(a)["audio_packets"] >= audio_before + 50, 10,
                     "a's audio after its camera went off")
    assert {p.name: p.stream_of(a)["video_packets"] for p in (b, c)} == video_before
    assert a.engine.snapshot()["send"]["video_packets"] == sent_video
    assert b.client.members[a.name]["cam"] is False

    # Microphone off: b's audio stops arriving (and leaves the mix) while its video goes on.
    assert await b.engine.set_mic(False) is False
    await asyncio.sleep(0.3)
    audio_before_b = {p.name: p.stream_of(b)["audio_packets"] for p in (a, c)}
    frames_before = len(a.frames_from(b))
    await eventually(lambda: len(a.frames_from(b)) >= frames_before + 8, 10,
                     "b's video after its microphone went off")
    assert {p.name: p.stream_of(b)["audio_packets"] for p in (a, c)} == audio_before_b
    assert a.client.members[b.name]["mic"] is False
    assert_tones(a.recording.samples(0.5), present=[c.tone], absent=[b.tone],
                 what=f"{a.name} after b muted")


async def test_impaired_network_skips_broken_frames_and_shows_whole_ones(
        make_peer: PeerFactory, media_server: ServerProcess) -> None:
    """Drops, duplicates, reordering, corruption and truncation in both directions
    between one peer and the server: only whole, authentic frames are shown."""
    room = unique("lossy ")
    bad = Impairment(drop=0.05, duplicate=0.05, reorder=0.05, corrupt=0.04, truncate=0.02,
                     kinds=MEDIA_KINDS)
    proxy = UdpImpairmentProxy((media_server.host, media_server.udp_port),
                               upstream=bad, downstream=bad, seed=20240611)
    await proxy.start()
    try:
        lossy = await make_peer(room, 201, 440.0, media_address=proxy.address)
        clean = await make_peer(room, 202, 660.0)
        await start_sending(lossy, clean)

        def damage_seen() -> bool:
            down = lossy.engine.transport.counters
            lossy_video = lossy.engine.video_counters()
            clean_video = clean.engine.video_counters()
            return (has_frames(lossy, [clean], 20) and has_frames(clean, [lossy], 20)
                    and down["drop_bad_tag"] + down["drop_truncated"] > 0
                    and down["drop_replayed"] > 0
                    and lossy_video.get("expired", 0) + lossy_video.get("superseded", 0) > 0
                    and clean_video.get("expired", 0) + clean_video.get("superseded", 0) > 0
                    and lossy.recording.duration >= 2 and clean.recording.duration >= 2)

        await eventually(damage_seen, 30, "frames through the lossy path, and damage counted",
                         lambda: (dict(proxy.counters), dict(lossy.engine.transport.counters),
                                  lossy.engine.video_counters(), clean.engine.video_counters()))
        assert lossy.engine.path == "udp"  # pings were spared: no tunnel fallback
        for receiver, sender in ((lossy, clean), (clean, lossy)):
            assert_video_from(receiver, sender)
            assert receiver.unreadable_frames == 0  # nothing half-broken was shown
            assert receiver.engine.running
        assert proxy.counters["up_corrupted"] > 0 and proxy.counters["down_dropped"] > 0
        # The server refused what was corrupted on the way up (§4.3 step 2).
        stats = await clean.client.request("stats")
        dropped = stats["relay"]["dropped"]
        assert dropped.get("bad_tag", 0) + dropped.get("truncated", 0) > 0, dropped
        assert_tones(lossy.recording.samples(1.5), [clean.tone], [lossy.tone], lossy.name)
        assert_tones(clean.recording.samples(1.5), [lossy.tone], [clean.tone], clean.name)
    finally:
        proxy.close()


async def test_blocked_udp_falls_back_to_the_tunnel_and_back(
        make_peer: PeerFactory, media_server: ServerProcess) -> None:
    room = unique("tunnel ")
    # A port where nothing answers: bound, never read.
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    proxy = UdpImpairmentProxy((media_server.host, media_server.udp_port))
    await proxy.start()
    proxy.blocked = True
    try:
        direct = await make_peer(room, 301, 440.0)
        walled = await make_peer(room, 302, 660.0, media_address=sink.getsockname())
        firewalled = await make_peer(room, 303, 880.0, media_address=proxy.address)
        trio = [direct, walled, firewalled]
        await start_sending(*trio)
        await eventually(lambda: walled.engine.path == "tunnel"
                         and firewalled.engine.path == "tunnel", 15, "tunnel fallback")

        def all_flowing() -> bool:
            return all(has_frames(p, [q for q in trio if q is not p], 10)
                       and p.recording.duration >= 2 for p in trio)

        await eventually(all_flowing, 20, "media through the tunnel",
                         lambda: {p.name: {k: len(v) for k, v in p.frames.items()}
                                  for p in trio})
        for receiver in trio:
            for sender in trio:
                if sender is not receiver:
                    assert_video_from(receiver, sender)
            assert_tones(receiver.recording.samples(1.5),
                         [p.tone for p in trio if p is not receiver], [receiver.tone],
                         receiver.name)
        counters = walled.engine.transport.counters
        assert counters["sent_tunnel"] > 0 and counters["received_tunnel"] > 0
        assert counters["received_udp"] == 0
        assert direct.engine.path == "udp"

        # UDP comes back for one of them: a UDP pong moves its media back to UDP.
        proxy.blocked = False
        await eventually(lambda: firewalled.engine.path == "udp", 10, "the return to UDP")
        received_udp = firewalled.engine.transport.counters["received_udp"]
        frames = len(firewalled.frames_from(direct))
        await eventually(
            lambda: firewalled.engine.transport.counters["received_udp"] > received_udp + 50
            and len(firewalled.frames_from(direct)) > frames + 5, 10, "media over UDP again")
        assert walled.engine.path == "tunnel"
        # One seq counter for every packet sealed, whatever its kind (§4.2).
        ssrc = firewalled.engine.transport.ssrc
        sent = [(kind, seq) for direction, kind, sender, seq in proxy.headers
                if direction == "up" and sender == ssrc]
        seqs = [seq for _, seq in sent]
        assert len(seqs) == len(set(seqs)) > 100
        assert {kind for kind, _ in sent} == {Kind.PING, Kind.AUDIO, Kind.VIDEO}
    finally:
        proxy.close()
        sink.close()


async def test_without_hardware_the_engine_explains_and_keeps_receiving(
        make_peer: PeerFactory) -> None:
    """Unusable camera, microphone and speaker: clear reasons, and media still arrives."""
    room = unique("bare ")
    talker = await make_peer(room, 401, 440.0)
    bare = await make_peer(room, 402, 660.0, video_source=CameraSource(63),
                           audio_source=MicrophoneSource(device_index=10_000))
    bare.engine.speaker = SpeakerSink(device_index=10_000)
    # A speaker is opened at start: show that a failing one is reported, not fatal.
    await bare.engine.stop()
    await bare.engine.start()
    await start_sending(talker)
    assert await bare.engine.set_cam(True) is False
    assert await bare.engine.set_mic(True) is False
    problems = bare.engine.problems
    assert set(problems) == {"camera", "microphone", "speaker"}, problems
    assert "camera 63" in problems["camera"]
    assert "audio device #10000" in problems["microphone"] or \
        "no audio input device" in problems["microphone"]
    assert "audio device #10000" in problems["speaker"] or \
        "no audio output device" in problems["speaker"]
    levels: list[tuple[str | None, float, bool]] = []
    bare.engine.on_audio_level = lambda user, level, speaking: levels.append(
        (user, level, speaking))
    await eventually(lambda: has_frames(bare, [talker], 10)
                     and any(user == talker.name and speaking for user, _, speaking in levels),
                     15, "media from the talker despite no local devices")
    assert_video_from(bare, talker)
    assert talker.stream_of(bare) == {}  # and it sends nothing
    assert talker.client.members[bare.name]["cam"] is False


async def test_frames_that_do_not_decode_are_skipped_and_counted(
        make_peer: PeerFactory, media_server: ServerProcess) -> None:
    """Whole frames that are not decodable JPEG (sent by a raw transport, as a broken
    client would) are skipped and counted; the good frames around them are shown."""
    room = unique("garbled ")
    viewer = await make_peer(room, 701, 440.0)
    name = unique("raw_")
    client = await MeetingClient.connect(media_server.host, media_server.port)
    transport = MediaTransport(client, lambda *_: None)
    try:
        async with asyncio.timeout(timeout(20)):
            await client.register(name, f"{name}@example.org", PASSWORD)
            await client.login(name, PASSWORD)
            await client.join_room(room)
            await client.update_media(mic=False, cam=True)
        await transport.start()
        await eventually(lambda: transport.rtt is not None, 10, "a pong (address bound)")
        camera = SyntheticCamera(702)
        good: list[bytes] = []
        for _ in range(3):
            jpeg = encode_jpeg(camera.read(), PRESETS["low"])
            assert jpeg is not None
            good.append(jpeg)
        broken = [b"not a jpeg at all " * 200, good[1][:len(good[1]) // 2],
                  b"\xff\xd8" + bytes(3000)]
        jpegs = [broken[0], good[0], broken[1], good[1], broken[2], good[2]]
        packetizer = VideoPacketizer(transport.ssrc, transport.next_seq)
        for jpeg in jpegs:
            for header, payload in packetizer.packetize(jpeg, 0):
                assert transport.send(header, payload)
            await asyncio.sleep(0.05)
        await eventually(lambda: len(viewer.frames.get(name, [])) == 3
                         and viewer.engine.video_counters().get("decode_failed") == 3, 10,
                         "three good frames shown and three bad ones counted",
                         lambda: (viewer.frames.get(name), viewer.engine.video_counters()))
        assert [(number, sender) for _, number, sender in viewer.frames[name]] == [
            (0, 702), (1, 702), (2, 702)]
        assert viewer.engine.video_counters()["frames_completed"] == 6
        assert viewer.unreadable_frames == 0
    finally:
        await transport.stop()
        await client.close()


async def test_media_resumes_with_new_keys_after_a_reconnect(
        make_peer: PeerFactory, server_factory: Callable[..., ServerProcess],
        tmp_path: Path) -> None:
    """The server restarts: both clients log in again (new ssrc and key), the engines
    pick them up, and video and audio flow again."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = await asyncio.to_thread(server_factory, "--port", str(port))
    room = unique("phoenix ")
    a = await make_peer(room, 801, 440.0, server=server)
    b = await make_peer(room, 802, 660.0, server=server)
    await start_sending(a, b)
    await eventually(lambda: has_frames(a, [b], 5) and has_frames(b, [a], 5), 15,
                     "media before the restart")
    old = {p.name: p.engine.transport.ssrc for p in (a, b)}
    restored = {p.name: asyncio.Event() for p in (a, b)}
    for p in (a, b):
        event = restored[p.name]

        def on_restored(_event: dict[str, Any], event: asyncio.Event = event) -> None:
            event.set()

        p.client.on(CONNECTION_RESTORED, on_restored)

    await asyncio.to_thread(server.stop)
    await asyncio.to_thread(server.start)
    async with asyncio.timeout(timeout(30)):
        for waiting in restored.values():
            await waiting.wait()
    # New ssrc and key, and UDP to the media port the restarted server chose.
    await eventually(lambda: all(p.client.media is not None
                                 and p.engine.transport.ssrc == p.client.media.ssrc
                                 and p.engine.transport.udp_target
                                 == (server.host, server.udp_port)
                                 for p in (a, b)), 10, "the engines to take the new keys")
    assert all(p.engine.transport.ssrc != old[p.name] for p in (a, b))
    counts = {p.name: len(p.frames_from(q)) for p, q in ((a, b), (b, a))}
    a.recording.clear()
    b.recording.clear()
    await eventually(lambda: len(a.frames_from(b)) >= counts[a.name] + 10
                     and len(b.frames_from(a)) >= counts[b.name] + 10
                     and a.recording.duration >= 1.5 and b.recording.duration >= 1.5, 20,
                     "media after the reconnect")
    assert a.engine.mic and a.engine.cam and b.client.members[a.name]["cam"] is True
    for receiver, sender in ((a, b), (b, a)):
        assert_video_from(receiver, sender)
        assert sender.engine.transport.ssrc in receiver.engine.snapshot()["streams"]
        assert_tones(receiver.recording.samples(1.0), [sender.tone], [receiver.tone],
                     receiver.name)


# -- through the command line: real PyAudio, no hardware, two bots ----------------------


def bot_command(server: ServerProcess, user: str, room: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pymeet", "bot", "--server", f"{server.host}:{server.port}",
            "--user", user, "--register", "--email", f"{user}@example.org", "--room", room,
            "--trust", "--stats-interval", "1", *extra]


def bot_env(tmp_path: Path, home: Path | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ, PYMEET_PASSWORD=PASSWORD, PYTHONUNBUFFERED="1",
               PYMEET_KNOWN_SERVERS=str(tmp_path / f"pins-{uuid.uuid4().hex[:6]}.json"))
    if home is not None:
        env["HOME"] = str(home)
        env.pop("XDG_CONFIG_HOME", None)
    env.update(extra)
    return env


async def run_bot(command: list[str], env: dict[str, str], seconds: float) -> str:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env)
    try:
        async with asyncio.timeout(timeout(seconds)):
            output, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
        pytest.fail(f"bot did not finish:\n{output.decode(errors='replace')}")
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    return text


PEER_LINE = re.compile(r"peer (?P<name>\S+): video [\d.]+ fps, frame (?P<frame>\d+) "
                       r"\(sender id (?P<sender>\d+)\).*\| audio (?P<db>-?[\d.]+) dBFS")


def peer_reports(output: str, name: str) -> list[tuple[int, int, float]]:
    """(frame number, sender id, dBFS) from each stats line about ``name``."""
    return [(int(m["frame"]), int(m["sender"]), float(m["db"]))
            for m in PEER_LINE.finditer(output) if m["name"] == name]


ASOUNDRC = """
pcm.!default {{
    type asym
    capture.pcm "pymeet_capture"
    playback.pcm "pymeet_playback"
}}
pcm.pymeet_capture {{
    type plug
    slave.pcm {{ type file  slave.pcm "null"  file "/dev/null"  infile "{infile}"  format "raw" }}
}}
pcm.pymeet_playback {{
    type plug
    slave.pcm {{ type file  slave.pcm "null"  file "{outfile}"  format "raw" }}
}}
"""


async def test_real_pyaudio_through_alsa_files(
        make_peer: PeerFactory, media_server: ServerProcess, tmp_path: Path) -> None:
    """A bot captures with PyAudio from an ALSA file (a 500 Hz tone) and plays with
    PyAudio into another file; a peer hears the 500 Hz and the file holds the peer's
    880 Hz (TESTING.md, "PyAudio without a sound card")."""
    home = tmp_path / "home"
    home.mkdir()
    infile, outfile = tmp_path / "mic.raw", tmp_path / "speaker.raw"
    t = np.arange(SAMPLE_RATE * 30) / SAMPLE_RATE
    (np.sin(2 * np.pi * 500 * t) * 9000).astype("<i2").tofile(infile)
    (home / ".asoundrc").write_text(ASOUNDRC.format(infile=infile, outfile=outfile))
    room = unique("alsa ")
    listener = await make_peer(room, 501, 880.0)
    await start_sending(listener)
    user = unique("alsa_")
    output = await run_bot(
        bot_command(media_server, user, room, "--microphone", "--speaker", "--duration", "5"),
        bot_env(tmp_path, home), 40)
    assert "unavailable" not in output, output
    assert "audio: microphone" in output, output
    # The peer heard what PyAudio captured from the ALSA file.
    assert listener.loudest.get(user, 0.0) > 0.1, listener.loudest
    assert_tones(listener.recording.samples(), [500.0], [880.0], "peer of the ALSA bot")
    # What PyAudio played went into the ALSA output file.
    played = np.fromfile(outfile, dtype="<i2")
    assert played.size > SAMPLE_RATE, f"only {played.size} samples played"
    assert_tones(played[-SAMPLE_RATE * 2:], [880.0], [500.0], "ALSA playback file")


async def test_bot_without_hardware_reports_it_and_still_receives(
        make_peer: PeerFactory, media_server: ServerProcess, tmp_path: Path) -> None:
    """A camera, microphone and speaker that cannot be had (on this kind of machine: no
    sound card at all): the bot says so in one line each, and still shows a peer's
    frames and level."""
    room = unique("nohw ")
    talker = await make_peer(room, 601, 440.0)
    await start_sending(talker)
    user = unique("nohw_")
    output = await run_bot(
        bot_command(media_server, user, room, "--camera", "63", "--microphone", "10000",
                    "--speaker", "10000", "--duration", "4"),
        bot_env(tmp_path, tmp_path), 40)
    assert re.search(r"unavailable: camera: camera 63 could not be opened", output), output
    assert re.search(r"unavailable: microphone: (no audio input device|audio device #10000 "
                     r"does not exist)", output), output
    assert re.search(r"unavailable: speaker: (no audio output device|audio device #10000 "
                     r"does not exist)", output), output
    assert "sending nothing" in output
    reports = peer_reports(output, talker.name)
    assert reports, output
    assert all(sender == talker.sender_id for _, sender, _ in reports)
    assert max(db for _, _, db in reports) > -40, output
    assert user not in talker.loudest and user not in talker.frames  # it sent nothing


async def test_two_bots_show_each_other(media_server: ServerProcess, tmp_path: Path) -> None:
    room = unique("bots ")
    users = [unique("bot_a_"), unique("bot_b_")]
    commands = [
        bot_command(media_server, users[0], room, "--synthetic-video", "--sender-id", "7001",
                    "--tone", "440", "--duration", "5"),
        bot_command(media_server, users[1], room, "--synthetic-video", "--sender-id", "7002",
                    "--tone", "660", "--duration", "5"),
    ]
    outputs = await asyncio.gather(*(run_bot(command, bot_env(tmp_path), 40)
                                      for command in commands))
    for output, other, other_id in ((outputs[0], users[1], 7002), (outputs[1], users[0], 7001)):
        reports = peer_reports(output, other)
        assert len(reports) >= 2, output
        frames = [frame for frame, _, _ in reports]
        assert frames == sorted(frames) and frames[-1] > frames[0], output
        assert {sender for _, sender, _ in reports} == {other_id}, output
        assert max(db for _, _, db in reports) > -40, output
        assert "path=udp" in output
