"""Unit tests of the browser client's pure modules, run inside Chromium.

Each test imports a module of src/pymeet/server/web/static/ with `import()` in a blank
page, feeds it synthetic input and checks the output here, with numpy, so the
analysis does not share code with what it checks.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import numpy as np
import pytest
from playwright.async_api import Page

from pymeet.protocol import validation
from pymeet.protocol.errors import InvalidField

pytestmark = pytest.mark.asyncio(loop_scope="module")

RESAMPLE_JS = """
async ({inputRate, outputRate, frequency, amplitude, seconds, chunk}) => {
  const { Resampler } = await import('/static/resampler.js');
  const resampler = new Resampler(inputRate, outputRate);
  const n = Math.round(inputRate * seconds);
  const input = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    input[i] = amplitude * Math.sin(2 * Math.PI * frequency * i / inputRate);
  }
  const out = [];
  for (let i = 0; i < n; i += chunk) out.push(...resampler.process(input.subarray(i, i + chunk)));
  return { samples: out, delay: resampler.delaySeconds };
}
"""


async def resample(page: Page, input_rate: int, output_rate: int, frequency: float,
                   amplitude: float = 0.5, seconds: float = 1.0,
                   chunk: int = 128) -> tuple[np.ndarray[Any, Any], float]:
    result = await page.evaluate(RESAMPLE_JS, {
        "inputRate": input_rate, "outputRate": output_rate, "frequency": frequency,
        "amplitude": amplitude, "seconds": seconds, "chunk": chunk})
    return np.asarray(result["samples"], dtype=np.float64), float(result["delay"])


def spectrum_peak(samples: np.ndarray[Any, Any], rate: int) -> tuple[float, float]:
    """(frequency of the strongest component, its amplitude), from a windowed FFT."""
    window = np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(samples * window)) * 2 / window.sum()
    peak = int(np.argmax(spectrum))
    return peak * rate / len(samples), float(spectrum[peak])


def steady(samples: np.ndarray[Any, Any], rate: int) -> np.ndarray[Any, Any]:
    """The samples after the filter has settled (skip 50 ms) and before the end."""
    return samples[rate // 20:]


@pytest.mark.parametrize("input_rate", [48000, 44100])
async def test_resampler_down_to_16k_keeps_frequency_and_amplitude(
        unit_page: Page, input_rate: int) -> None:
    samples, _ = await resample(unit_page, input_rate, 16000, 1000.0, amplitude=0.5)
    assert len(samples) == 16000  # one second in, one second out
    settled = steady(samples, 16000)
    frequency, amplitude = spectrum_peak(settled, 16000)
    assert abs(frequency - 1000.0) <= 2.0
    assert amplitude == pytest.approx(0.5, rel=0.02)
    # A pure tone: peak amplitude of the waveform matches too (no ripple, no gain error).
    assert np.max(np.abs(settled)) == pytest.approx(0.5, rel=0.02)


async def test_resampler_removes_tones_above_8k_instead_of_aliasing(unit_page: Page) -> None:
    # Naive 3:1 decimation would fold 10 kHz at 48 kHz onto 6 kHz at full level.
    samples, _ = await resample(unit_page, 48000, 16000, 10000.0, amplitude=0.5)
    settled = steady(samples, 16000)
    rms = float(np.sqrt(np.mean(settled ** 2)))
    assert rms < 0.5 / np.sqrt(2) * 10 ** (-60 / 20)  # at least 60 dB down
    _, alias = spectrum_peak(settled, 16000)
    assert alias < 1e-3


async def test_resampler_up_from_16k_keeps_the_tone(unit_page: Page) -> None:
    samples, delay = await resample(unit_page, 16000, 48000, 1000.0, amplitude=0.3)
    assert len(samples) == 48000
    frequency, amplitude = spectrum_peak(steady(samples, 48000), 48000)
    assert abs(frequency - 1000.0) <= 2.0
    assert amplitude == pytest.approx(0.3, rel=0.02)
    assert 0 < delay < 0.01  # linear phase: a small, fixed delay


async def test_resampler_output_does_not_depend_on_chunk_size(unit_page: Page) -> None:
    whole, _ = await resample(unit_page, 44100, 16000, 440.0, seconds=0.25, chunk=11025)
    pieces, _ = await resample(unit_page, 44100, 16000, 440.0, seconds=0.25, chunk=97)
    assert len(whole) == len(pieces)
    np.testing.assert_allclose(whole, pieces, atol=1e-6)


JITTER_JS = """
async ({pushes, pops, options}) => {
  // pushes: [[frameIndex, arrivalMs], ...] where frame k has timestamp base + 320 k and
  // all its samples equal to 1000 + k (loud enough not to count as a pause);
  // pops: times (ms) of the playout ticks.
  const { JitterBuffer } = await import('/static/jitter-buffer.js');
  const buffer = new JitterBuffer(options);
  const base = options.base ?? 1000;
  const events = [];
  for (const [k, t] of pushes) events.push({ t, push: k });
  for (const t of pops) events.push({ t, pop: true });
  events.sort((a, b) => a.t - b.t || (a.push !== undefined ? -1 : 1));
  const results = [];
  const played = [];
  for (const event of events) {
    if (event.push !== undefined) {
      const samples = new Int16Array(320).fill(1000 + event.push);
      const timestamp = (base + 320 * event.push) % 2 ** 32;
      results.push([event.push, buffer.push(timestamp, samples, event.t)]);
    } else {
      const frame = buffer.pop(event.t);
      played.push(frame === null ? null : Array.from(new Set(frame)));
    }
  }
  return { results, played, stats: buffer.stats, target: buffer.targetDelayMs };
}
"""


async def run_jitter(page: Page, pushes: list[tuple[int, float]], pops: list[float],
                     **options: Any) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(
        JITTER_JS, {"pushes": pushes, "pops": pops, "options": options})
    return result


def played_frames(played: list[list[int] | None]) -> list[int | None]:
    """Each played frame as its frame number (samples 1000 + k), concealment as -value."""
    out: list[int | None] = []
    for values in played:
        if values is None:
            out.append(None)
        elif len(values) == 1 and values[0] >= 1000:
            out.append(values[0] - 1000)
        else:
            out.append(-values[0])
    return out


async def test_jitter_buffer_plays_reordered_frames_in_timestamp_order(unit_page: Page) -> None:
    order = [0, 2, 1, 3, 5, 4, 6, 7, 9, 8]
    pushes = [(k, 20.0 * i) for i, k in enumerate(order)]
    pops = [100.0 + 20 * i for i in range(12)]
    result = await run_jitter(unit_page, pushes, pops)
    # Reordering raised the jitter estimate, so the buffer may stretch (repeat) a frame
    # to deepen its delay: those are concealment frames (negative); the real ones keep order.
    frames = [f for f in played_frames(result["played"]) if f is not None and f >= 0]
    assert frames == list(range(10))
    assert result["stats"]["played"] == 10
    assert result["stats"]["lost"] == 0


async def test_jitter_buffer_conceals_a_lost_frame_with_a_fading_copy(unit_page: Page) -> None:
    pushes = [(k, 20.0 * k) for k in range(10) if k != 4]
    pops = [60.0 + 20 * i for i in range(10)]
    result = await run_jitter(unit_page, pushes, pops, minDelayMs=40)
    frames = played_frames(result["played"])
    started = [f for f in frames if f is not None]
    # Frame 4 is replaced by frame 3 at 80 % (1003 * 0.8 = 802), then playback goes on.
    assert started[:6] == [0, 1, 2, 3, -802, 5]
    assert result["stats"]["lost"] == 1
    assert result["stats"]["concealed"] >= 1


async def test_jitter_buffer_drops_late_and_duplicate_frames(unit_page: Page) -> None:
    pushes = [(0, 0.0), (1, 20.0), (2, 40.0), (3, 60.0), (2, 61.0), (1, 200.0)]
    pops = [45.0, 65.0, 85.0, 105.0]
    result = await run_jitter(unit_page, pushes, pops, minDelayMs=40)
    outcomes = [outcome for _, outcome in result["results"]]
    assert outcomes[:4] == ["buffered"] * 4
    assert outcomes[4] == "duplicate"
    assert outcomes[5] == "late"  # frame 1 was played long ago
    assert [f for f in played_frames(result["played"]) if f is not None] == [0, 1, 2, 3]


async def test_jitter_buffer_unwraps_timestamps_across_2_to_the_32(unit_page: Page) -> None:
    base = 2**32 - 3 * 320  # frames 3 and later wrap around to small timestamps
    pushes = [(k, 20.0 * k) for k in (0, 1, 2, 4, 3, 5, 6, 7)]
    pops = [60.0 + 20 * i for i in range(10)]
    result = await run_jitter(unit_page, pushes, pops, base=base)
    assert [f for f in played_frames(result["played"]) if f is not None] == list(range(8))


async def test_jitter_buffer_delay_adapts_to_jitter(unit_page: Page) -> None:
    rng = np.random.default_rng(1)
    steady_pushes = [(k, 20.0 * k) for k in range(100)]
    jittery_pushes = [(k, 20.0 * k + float(rng.uniform(0, 60))) for k in range(100)]
    pops = [100.0 + 20 * i for i in range(100)]
    calm = await run_jitter(unit_page, steady_pushes, pops)
    rough = await run_jitter(unit_page, jittery_pushes, pops)
    assert calm["target"] == pytest.approx(40.0)  # the minimum
    assert rough["target"] > calm["target"] + 20


async def test_media_header_round_trip_and_layout(unit_page: Page) -> None:
    result = await unit_page.evaluate("""
    async () => {
      const m = await import('/static/media-format.js');
      const pcm = new Int16Array(320);
      for (let i = 0; i < 320; i++) pcm[i] = ((i * 203) % 65536) - 32768;
      const audio = new Uint8Array(
        m.packMedia({ kind: 3, ssrc: 0, timestamp: 4294967295, seq: 65537 }, pcm));
      const jpeg = new Uint8Array([0xff, 0xd8, 1, 2, 3, 0xff, 0xd9]);
      const video = new Uint8Array(
        m.packMedia({ kind: 4, ssrc: 0xDEADBEEF, timestamp: 90000, seq: 7 }, jpeg));
      const a = m.unpackMedia(audio.buffer);
      const v = m.unpackMedia(video);
      const errors = [];
      const bads = [
        new Uint8Array(12),                               // shorter than the header
        new Uint8Array([5, ...new Uint8Array(20)]),       // kind 5
        new Uint8Array([3, ...new Uint8Array(12 + 639)]), // audio of 639 bytes
        new Uint8Array(13).fill(4, 0, 1),                 // video without a JPEG
      ];
      for (const bad of bads) {
        try { m.unpackMedia(bad); errors.push(null); } catch (e) { errors.push(e.reason); }
      }
      return {
        audio: Array.from(audio), video: Array.from(video),
        a: { kind: a.kind, ssrc: a.ssrc, timestamp: a.timestamp, seq: a.seq,
             samples: Array.from(m.littleEndianToInt16(a.payload)) },
        v: { kind: v.kind, ssrc: v.ssrc, timestamp: v.timestamp, frameId: v.frameId,
             payload: Array.from(v.payload) },
        errors,
      };
    }
    """)
    header = struct.Struct(">BIII")
    samples = [((i * 203) % 65536) - 32768 for i in range(320)]
    expected_audio = header.pack(3, 0, 2**32 - 1, 65537) + struct.pack("<320h", *samples)
    assert bytes(result["audio"]) == expected_audio
    assert bytes(result["video"]) == header.pack(4, 0xDEADBEEF, 90000, 7) + bytes(
        [0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9])
    assert result["a"] == {"kind": 3, "ssrc": 0, "timestamp": 2**32 - 1, "seq": 65537,
                           "samples": samples}
    assert result["v"] == {"kind": 4, "ssrc": 0xDEADBEEF, "timestamp": 90000, "frameId": 7,
                           "payload": [0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9]}
    assert result["errors"] == ["truncated", "bad_kind", "bad_payload", "bad_payload"]


async def test_mixer_adds_speakers_without_wrapping(unit_page: Page) -> None:
    result = await unit_page.evaluate("""
    async () => {
      const { mixFrames, rmsLevel } = await import('/static/mixer.js');
      const loud = new Int16Array(320).fill(30000);
      const quiet = new Int16Array(320).fill(1000);
      return {
        one: Array.from(mixFrames([quiet]).slice(0, 2)),
        two: Array.from(mixFrames([loud, loud]).slice(0, 2)),
        none: Array.from(mixFrames([], 320)).every((v) => v === 0),
        level: rmsLevel(loud),
      };
    }
    """)
    assert result["one"] == pytest.approx([1000 / 32768] * 2)
    assert all(0.9 < v <= 1.0 for v in result["two"])  # limited, not wrapped negative
    assert result["none"] is True
    assert result["level"] == pytest.approx(30000 / 32768, rel=1e-6)


VALIDATION_CASES: dict[str, list[str]] = {
    "username": ["alice", "a_b.c-d", "ab", "_x1", ".bad", "x" * 32, "x" * 33, "ngọc", "bob smith"],
    "email": ["a@b.co", "a@b", "x y@b.co", "@b.co", f"{'a' * 64}@b.co", f"{'a' * 65}@b.co"],
    "password": ["1234567", "12345678", "mật khẩu dài", "x" * 128, "x" * 129],
    "room": ["Phòng họp 1", "Pho\u0300ng ho\u0323p 1", "Lounge", "a", " lead", "trail ", "x" * 40,
             "x" * 41, "r/d", "Đà Nẵng-2.0", "_team"],
    "text": ["hi", "  ", "", "line\nline\ttab", "bell\x07", "\r", "x" * 4000, "x" * 4001,
             "Xin chào 👋", "  padded  "],
    "login": ["alice", "a@b.co", "no way", "ngọc@ví-dụ.vn"],
}


def python_verdicts() -> dict[str, list[bool]]:
    checks = {
        "username": validation.check_username, "email": validation.check_email,
        "password": validation.check_password, "room": validation.check_room_name,
        "text": validation.check_text, "login": validation.check_login_identifier,
    }
    verdicts: dict[str, list[bool]] = {}
    for field, values in VALIDATION_CASES.items():
        verdicts[field] = []
        for value in values:
            try:
                checks[field](value)
            except InvalidField:
                verdicts[field].append(False)
            else:
                verdicts[field].append(True)
    return verdicts


async def test_validation_mirrors_the_server_rules(unit_page: Page) -> None:
    js = await unit_page.evaluate("""
    async (cases) => {
      const v = await import('/static/validation.js');
      const checks = { username: v.checkUsername, email: v.checkEmail, password: v.checkPassword,
                       room: v.checkRoomName, text: v.checkText, login: v.checkLoginIdentifier };
      const out = {};
      for (const [field, values] of Object.entries(cases)) {
        out[field] = values.map((x) => checks[field](x) === null);
      }
      return out;
    }
    """, VALIDATION_CASES)
    assert js == python_verdicts()


async def test_received_video_is_decoded_and_broken_frames_are_skipped(unit_page: Page) -> None:
    result = await unit_page.evaluate("""
    async () => {
      const { MediaEngine } = await import('/static/media.js');
      const { packMedia } = await import('/static/media-format.js');
      const session = { mic: false, cam: false, room: null, connected: false };
      const engine = new MediaEngine(session);
      const shown = [];
      engine.onVideoFrame = (ssrc, bitmap) => {
        shown.push([ssrc, bitmap.width, bitmap.height]);
        bitmap.close();
      };
      const canvas = new OffscreenCanvas(64, 48);
      const context = canvas.getContext('2d');
      context.fillStyle = '#3366cc';
      context.fillRect(0, 0, 64, 48);
      const blob = await canvas.convertToBlob({ type: 'image/jpeg' });
      const jpeg = new Uint8Array(await blob.arrayBuffer());
      const garbage = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5]);
      const incoming = (ssrc, payload) =>
        packMedia({ kind: 4, ssrc, timestamp: 0, seq: 1 }, payload);
      const until = async (condition) => {
        for (let i = 0; i < 250 && !condition(); i++) await new Promise((r) => setTimeout(r, 20));
      };
      engine.handleBinary(incoming(11, garbage));
      await until(() => engine.stats.videoDecodeFailed > 0);
      engine.handleBinary(incoming(11, jpeg));
      engine.handleBinary(new Uint8Array([9, 9, 9]).buffer);  // not a media message at all
      await until(() => shown.length > 0);
      return { shown, stats: engine.stats };
    }
    """)
    assert result["shown"] == [[11, 64, 48]]
    assert result["stats"]["videoReceived"] == 2
    assert result["stats"]["videoDecodeFailed"] == 1
    assert result["stats"]["videoDecoded"] == 1
    assert result["stats"]["badMessages"] == 1


async def test_rpc_channel_matches_replies_by_id_times_out_and_fails_pending_on_close(
        unit_page: Page) -> None:
    result = await unit_page.evaluate("""
    async () => {
      const { RpcChannel, RequestError, RequestTimeout, ConnectionClosed } =
        await import('/static/protocol.js');
      const sent = [];
      const socket = { send: (text) => sent.push(JSON.parse(text)), close() {} };
      const channel = new RpcChannel(socket, { requestTimeoutMs: 100 });
      const events = [];
      channel.on('presence', (event) => events.push(event));
      const first = channel.request('room.join', { room: 'Phòng họp 1' });
      const second = channel.request('ping');
      const lost = channel.request('user.list', {}, { timeoutMs: 50 });
      // Replies arrive out of order; an event arrives in between.
      const arrive = (message) => socket.onmessage({ data: JSON.stringify(message) });
      arrive({ type: 'reply', id: sent[1].id, ok: true, time: 5 });
      arrive({ type: 'presence', username: 'bob', online: true });
      arrive({ type: 'reply', id: sent[0].id, ok: false,
               error: { code: 'wrong_password', message: 'no', field: 'password' } });
      const outcome = async (promise) => {
        try { return { ok: await promise }; } catch (e) {
          return { error: e.constructor.name, code: e.code, field: e.field ?? null };
        }
      };
      const results = [await outcome(first), await outcome(second), await outcome(lost)];
      const pending = channel.request('room.list');
      socket.onclose({ code: 1006, reason: '' });
      results.push(await outcome(pending));
      results.push(await outcome(channel.request('ping')));
      return { sent, results, events };
    }
    """)
    ids = [message["id"] for message in result["sent"]]
    assert len(set(ids)) == len(ids) and all(isinstance(i, int) and i > 0 for i in ids)
    assert result["sent"][0] == {"type": "room.join", "id": ids[0], "room": "Phòng họp 1"}
    assert result["results"] == [
        {"error": "RequestError", "code": "wrong_password", "field": "password"},
        {"ok": {"time": 5}},
        {"error": "RequestTimeout", "code": "timeout", "field": None},
        {"error": "ConnectionClosed", "code": "connection_closed", "field": None},
        {"error": "ConnectionClosed", "code": "connection_closed", "field": None},
    ]
    assert result["events"] == [{"type": "presence", "username": "bob", "online": True}]


SHA256_VECTORS = {
    # FIPS 180-4 / NIST CAVS examples.
    "": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq":
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
    "lmnopqrsmnopqrstnopqrstu":
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
}


async def test_sha256_fallback_matches_the_standard_vectors(unit_page: Page) -> None:
    result = await unit_page.evaluate("""
    async (texts) => {
      const { sha256Hex, Sha256, toHex } = await import('/static/sha256.js');
      const encode = (text) => new TextEncoder().encode(text);
      const out = {};
      for (const text of texts) out[text] = sha256Hex(encode(text));
      // One million "a", fed in uneven pieces.
      const hash = new Sha256();
      const piece = encode('a'.repeat(9973));
      let left = 1000000;
      while (left > 0) {
        const n = Math.min(left, piece.length);
        hash.update(piece.subarray(0, n));
        left -= n;
      }
      out.million = toHex(hash.digest());
      return out;
    }
    """, list(SHA256_VECTORS))
    for text, digest in SHA256_VECTORS.items():
        assert result[text] == digest, text
    assert result["million"] == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"


async def test_sha256_fallback_agrees_with_python_and_subtle_for_any_length_and_chunking(
        unit_page: Page) -> None:
    rng = np.random.default_rng(7)
    # Lengths around the block (64) and padding (55, 56) edges, and a bigger one.
    lengths = [1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 65_537]
    blobs = [rng.integers(0, 256, size=n, dtype=np.uint8).tobytes() for n in lengths]
    result = await unit_page.evaluate("""
    async (blobs) => {
      const { Sha256, digestHex, sha256Hex, toHex } = await import('/static/sha256.js');
      const out = [];
      for (const list of blobs) {
        const bytes = new Uint8Array(list);
        // Chunks of 1, 3, 7, 64 and 100 bytes, in turn.
        const hash = new Sha256();
        const sizes = [1, 3, 7, 64, 100];
        const chunks = [];
        for (let i = 0, k = 0; i < bytes.length; k++) {
          const n = sizes[k % sizes.length];
          chunks.push(bytes.subarray(i, i + n));
          hash.update(bytes.subarray(i, i + n));
          i += n;
        }
        out.push({
          whole: sha256Hex(bytes),
          chunked: toHex(hash.digest()),
          fallback: await digestHex(chunks, { subtle: null }),
          subtle: await digestHex(chunks, { subtle: crypto.subtle }),
        });
      }
      let refused = null;
      const done = new Sha256();
      done.digest();
      try { done.update(new Uint8Array(1)); } catch (error) { refused = error.message; }
      return { out, refused, secure: window.isSecureContext };
    }
    """, [list(blob) for blob in blobs])
    assert result["secure"] is True  # 127.0.0.1 is a secure context: SubtleCrypto is there
    for blob, got in zip(blobs, result["out"], strict=True):
        expected = hashlib.sha256(blob).hexdigest()
        assert got == {"whole": expected, "chunked": expected, "fallback": expected,
                       "subtle": expected}, len(blob)
    assert result["refused"] and "finished" in result["refused"]


async def test_timeline_interleaves_files_with_messages_by_time(unit_page: Page) -> None:
    result = await unit_page.evaluate("""
    async () => {
      const { mergeTimeline } = await import('/static/timeline.js');
      const messages = [
        { id: 3, ts: 30, text: 'c' },
        { id: 1, ts: 10, text: 'a' },
        { id: 2, ts: 20, text: 'b' },
        { id: 4, ts: 25, text: 'late clock' },   // id order wins among messages
      ];
      const files = [
        { id: 'zz', ts: 20, name: 'same time as b' },
        { id: 'f0', ts: 5, name: 'first' },
        { id: 'f9', ts: 99, name: 'last' },
        { id: 'aa', ts: 20, name: 'same time, smaller id' },
        { id: 'f2', ts: 15, name: 'between a and b' },
      ];
      const before = JSON.stringify([messages, files]);
      const merged = mergeTimeline(messages, files);
      return {
        order: merged.map(({ kind, item }) => `${kind}:${item.id}`),
        unchanged: JSON.stringify([messages, files]) === before,
        onlyMessages: mergeTimeline(messages, []).map(({ item }) => item.id),
        onlyFiles: mergeTimeline([], files).map(({ item }) => item.id),
        empty: mergeTimeline([], []),
      };
    }
    """)
    assert result["order"] == [
        "file:f0", "message:1", "file:f2", "message:2", "file:aa", "file:zz", "message:3",
        "message:4", "file:f9"]
    assert result["unchanged"] is True
    assert result["onlyMessages"] == [1, 2, 3, 4]
    assert result["onlyFiles"] == ["f0", "f2", "aa", "zz", "f9"]
    assert result["empty"] == []


async def test_file_sizes_and_transfer_errors_read_well(unit_page: Page) -> None:
    result = await unit_page.evaluate("""
    async () => {
      const { humanSize } = await import('/static/timeline.js');
      const { describeTransferError } = await import('/static/file-transfer.js');
      const { fitWithin, screenShareUnavailableReason } = await import('/static/media.js');
      const sizes = [0, 1, 999, 1023, 1024, 1536, 10 * 1024, 1048576, 1.25 * 1048576,
                     100 * 1048576, 3 * 1024 ** 3].map(humanSize);
      const too = describeTransferError(413,
        { error: { code: 'too_large', message: 'files are limited to 104857600 bytes' } },
        'big.iso', 'upload');
      return {
        sizes,
        too,
        tooBare: describeTransferError(413, null, 'big.iso', 'upload'),
        unauth: describeTransferError(401, { error: { code: 'unauthenticated' } }, 'a', 'upload'),
        forbidden: describeTransferError(403, { error: { code: 'forbidden' } }, 'a', 'upload'),
        lost: describeTransferError(0, null, 'a', 'download'),
        noScreen: [screenShareUnavailableReason(null), screenShareUnavailableReason({}),
                   screenShareUnavailableReason(navigator.mediaDevices)],
        fits: [fitWithin(1920, 1080, 1280, 720), fitWithin(1280, 1024, 1280, 720),
               fitWithin(800, 600, 1280, 720), fitWithin(720, 1280, 1280, 720)],
      };
    }
    """)
    assert result["sizes"] == ["0 bytes", "1 byte", "999 bytes", "1023 bytes", "1 KB",
                               "1.5 KB", "10 KB", "1 MB", "1.3 MB", "100 MB", "3 GB"]
    assert result["too"] == "“big.iso” is too large: files are limited to 100 MB."
    assert "too large" in result["tooBare"]
    assert "session has ended" in result["unauth"]
    assert "room you are in" in result["forbidden"]
    assert "connection" in result["lost"]
    # Without getDisplayMedia (plain http, phones) the Share-screen button says why.
    insecure, unsupported, here = result["noScreen"]
    assert "https" in insecure and "cannot share the screen" in unsupported and here is None
    # The screen preset keeps the aspect ratio inside 1280×720 and never enlarges.
    assert result["fits"] == [[1280, 720], [900, 720], [800, 600], [405, 720]]


async def test_download_counts_progress_and_verifies_with_the_pure_js_hash(
        unit_page: Page) -> None:
    data = np.random.default_rng(3).integers(0, 256, size=200_000, dtype=np.uint8).tobytes()
    result = await unit_page.evaluate("""
    async ({bytes, sha256}) => {
      const { downloadFile } = await import('/static/file-transfer.js');
      const body = new Uint8Array(bytes);
      const requests = [];
      // A server that sends the file in 7 uneven pieces, as a network would.
      const fetchImpl = async (url, init) => {
        requests.push({ url, auth: init.headers.Authorization });
        const stream = new ReadableStream({
          start(controller) {
            const cuts = [0, 1, 1000, 65536, 70000, 150000, 199999, body.length];
            for (let i = 1; i < cuts.length; i++) {
              controller.enqueue(body.slice(cuts[i - 1], cuts[i]));
            }
            controller.close();
          },
        });
        const headers = { 'Content-Length': String(body.length) };
        return new Response(stream, { status: 200, headers });
      };
      const file = { id: 'a/b c', name: 'x.bin', size: body.length, sha256 };
      const progress = [];
      const ok = await downloadFile({ file, token: 'tok', subtle: null, fetchImpl,
                                      onProgress: (got, total) => progress.push([got, total]) });
      const saved = new Uint8Array(await ok.blob.arrayBuffer());
      let mismatch = null;
      try {
        const wrong = { ...file, sha256: 'f'.repeat(64) };
        await downloadFile({ file: wrong, token: 'tok', subtle: null, fetchImpl });
      } catch (error) { mismatch = [error.name, error.code, error.message]; }
      const refused = async (status, error) => {
        try {
          await downloadFile({ file, token: 'tok', subtle: null,
            fetchImpl: async () => new Response(JSON.stringify({ error }), { status }) });
        } catch (e) { return e.message; }
      };
      return { requests, progress, sha256: ok.sha256, same: saved.length === body.length &&
               saved.every((v, i) => v === body[i]), mismatch,
               forbidden: await refused(403, { code: 'forbidden', message: 'no' }) };
    }
    """, {"bytes": list(data), "sha256": hashlib.sha256(data).hexdigest()})
    assert result["requests"] == [{"url": "/files/a%2Fb%20c", "auth": "Bearer tok"}] * 2
    progress = result["progress"]
    assert progress[0] == [0, len(data)] and progress[-1] == [len(data), len(data)]
    assert [got for got, _ in progress] == sorted(got for got, _ in progress)
    assert len(progress) == 8  # the start, then once per piece
    assert result["sha256"] == hashlib.sha256(data).hexdigest() and result["same"] is True
    name, code, message = result["mismatch"]
    assert (name, code) == ("TransferError", "mismatch") and "not saved" in message
    assert "current members" in result["forbidden"]


async def test_upload_sends_the_name_and_token_and_reports_progress(unit_page: Page) -> None:
    result = await unit_page.evaluate("""
    async () => {
      const { uploadFile } = await import('/static/file-transfer.js');
      const made = [];
      // A stand-in for XMLHttpRequest that answers like the server.
      class FakeXHR {
        constructor() { this.headers = {}; this.upload = {}; made.push(this); }
        open(method, url) { this.method = method; this.url = url; }
        setRequestHeader(name, value) { this.headers[name] = value; }
        send(body) {
          this.body = body;
          this.upload.onprogress?.({ loaded: 3, total: body.size, lengthComputable: true });
          setTimeout(() => {
            const big = body.size > 4;
            this.status = big ? 413 : 201;
            this.responseText = JSON.stringify(big
              ? { error: { code: 'too_large', message: 'files are limited to 4 bytes' } }
              : { file: { id: 'f1', name: body.name, size: body.size } });
            this.onload();
          }, 0);
        }
      }
      const progress = [];
      const info = await uploadFile({
        file: new File(['abcd'], 'Báo cáo #1.txt'), room: 'Phòng họp 1', token: 'tok',
        XHR: FakeXHR, onProgress: (sent, total) => progress.push([sent, total]) });
      let refused = null;
      try {
        const big = new File(['abcdef'], 'big.bin');
        await uploadFile({ file: big, to: 'bob', token: 'tok', XHR: FakeXHR });
      } catch (error) { refused = [error.status, error.message]; }
      return { info, progress, refused,
               sent: made.map((x) => ({ method: x.method, url: x.url, headers: x.headers })) };
    }
    """)
    assert result["info"] == {"id": "f1", "name": "Báo cáo #1.txt", "size": 4}
    assert result["progress"] == [[3, 4], [4, 4]]
    assert result["refused"] == [413, "“big.bin” is too large: files are limited to 4 bytes."]
    first, second = result["sent"]
    assert first["method"] == "POST"
    assert first["url"] == "/files?room=Ph%C3%B2ng%20h%E1%BB%8Dp%201"
    assert first["headers"]["Authorization"] == "Bearer tok"
    assert first["headers"]["X-Filename"] == "B%C3%A1o%20c%C3%A1o%20%231.txt"
    assert second["url"] == "/files?to=bob"
