// Binary media messages of the WebSocket gateway (docs/PROTOCOL.md, "WebSocket gateway (§5)").
//
// One binary WebSocket message = a 13-byte big-endian header, then the payload:
//
//   offset size field
//   0      1    kind: 3 audio, 4 video
//   1      4    ssrc: the sender (browser -> server: 0, the server fills it in)
//   5      4    timestamp: audio = first-sample index at 16 kHz; video = 90 kHz clock
//   9      4    audio: the sender's seq; video: frame_id (browser -> server: 0)
//
// Audio payload: exactly 640 bytes (20 ms of s16le mono PCM at 16 kHz).
// Video payload: one whole JPEG image.

export const KIND_AUDIO = 3;
export const KIND_VIDEO = 4;
export const HEADER_SIZE = 13;
export const AUDIO_SAMPLE_RATE = 16000;
export const AUDIO_FRAME_SAMPLES = 320;
export const AUDIO_PAYLOAD_SIZE = 2 * AUDIO_FRAME_SAMPLES; // 640
export const VIDEO_CLOCK_RATE = 90000;
export const U32_MODULUS = 2 ** 32;

const OFFSET_KIND = 0;
const OFFSET_SSRC = 1;
const OFFSET_TIMESTAMP = 5;
const OFFSET_SEQ = 9;

export class MediaFormatError extends Error {
  constructor(reason, message) {
    super(message);
    this.name = "MediaFormatError";
    this.reason = reason; // "truncated", "bad_kind", "bad_payload", "bad_field"
  }
}

function checkU32(name, value) {
  if (!Number.isInteger(value) || value < 0 || value >= U32_MODULUS) {
    throw new MediaFormatError("bad_field", `${name} is not a u32: ${value}`);
  }
}

/**
 * Build one binary message. `payload` is a Uint8Array, an ArrayBuffer or an Int16Array
 * (audio samples, written little-endian). Returns an ArrayBuffer.
 */
export function packMedia({ kind, ssrc = 0, timestamp = 0, seq = 0 }, payload) {
  if (kind !== KIND_AUDIO && kind !== KIND_VIDEO) {
    throw new MediaFormatError("bad_kind", `unknown media kind ${kind}`);
  }
  checkU32("ssrc", ssrc);
  checkU32("timestamp", timestamp);
  checkU32("seq", seq);
  const bytes = payloadBytes(payload);
  if (kind === KIND_AUDIO && bytes.length !== AUDIO_PAYLOAD_SIZE) {
    throw new MediaFormatError("bad_payload", `audio payload is ${bytes.length} bytes, not ${AUDIO_PAYLOAD_SIZE}`);
  }
  const buffer = new ArrayBuffer(HEADER_SIZE + bytes.length);
  const view = new DataView(buffer);
  view.setUint8(OFFSET_KIND, kind);
  view.setUint32(OFFSET_SSRC, ssrc, false);
  view.setUint32(OFFSET_TIMESTAMP, timestamp, false);
  view.setUint32(OFFSET_SEQ, seq, false);
  new Uint8Array(buffer, HEADER_SIZE).set(bytes);
  return buffer;
}

/**
 * Parse one binary message (ArrayBuffer or Uint8Array). Returns
 * {kind, ssrc, timestamp, seq, payload}; for video `seq` is the frame_id, also given as
 * `frameId`. `payload` is a Uint8Array view (no copy). Throws MediaFormatError.
 */
export function unpackMedia(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length < HEADER_SIZE) {
    throw new MediaFormatError("truncated", `a media message has at least ${HEADER_SIZE} bytes, not ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const kind = view.getUint8(OFFSET_KIND);
  if (kind !== KIND_AUDIO && kind !== KIND_VIDEO) {
    throw new MediaFormatError("bad_kind", `unknown media kind ${kind}`);
  }
  const payload = bytes.subarray(HEADER_SIZE);
  if (kind === KIND_AUDIO && payload.length !== AUDIO_PAYLOAD_SIZE) {
    throw new MediaFormatError("bad_payload", `audio payload is ${payload.length} bytes, not ${AUDIO_PAYLOAD_SIZE}`);
  }
  if (kind === KIND_VIDEO && payload.length === 0) {
    throw new MediaFormatError("bad_payload", "empty video payload");
  }
  const seq = view.getUint32(OFFSET_SEQ, false);
  return {
    kind,
    ssrc: view.getUint32(OFFSET_SSRC, false),
    timestamp: view.getUint32(OFFSET_TIMESTAMP, false),
    seq,
    frameId: seq,
    payload,
  };
}

function payloadBytes(payload) {
  if (payload instanceof Uint8Array) return payload;
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  if (payload instanceof Int16Array) return int16ToLittleEndian(payload);
  if (ArrayBuffer.isView(payload)) return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  throw new MediaFormatError("bad_payload", "payload must be bytes");
}

/** Int16 samples -> s16le bytes, whatever the platform's byte order. */
export function int16ToLittleEndian(samples) {
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(2 * i, samples[i], true);
  return out;
}

/** s16le bytes -> Int16 samples (a copy). */
export function littleEndianToInt16(bytes) {
  const count = bytes.length >> 1;
  const out = new Int16Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, count * 2);
  for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, true);
  return out;
}

/** Signed distance a - b between two u32 counters, assuming they are within 2^31. */
export function u32Diff(a, b) {
  let d = (a - b) % U32_MODULUS;
  if (d >= U32_MODULUS / 2) d -= U32_MODULUS;
  else if (d < -U32_MODULUS / 2) d += U32_MODULUS;
  return d;
}

/** (value + delta) mod 2^32. */
export function u32Add(value, delta) {
  return ((value + delta) % U32_MODULUS + U32_MODULUS) % U32_MODULUS;
}
