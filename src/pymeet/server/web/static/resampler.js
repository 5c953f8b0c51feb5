// A streaming rational-ratio resampler: polyphase, linear-phase FIR low-pass
// (Kaiser-windowed sinc). It turns the AudioContext rate (44.1 or 48 kHz, usually)
// into the 16 kHz of the media plane and back (PROTOCOL.md §4.2: 16 kHz mono).
//
// Theory of operation. Resampling by L/M is: insert L-1 zeros between input samples,
// low-pass at min(input, output) Nyquist, keep every M-th sample. The polyphase form
// skips the zeros: output n sits at input position n*M/L, and uses the filter phase
// p = (n*M) mod L, i.e. taps h[p], h[p+L], h[p+2L], ... against the K newest inputs.
// The filter is symmetric (linear phase), so every frequency is delayed the same,
// about K/2 input samples. Its cutoff sits a little under the lower Nyquist so that,
// going down, anything above 8 kHz is attenuated by about 80 dB instead of folding
// back into the speech band, and going up, the images above 8 kHz are removed.
//
// Pure: no Web Audio, no DOM. It runs in the page, in an AudioWorklet and in tests.

const DEFAULT_ZERO_CROSSINGS = 24; // sinc lobes kept each side, at the lower rate
const DEFAULT_ROLLOFF = 0.88; // cutoff as a fraction of the lower Nyquist
const DEFAULT_ATTENUATION_DB = 80;

function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (series). */
function besselI0(x) {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 64; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

export function kaiserBeta(attenuationDb) {
  if (attenuationDb > 50) return 0.1102 * (attenuationDb - 8.7);
  if (attenuationDb >= 21) return 0.5842 * (attenuationDb - 21) ** 0.4 + 0.07886 * (attenuationDb - 21);
  return 0;
}

export class Resampler {
  /**
   * @param {number} inputRate  integer sample rate in Hz
   * @param {number} outputRate integer sample rate in Hz
   * @param {object} [options] zeroCrossings, rolloff, attenuationDb
   */
  constructor(inputRate, outputRate, options = {}) {
    if (!Number.isInteger(inputRate) || !Number.isInteger(outputRate) || inputRate <= 0 || outputRate <= 0) {
      throw new RangeError(`sample rates must be positive integers (${inputRate}, ${outputRate})`);
    }
    const zeroCrossings = options.zeroCrossings ?? DEFAULT_ZERO_CROSSINGS;
    const rolloff = options.rolloff ?? DEFAULT_ROLLOFF;
    const beta = kaiserBeta(options.attenuationDb ?? DEFAULT_ATTENUATION_DB);
    const g = gcd(inputRate, outputRate);
    this.inputRate = inputRate;
    this.outputRate = outputRate;
    this.up = outputRate / g; // L
    this.down = inputRate / g; // M
    const L = this.up;
    const M = this.down;
    // Taps per phase, in input samples: the sinc spans 2*zeroCrossings periods of the
    // lower rate, which is M/L input samples each when going down.
    const taps = Math.max(2, Math.ceil(2 * zeroCrossings * Math.max(1, M / L)));
    this.taps = taps;
    // Prototype filter at the upsampled rate (L * inputRate): length L * taps.
    const length = L * taps;
    const cutoff = (rolloff * 0.5) / Math.max(L, M); // cycles per upsampled sample
    const centre = (length - 1) / 2;
    const i0Beta = besselI0(beta);
    const proto = new Float64Array(length);
    for (let i = 0; i < length; i++) {
      const t = i - centre;
      const sinc = t === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * t) / (Math.PI * t);
      const r = t / (centre + 0.5);
      const window = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0Beta;
      proto[i] = sinc * window;
    }
    // Polyphase split. Each phase is normalised to unit DC gain, which keeps the
    // level exact for any ratio (the zero-stuffing loss of L is folded in).
    // phases[p][k] multiplies x[base - k].
    this.phases = [];
    for (let p = 0; p < L; p++) {
      const phase = new Float32Array(taps);
      let sum = 0;
      for (let k = 0; k < taps; k++) {
        phase[k] = proto[p + k * L];
        sum += phase[k];
      }
      for (let k = 0; k < taps; k++) phase[k] /= sum;
      this.phases.push(phase);
    }
    this.history = new Float32Array(taps - 1); // the taps-1 newest inputs, oldest first
    this.position = 0; // next output, in 1/L input samples, relative to the next input
  }

  /** Group delay in seconds (the same for every frequency). */
  get delaySeconds() {
    return ((this.taps - 1) / 2) / this.inputRate;
  }

  /** How many outputs the next `process` of `inputLength` samples will return. */
  outputLength(inputLength) {
    const limit = inputLength * this.up;
    if (this.position >= limit) return 0;
    return Math.ceil((limit - this.position) / this.down);
  }

  /** Feed input samples (Float32Array or any array of numbers); returns the outputs. */
  process(input) {
    const n = input.length;
    const taps = this.taps;
    const hist = taps - 1;
    const buffer = new Float32Array(hist + n);
    buffer.set(this.history, 0);
    buffer.set(input, hist);
    const out = new Float32Array(this.outputLength(n));
    const L = this.up;
    const M = this.down;
    let position = this.position;
    for (let o = 0; o < out.length; o++) {
      const base = hist + Math.floor(position / L); // index of the newest input used
      const phase = this.phases[position % L];
      let acc = 0;
      for (let k = 0; k < taps; k++) acc += phase[k] * buffer[base - k];
      out[o] = acc;
      position += M;
    }
    this.position = position - n * L;
    this.history = buffer.slice(buffer.length - hist);
    return out;
  }

  /** Forget the past (for a new talk spurt or a new stream). */
  reset() {
    this.history.fill(0);
    this.position = 0;
  }
}

/** Float samples in -1..1 -> Int16 with rounding and clipping. */
export function floatToInt16(samples) {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.round(samples[i] * 32767);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}

/** Int16 -> float samples in -1..1. */
export function int16ToFloat(samples) {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = samples[i] / 32768;
  return out;
}
