// AudioWorklet: per-sender jitter buffers -> mix -> AudioContext rate (PROTOCOL.md §4.4).
//
// Messages in (from the main thread):
//   {type: "audio", ssrc, timestamp, samples: Int16Array(320)}  one received frame
//   {type: "remove", ssrc}                                       a sender left
//   {type: "clear"}                                              left the room
// Messages out, about every 100 ms:
//   {type: "levels", levels: {ssrc: rms 0..1}, stats: {ssrc: {...counters}}}
//
// The audio clock drives playout: each 20 ms of output pops one frame from every
// sender's jitter buffer, so playout keeps time even when the page's main thread is
// busy. Arrival times are read from the same clock (currentTime).

import { JitterBuffer } from "../jitter-buffer.js";
import { mixFrames, rmsLevel } from "../mixer.js";
import { Resampler } from "../resampler.js";

const FRAME_SAMPLES = 320;
const INPUT_RATE = 16000;
const IDLE_FORGET_MS = 10000;
const REPORT_EVERY_TICKS = 5; // 100 ms

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.resampler = new Resampler(INPUT_RATE, Math.round(sampleRate));
    this.senders = new Map(); // ssrc -> {buffer, lastPush, level}
    this.fifo = new Float32Array(Math.ceil(sampleRate / 10));
    this.fifoStart = 0;
    this.fifoLength = 0;
    this.ticks = 0;
    this.port.onmessage = (event) => this.#message(event.data);
  }

  #now() {
    return currentTime * 1000;
  }

  #message(data) {
    if (!data) return;
    if (data.type === "audio") {
      let sender = this.senders.get(data.ssrc);
      if (!sender) {
        sender = { buffer: new JitterBuffer(), lastPush: 0, level: 0 };
        this.senders.set(data.ssrc, sender);
      }
      sender.lastPush = this.#now();
      sender.buffer.push(data.timestamp, data.samples, sender.lastPush);
    } else if (data.type === "remove") {
      this.senders.delete(data.ssrc);
    } else if (data.type === "clear") {
      this.senders.clear();
    }
  }

  #tick() {
    const now = this.#now();
    const frames = [];
    for (const [ssrc, sender] of this.senders) {
      const frame = sender.buffer.pop(now);
      sender.level = frame ? rmsLevel(frame) : 0;
      if (frame) frames.push(frame);
      else if (now - sender.lastPush > IDLE_FORGET_MS) this.senders.delete(ssrc);
    }
    const mixed = mixFrames(frames, FRAME_SAMPLES);
    this.#append(this.resampler.process(mixed));
    this.ticks += 1;
    if (this.ticks % REPORT_EVERY_TICKS === 0) {
      const levels = {};
      const stats = {};
      for (const [ssrc, sender] of this.senders) {
        levels[ssrc] = sender.level;
        stats[ssrc] = { ...sender.buffer.stats, bufferedMs: sender.buffer.bufferedMs, targetMs: sender.buffer.targetDelayMs };
      }
      this.port.postMessage({ type: "levels", levels, stats });
    }
  }

  #append(samples) {
    if (this.fifoLength + samples.length > this.fifo.length) {
      const bigger = new Float32Array((this.fifoLength + samples.length) * 2);
      for (let i = 0; i < this.fifoLength; i++) bigger[i] = this.fifo[(this.fifoStart + i) % this.fifo.length];
      this.fifo = bigger;
      this.fifoStart = 0;
    }
    for (let i = 0; i < samples.length; i++) {
      this.fifo[(this.fifoStart + this.fifoLength + i) % this.fifo.length] = samples[i];
    }
    this.fifoLength += samples.length;
  }

  process(_inputs, outputs) {
    const output = outputs[0];
    const size = output[0].length;
    while (this.fifoLength < size) this.#tick();
    for (let i = 0; i < size; i++) {
      const v = this.fifo[this.fifoStart];
      this.fifoStart = (this.fifoStart + 1) % this.fifo.length;
      for (const channel of output) channel[i] = v;
    }
    this.fifoLength -= size;
    return true;
  }
}

registerProcessor("pymeet-playback", PlaybackProcessor);
