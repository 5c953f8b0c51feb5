// A per-speaker audio jitter buffer with adaptive playout delay (PROTOCOL.md §4.4).
//
// Pure: arrival and playout times are passed in (milliseconds, any monotonic clock);
// nothing reads a clock, nothing schedules a timer. The playback AudioWorklet owns one
// buffer per sender, pushes every audio frame it receives and pops once per 20 ms of
// output.
//
// Theory of operation (the same model as pymeet/protocol/jitter_buffer.py):
//
// - A frame's timestamp is the u32 index of its first sample at 16 kHz. Timestamps
//   are unwrapped and turned into slots (frame numbers of the stream), so the buffer
//   is ordered by timestamp whatever order the frames arrived in.
// - buffering: `pop` returns null until the buffered audio reaches the target delay,
//   or the earliest frame has waited that long; playout starts at the earliest slot.
// - playing: each `pop` plays slot `next` and moves on. A missing slot, with later
//   frames buffered, is concealed: the last frame repeated at gains 0.8, 0.5, 0.25,
//   then silence. With nothing buffered the buffer has run dry: `pop` returns null and
//   does not move on (the delay grows by one frame). After DRY_RESET_FRAMES dry pops,
//   or at a gap over MAX_CONCEAL_GAP_FRAMES, it goes back to buffering.
// - A frame for a slot already played is late and dropped; a second copy of a buffered
//   frame is a duplicate.
// - Adaptive delay: the interarrival jitter J is estimated as in RFC 3550 §6.4.1 and
//   the target is clamp(4 J + 20 ms, minDelay, maxDelay). When more than two frames
//   over the target are buffered, a quiet frame is dropped (any frame once over
//   maxDelay); when under the target, one concealment frame is inserted before a
//   quiet frame (never twice in a row). Quiet frames are the pauses between words,
//   where a dropped or repeated 20 ms is not heard.
//
// Accounting: every pushed frame ends up once in duplicate, late, played, dropped, or
// is still buffered; every concealment frame counts in concealed, as lost or stretched.

import { AUDIO_FRAME_SAMPLES, u32Diff } from "./media-format.js";

export const FRAME_MS = 20;
export const DEFAULT_MIN_DELAY_MS = 40;
export const DEFAULT_MAX_DELAY_MS = 300;
export const JITTER_MULTIPLE = 4;
export const CONCEAL_GAINS = [0.8, 0.5, 0.25];
export const QUIET_RMS = 328; // about -40 dBFS
export const MAX_CONCEAL_GAP_FRAMES = 25;
export const DRY_RESET_FRAMES = 25;
export const RESYNC_FRAMES = 50;

export function rmsInt16(samples) {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  return samples.length ? Math.sqrt(sum / samples.length) : 0;
}

export class JitterBuffer {
  constructor({ minDelayMs = DEFAULT_MIN_DELAY_MS, maxDelayMs = DEFAULT_MAX_DELAY_MS } = {}) {
    this.minDelayMs = minDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.frames = new Map(); // slot -> {samples, arrival, quiet}
    this.playing = false;
    this.next = 0;
    this.dry = 0;
    this.concealRun = 0;
    this.lastFrame = null;
    this.stretchedLast = false;
    this.refTimestamp = null; // newest u32 timestamp seen, and its unwrapped value
    this.refAbsolute = 0;
    this.baseAbsolute = 0;
    this.lastArrival = null; // for the jitter estimate
    this.lastArrivalAbsolute = 0;
    this.jitterMs = 0;
    this.stats = { pushed: 0, played: 0, concealed: 0, lost: 0, stretched: 0, late: 0, duplicate: 0, dropped: 0 };
  }

  /** The playout delay being aimed at, in ms. */
  get targetDelayMs() {
    const target = JITTER_MULTIPLE * this.jitterMs + FRAME_MS;
    return Math.min(this.maxDelayMs, Math.max(this.minDelayMs, target));
  }

  /** Buffered audio from the playout point to the newest frame, in ms. */
  get bufferedMs() {
    if (this.frames.size === 0) return 0;
    const [low, high] = this.#span();
    const from = this.playing ? Math.min(this.next, low) : low;
    return (high - from + 1) * FRAME_MS;
  }

  get size() {
    return this.frames.size;
  }

  /**
   * Add one 20 ms frame (Int16Array of 320 samples) with its u32 timestamp.
   * Returns "buffered", "late" or "duplicate".
   */
  push(timestamp, samples, arrivalMs) {
    this.stats.pushed += 1;
    const absolute = this.#unwrap(timestamp);
    this.#updateJitter(absolute, arrivalMs);
    let slot = Math.round((absolute - this.baseAbsolute) / AUDIO_FRAME_SAMPLES);
    if (this.playing && slot < this.next - RESYNC_FRAMES) {
      // So far behind the playout point that the sender must have restarted its clock.
      this.#restart(absolute);
      slot = 0;
    }
    if (this.playing && slot < this.next) {
      this.stats.late += 1;
      return "late";
    }
    if (this.frames.has(slot)) {
      this.stats.duplicate += 1;
      return "duplicate";
    }
    this.frames.set(slot, { samples, arrival: arrivalMs, quiet: rmsInt16(samples) <= QUIET_RMS });
    // Never hold more than twice the maximum delay: the oldest frames go first.
    const limit = Math.ceil((2 * this.maxDelayMs) / FRAME_MS);
    while (this.frames.size > limit) {
      const [low] = this.#span();
      this.frames.delete(low);
      this.stats.dropped += 1;
      if (this.playing && this.next <= low) this.next = low + 1;
    }
    return "buffered";
  }

  /** The next 20 ms to play (Int16Array of 320), or null when there is nothing to play. */
  pop(nowMs) {
    if (this.frames.size === 0) {
      if (this.playing) {
        this.dry += 1;
        if (this.dry >= DRY_RESET_FRAMES) this.#stopPlaying();
      }
      return null;
    }
    const [low, high] = this.#span();
    if (!this.playing) {
      const bufferedMs = (high - low + 1) * FRAME_MS;
      const waited = nowMs - this.frames.get(low).arrival;
      if (bufferedMs < this.targetDelayMs && waited < this.targetDelayMs) return null;
      this.playing = true;
      this.next = low;
      this.concealRun = 0;
      this.stretchedLast = false;
    }
    this.dry = 0;
    if (low - this.next > MAX_CONCEAL_GAP_FRAMES) {
      // A new talk spurt after a long gap: start there, nothing to conceal.
      this.next = low;
      this.concealRun = 0;
    }
    const depthMs = (high - this.next + 1) * FRAME_MS;
    const target = this.targetDelayMs;
    const current = this.frames.get(this.next);

    // Too much delay: drop a quiet frame (or any frame once over the maximum).
    if (current && depthMs > target + 2 * FRAME_MS && (current.quiet || depthMs > this.maxDelayMs)) {
      this.frames.delete(this.next);
      this.stats.dropped += 1;
      this.next += 1;
      return this.pop(nowMs);
    }
    // Too little delay: repeat before a quiet frame, or before any frame when far under.
    if (current && !this.stretchedLast && depthMs < target &&
        (current.quiet || depthMs < target - 2 * FRAME_MS) && this.lastFrame) {
      this.stretchedLast = true;
      this.stats.stretched += 1;
      return this.#conceal();
    }
    this.stretchedLast = false;
    this.next += 1;
    if (current) {
      this.frames.delete(this.next - 1);
      this.stats.played += 1;
      this.lastFrame = current.samples;
      this.concealRun = 0;
      return current.samples;
    }
    this.stats.lost += 1;
    return this.#conceal();
  }

  /** Forget everything (the sender left, or its stream restarted). */
  reset() {
    this.frames.clear();
    this.#stopPlaying();
    this.refTimestamp = null;
    this.lastArrival = null;
  }

  #conceal() {
    this.stats.concealed += 1;
    const gain = this.concealRun < CONCEAL_GAINS.length ? CONCEAL_GAINS[this.concealRun] : 0;
    this.concealRun += 1;
    const out = new Int16Array(AUDIO_FRAME_SAMPLES);
    if (this.lastFrame && gain > 0) {
      for (let i = 0; i < out.length; i++) out[i] = Math.round(this.lastFrame[i] * gain);
    }
    return out;
  }

  #stopPlaying() {
    this.playing = false;
    this.dry = 0;
    this.concealRun = 0;
    this.lastFrame = null;
    this.stretchedLast = false;
  }

  #restart(absolute) {
    this.stats.dropped += this.frames.size;
    this.frames.clear();
    this.#stopPlaying();
    this.baseAbsolute = absolute;
    this.next = 0;
  }

  #span() {
    let low = Infinity;
    let high = -Infinity;
    for (const slot of this.frames.keys()) {
      if (slot < low) low = slot;
      if (slot > high) high = slot;
    }
    return [low, high];
  }

  #unwrap(timestamp) {
    if (this.refTimestamp === null) {
      this.refTimestamp = timestamp;
      if (this.frames.size === 0 && !this.playing) {
        this.refAbsolute = 0;
        this.baseAbsolute = 0;
        return 0;
      }
      return this.refAbsolute;
    }
    const absolute = this.refAbsolute + u32Diff(timestamp, this.refTimestamp);
    if (absolute > this.refAbsolute) {
      this.refAbsolute = absolute;
      this.refTimestamp = timestamp;
    }
    return absolute;
  }

  #updateJitter(absolute, arrivalMs) {
    if (this.lastArrival !== null) {
      const transit = (arrivalMs - this.lastArrival) - ((absolute - this.lastArrivalAbsolute) * 1000) / 16000;
      this.jitterMs += (Math.abs(transit) - this.jitterMs) / 16;
    }
    this.lastArrival = arrivalMs;
    this.lastArrivalAbsolute = absolute;
  }
}
