// SHA-256 (FIPS 180-4) for checking downloaded files (docs/PROTOCOL.md, "Files").
//
// Browsers offer crypto.subtle.digest only in a secure context (https, localhost), so
// a PyMeet server reached over plain http on a LAN needs this small pure-JS fallback.
//
// - `new Sha256()`, then `update(Uint8Array)` any number of times (any chunk sizes),
//   then `digest()` -> 32 bytes. A finished hash refuses further updates.
// - `sha256Hex(bytes)` hashes one buffer; `toHex(bytes)` spells bytes as lower-case hex.
// - `digestHex(chunks, {subtle})` hashes a list of chunks with SubtleCrypto when it is
//   there (pass `subtle: null` to force the fallback) and resolves with the hex digest.

const BLOCK_SIZE = 64;
const DIGEST_SIZE = 32;
const TWO_POW_32 = 2 ** 32;

const INITIAL_STATE = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

// The first 32 bits of the fractional parts of the cube roots of the first 64 primes.
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export class Sha256 {
  constructor() {
    this.state = new Uint32Array(INITIAL_STATE);
    this.buffer = new Uint8Array(BLOCK_SIZE); // a partial block waiting for more bytes
    this.buffered = 0;
    this.length = 0; // bytes hashed so far (exact up to 2^53)
    this.words = new Uint32Array(64);
    this.finished = false;
  }

  /** Add bytes (a Uint8Array, ArrayBuffer or other view); returns this. */
  update(data) {
    if (this.finished) throw new Error("this SHA-256 is finished; start a new one");
    const bytes = toBytes(data);
    this.length += bytes.length;
    let offset = 0;
    if (this.buffered > 0) {
      const take = Math.min(BLOCK_SIZE - this.buffered, bytes.length);
      this.buffer.set(bytes.subarray(0, take), this.buffered);
      this.buffered += take;
      offset = take;
      if (this.buffered < BLOCK_SIZE) return this;
      this.#compress(this.buffer, 0);
      this.buffered = 0;
    }
    for (; offset + BLOCK_SIZE <= bytes.length; offset += BLOCK_SIZE) this.#compress(bytes, offset);
    if (offset < bytes.length) {
      this.buffer.set(bytes.subarray(offset), 0);
      this.buffered = bytes.length - offset;
    }
    return this;
  }

  /** Finish and return the 32-byte digest. */
  digest() {
    if (this.finished) throw new Error("this SHA-256 is finished already");
    const bitLength = this.length * 8;
    // Padding: 0x80, zeros up to 56 mod 64, then the length in bits as a big-endian u64.
    const padLength = (this.buffered < 56 ? 56 : 120) - this.buffered;
    const tail = new Uint8Array(padLength + 8);
    tail[0] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(padLength, Math.floor(bitLength / TWO_POW_32));
    view.setUint32(padLength + 4, bitLength % TWO_POW_32);
    this.update(tail);
    this.finished = true;
    const out = new Uint8Array(DIGEST_SIZE);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setUint32(4 * i, this.state[i]);
    return out;
  }

  #compress(bytes, offset) {
    const w = this.words;
    for (let i = 0; i < 16; i++) {
      const j = offset + 4 * i;
      w[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15];
      const b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    const h = this.state;
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (k + S1 + ch + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      k = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
  }
}

function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("SHA-256 hashes bytes (a Uint8Array or an ArrayBuffer)");
}

export function toHex(bytes) {
  let hex = "";
  for (const byte of toBytes(bytes)) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** The hex SHA-256 of one buffer, in pure JS. */
export function sha256Hex(bytes) {
  return toHex(new Sha256().update(bytes).digest());
}

/** SubtleCrypto where the page may use it (secure contexts only), else null. */
export function availableSubtle() {
  return globalThis.crypto?.subtle ?? null;
}

/**
 * The hex SHA-256 of `chunks` (Uint8Arrays, in order): SubtleCrypto when `subtle` is
 * given (the default: the page's, if any), else the pure-JS fallback.
 */
export async function digestHex(chunks, { subtle = availableSubtle() } = {}) {
  if (subtle) {
    const whole = await new Blob(chunks).arrayBuffer();
    return toHex(new Uint8Array(await subtle.digest("SHA-256", whole)));
  }
  const hash = new Sha256();
  for (const chunk of chunks) hash.update(chunk);
  return toHex(hash.digest());
}
