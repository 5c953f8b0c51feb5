// AudioWorklet: microphone -> 16 kHz, 20 ms frames of Int16 (PROTOCOL.md §4.2 audio).
//
// Input: the microphone at the AudioContext rate (the global `sampleRate`), mixed to
// mono. Output to the main thread: {type: "frame", samples: Int16Array(320), level}
// every 20 ms of audio, where level is the frame's RMS in 0..1. The main thread adds
// the header and sends it, or not when the mic is off.

import { Resampler, floatToInt16 } from "../resampler.js";
import { rmsLevel } from "../mixer.js";

const FRAME_SAMPLES = 320;
const OUTPUT_RATE = 16000;

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.resampler = new Resampler(Math.round(sampleRate), OUTPUT_RATE);
    this.pending = new Float32Array(FRAME_SAMPLES);
    this.filled = 0;
    this.running = true;
    this.port.onmessage = (event) => {
      if (event.data?.type === "stop") this.running = false;
    };
  }

  process(inputs) {
    if (!this.running) return false;
    const input = inputs[0];
    if (!input || input.length === 0 || input[0].length === 0) return true;
    let mono = input[0];
    if (input.length > 1) {
      mono = new Float32Array(input[0].length);
      for (const channel of input) for (let i = 0; i < mono.length; i++) mono[i] += channel[i] / input.length;
    }
    const resampled = this.resampler.process(mono);
    let offset = 0;
    while (offset < resampled.length) {
      const take = Math.min(FRAME_SAMPLES - this.filled, resampled.length - offset);
      this.pending.set(resampled.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === FRAME_SAMPLES) {
        const samples = floatToInt16(this.pending);
        this.port.postMessage({ type: "frame", samples, level: rmsLevel(this.pending) }, [samples.buffer]);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("pymeet-capture", CaptureProcessor);
