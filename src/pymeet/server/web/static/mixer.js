// Mixing and measuring 16-bit audio frames (PROTOCOL.md §4.4: all speakers mixed).
// Pure; runs in the playback AudioWorklet, in the page and in tests.

export const SPEAKING_LEVEL = 0.01; // RMS of about -40 dBFS: counts as speech
const KNEE = 0.8;

/** A limiter that leaves |x| <= 0.8 alone and bends towards 1 above, never past it. */
export function softClip(x) {
  const a = Math.abs(x);
  if (a <= KNEE) return x;
  const bent = KNEE + (1 - KNEE) * Math.tanh((a - KNEE) / (1 - KNEE));
  return x < 0 ? -bent : bent;
}

/**
 * Sum Int16Array frames of equal length into floats in -1..1. No frames give
 * `length` samples of silence. One frame comes back unchanged (scaled), several are
 * added and soft-limited, so two loud speakers never wrap around or click.
 */
export function mixFrames(frames, length = 320) {
  const size = frames.length ? frames[0].length : length;
  const out = new Float32Array(size);
  for (const frame of frames) {
    if (frame.length !== size) throw new RangeError("frames to mix must all have the same length");
    for (let i = 0; i < size; i++) out[i] += frame[i] / 32768;
  }
  if (frames.length > 1) for (let i = 0; i < size; i++) out[i] = softClip(out[i]);
  return out;
}

/** RMS level in 0..1 (1 = full-scale square wave) of Int16 or float samples. */
export function rmsLevel(samples) {
  if (!samples.length) return 0;
  const scale = samples instanceof Int16Array ? 1 / 32768 : 1;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i] * scale;
    sum += v * v;
  }
  return Math.min(1, Math.sqrt(sum / samples.length));
}

/** A level in 0..1 for a meter: -60 dBFS and below is 0, 0 dBFS is 1. */
export function meterLevel(level) {
  if (level <= 0) return 0;
  const db = 20 * Math.log10(level);
  return Math.max(0, Math.min(1, (db + 60) / 60));
}
