// Camera and microphone in, remote video and audio out, over the gateway's binary
// messages (docs/PROTOCOL.md, "WebSocket gateway (§5)").
//
// - Camera: getUserMedia -> a hidden <video> -> a canvas of the chosen size ->
//   canvas.toBlob("image/jpeg", quality) at the chosen fps -> one binary message
//   (kind 4, 90 kHz timestamp). A frame is skipped while the previous one is still
//   being encoded, or while the socket has a backlog (bufferedAmount).
// - Microphone: an AudioWorklet resamples to 16 kHz and cuts 20 ms frames; each goes
//   out as kind 3 with a running sample timestamp and a seq, only while the mic is on.
// - Playback: received audio goes to the playback AudioWorklet (jitter buffers, mix,
//   resample); received JPEGs are decoded with createImageBitmap (a frame that fails
//   to decode is skipped) and handed to `onVideoFrame(ssrc, bitmap)`.
// - A refused or missing camera or microphone is reported in `devices`, with a reason
//   a person can act on; everything else keeps working.
// - Screen: `startScreen()` asks getDisplayMedia for a screen, window or tab and sends
//   it instead of the camera, through the same hidden <video>, canvas and JPEG loop, at
//   the screen preset (docs/PROTOCOL.md, "Screen sharing": at most 1280×720 keeping the
//   aspect ratio, quality 0.7, 5 frames/s). `stopScreen()` goes back to the camera's
//   picture; when the browser itself stops the capture, `onScreenEnded()` is called.
//   A missing or refused getDisplayMedia rejects with a ScreenShareError that says why.

import { AUDIO_FRAME_SAMPLES, KIND_AUDIO, KIND_VIDEO, MediaFormatError, packMedia, u32Add, unpackMedia, littleEndianToInt16 } from "./media-format.js";

export const DEFAULT_VIDEO_SETTINGS = Object.freeze({ width: 320, height: 240, quality: 0.6, fps: 12 });
export const SCREEN_PRESET = Object.freeze({ width: 1280, height: 720, quality: 0.7, fps: 5 });
const MAX_SOCKET_BACKLOG = 512 * 1024; // bytes queued in the WebSocket before frames are skipped
const VIDEO_CLOCK_PER_MS = 90;

function describeDeviceError(error, what) {
  const name = error?.name || "";
  if (name === "NotAllowedError" || name === "SecurityError") {
    return `Access to the ${what} was refused. Allow it in the browser's site settings and reload the page.`;
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") return `No ${what} was found on this device.`;
  if (name === "NotReadableError") return `The ${what} is in use by another application.`;
  if (name === "NotSupported" || name === "TypeError") {
    return `This page cannot use the ${what} here (the browser allows it only on https or localhost).`;
  }
  return `The ${what} could not be started (${error?.message || name || "unknown error"}).`;
}

export class ScreenShareError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "ScreenShareError";
    this.code = code; // "unsupported", "refused", "no_source", "failed"
  }
}

/** Why this page cannot share a screen at all, or null when it can try. */
export function screenShareUnavailableReason(mediaDevices = globalThis.navigator?.mediaDevices) {
  if (!mediaDevices) {
    return "Screen sharing needs a secure page: open PyMeet over https (or on localhost).";
  }
  if (typeof mediaDevices.getDisplayMedia !== "function") {
    return "This browser cannot share the screen (phones and some browsers do not offer it).";
  }
  return null;
}

function describeScreenError(error) {
  const name = error?.name || "";
  if (name === "NotAllowedError" || name === "SecurityError") {
    return new ScreenShareError("refused", "Screen sharing was cancelled or refused. Press “Share screen” again and choose a screen, window or tab; if no choice appears, allow screen sharing in the browser's site settings.");
  }
  if (name === "NotFoundError") return new ScreenShareError("no_source", "There is no screen, window or tab to share on this device.");
  if (name === "NotReadableError" || name === "AbortError") {
    return new ScreenShareError("failed", "The screen could not be captured (the system or another application prevented it).");
  }
  return new ScreenShareError("failed", `The screen could not be shared (${error?.message || name || "unknown error"}).`);
}

export class MediaEngine {
  constructor(session, { videoSettings = DEFAULT_VIDEO_SETTINGS } = {}) {
    this.session = session;
    this.videoSettings = { ...videoSettings };
    this.devices = {
      mic: { available: false, reason: "The microphone has not been started yet." },
      cam: { available: false, reason: "The camera has not been started yet." },
    };
    this.audioStream = null;
    this.videoStream = null;
    this.screenStream = null;
    this.cameraStarted = false;
    this.context = null;
    this.audioReady = null;
    this.captureNode = null;
    this.playbackNode = null;
    this.videoElement = null;
    this.canvas = null;
    this.videoTimer = null;
    this.encoding = false;
    this.audioTimestamp = (Math.random() * 2 ** 32) >>> 0;
    this.audioSeq = 1;
    this.localLevel = 0;
    this.remoteLevels = new Map(); // ssrc -> rms
    this.playbackStats = {};
    this.decoders = new Map(); // ssrc -> {busy, pending}
    this.stats = {
      audioSent: 0, videoSent: 0, videoSkipped: 0, audioReceived: 0, videoReceived: 0,
      videoDecoded: 0, videoDecodeFailed: 0, badMessages: 0,
    };
    this.onVideoFrame = null; // (ssrc, ImageBitmap) => void; the callee may keep it
    this.onLevels = null; // () => void, about 10 times a second
    this.onDevicesChanged = null;
    this.onScreenEnded = null; // () => void: the browser stopped the screen capture
  }

  /**
   * Start the AudioContext and the playback worklet; resolves when both are ready.
   * Call it from a click if possible (browsers' autoplay rules); the context is made
   * synchronously, before the first await, so the click still counts.
   */
  startAudioOutput() {
    if (this.context?.state === "suspended") this.context.resume().catch(() => {});
    this.audioReady ??= this.#openAudio();
    return this.audioReady;
  }

  async #openAudio() {
    const AudioContextImpl = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (!AudioContextImpl) return;
    const context = new AudioContextImpl({ latencyHint: "interactive" });
    this.context = context;
    try {
      await context.audioWorklet.addModule(new URL("./worklets/playback.worklet.js", import.meta.url));
      await context.audioWorklet.addModule(new URL("./worklets/capture.worklet.js", import.meta.url));
      this.playbackNode = new AudioWorkletNode(context, "pymeet-playback", {
        numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1],
      });
      this.playbackNode.port.onmessage = (event) => {
        if (event.data?.type !== "levels") return;
        this.remoteLevels = new Map(Object.entries(event.data.levels).map(([k, v]) => [Number(k), v]));
        this.playbackStats = event.data.stats;
        if (this.onLevels) this.onLevels();
      };
      this.playbackNode.connect(context.destination);
    } catch (error) {
      console.error("pymeet: audio output unavailable", error);
    }
    if (context.state === "suspended") context.resume().catch(() => {});
  }

  /** Ask for the microphone and the camera; each may fail on its own. */
  async startDevices() {
    await this.startAudioOutput();
    const mediaDevices = globalThis.navigator?.mediaDevices;
    if (!mediaDevices?.getUserMedia) {
      const reason = "This page cannot use the camera or microphone here (the browser allows them only on https or localhost).";
      this.devices.mic = { available: false, reason };
      this.devices.cam = { available: false, reason };
      this.#devicesChanged();
      return;
    }
    const { width, height, fps } = this.videoSettings;
    const audio = { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    const video = { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: fps } };
    // One request for both first (one permission prompt); then each alone, so that a
    // refused or missing camera does not cost the microphone, or the other way round.
    if (!this.audioStream && !this.videoStream) {
      try {
        const both = await mediaDevices.getUserMedia({ audio, video });
        this.audioStream = new MediaStream(both.getAudioTracks());
        this.videoStream = new MediaStream(both.getVideoTracks());
      } catch {
        /* find out which one failed below */
      }
    }
    if (!this.audioStream) {
      try {
        this.audioStream = await mediaDevices.getUserMedia({ audio });
      } catch (error) {
        this.devices.mic = { available: false, reason: describeDeviceError(error, "microphone") };
      }
    }
    if (this.audioStream && !this.captureNode) {
      try {
        await this.#startCapture();
        this.devices.mic = { available: true, reason: "" };
      } catch (error) {
        this.devices.mic = { available: false, reason: describeDeviceError(error, "microphone") };
      }
    }
    if (!this.videoStream) {
      try {
        this.videoStream = await mediaDevices.getUserMedia({ video });
      } catch (error) {
        this.devices.cam = { available: false, reason: describeDeviceError(error, "camera") };
      }
    }
    if (this.videoStream && !this.cameraStarted) {
      try {
        await this.#startCamera();
        this.devices.cam = { available: true, reason: "" };
      } catch (error) {
        this.devices.cam = { available: false, reason: describeDeviceError(error, "camera") };
      }
    }
    this.syncTracks();
    this.#devicesChanged();
  }

  /**
   * Enable the tracks only while their medium is on, so the browser shows the camera
   * and microphone as paused when they are off. (Nothing is sent while off anyway.)
   */
  syncTracks() {
    for (const track of this.audioStream?.getAudioTracks() ?? []) track.enabled = Boolean(this.session.mic);
    // While a screen is shared the camera is paused: it is not what is being sent.
    const cameraOn = Boolean(this.session.cam) && this.screenStream === null;
    for (const track of this.videoStream?.getVideoTracks() ?? []) track.enabled = cameraOn;
  }

  #devicesChanged() {
    if (this.onDevicesChanged) this.onDevicesChanged(this.devices);
  }

  async #startCapture() {
    const context = this.context;
    if (!context || !this.playbackNode) throw new Error("audio processing is not available in this browser");
    const source = context.createMediaStreamSource(this.audioStream);
    this.captureNode = new AudioWorkletNode(context, "pymeet-capture", {
      numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1], channelCount: 1,
      channelCountMode: "explicit",
    });
    this.captureNode.port.onmessage = (event) => {
      if (event.data?.type === "frame") this.#onCapturedFrame(event.data.samples, event.data.level);
    };
    // The worklet must be pulled by the graph to run: route it to a silent gain.
    const silent = context.createGain();
    silent.gain.value = 0;
    source.connect(this.captureNode);
    this.captureNode.connect(silent);
    silent.connect(context.destination);
    this.audioSource = source;
  }

  #onCapturedFrame(samples, level) {
    const timestamp = this.audioTimestamp;
    this.audioTimestamp = u32Add(this.audioTimestamp, AUDIO_FRAME_SAMPLES);
    // A muted mic sends nothing and shows no level.
    this.localLevel = this.session.mic ? level : 0;
    if (!this.session.mic || !this.session.room || !this.session.connected) return;
    const message = packMedia({ kind: KIND_AUDIO, timestamp, seq: this.audioSeq }, samples);
    this.audioSeq = u32Add(this.audioSeq, 1);
    if (this.session.sendMedia(message)) this.stats.audioSent += 1;
  }

  async #startCamera() {
    this.#ensureCaptureVideo();
    this.cameraStarted = true;
    if (this.screenStream === null) await this.#showInCapture(this.videoStream);
  }

  /** The hidden <video> and the canvas that every sent frame goes through. */
  #ensureCaptureVideo() {
    if (this.videoElement) return;
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
    video.setAttribute("aria-hidden", "true");
    video.className = "capture-video";
    document.body.appendChild(video);
    this.videoElement = video;
    this.canvas = document.createElement("canvas");
  }

  async #showInCapture(stream) {
    const video = this.videoElement;
    if (video.srcObject !== stream) video.srcObject = stream;
    this.#restartVideoTimer();
    if (stream) await video.play().catch(() => {});
  }

  /** True while a screen, not the camera, is what the video path sends. */
  get sharingScreen() {
    return this.screenStream !== null;
  }

  /**
   * Ask the browser for a screen, window or tab and send it instead of the camera.
   * Rejects with a ScreenShareError (unsupported, refused, ...); nothing changes then.
   */
  async startScreen() {
    if (this.screenStream) return;
    const unavailable = screenShareUnavailableReason();
    if (unavailable) throw new ScreenShareError("unsupported", unavailable);
    const { width, height, fps } = SCREEN_PRESET;
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({
        video: { width: { max: width }, height: { max: height }, frameRate: { ideal: fps, max: fps } },
        audio: false,
      });
    } catch (error) {
      throw describeScreenError(error);
    }
    const track = stream.getVideoTracks()[0];
    if (!track) {
      for (const other of stream.getTracks()) other.stop();
      throw new ScreenShareError("no_source", "The browser shared no picture.");
    }
    // The browser's own "Stop sharing" ends the track.
    track.addEventListener("ended", () => {
      if (this.screenStream === stream && this.onScreenEnded) this.onScreenEnded();
    });
    this.screenStream = stream;
    this.#ensureCaptureVideo();
    this.syncTracks();
    await this.#showInCapture(stream);
  }

  /** Stop sharing the screen; the video path shows the camera again. */
  async stopScreen() {
    const stream = this.screenStream;
    if (!stream) return;
    this.screenStream = null;
    for (const track of stream.getTracks()) track.stop();
    this.syncTracks();
    if (this.videoElement) await this.#showInCapture(this.videoStream);
  }

  /** Change the sent video's size, JPEG quality (0..1) or frame rate. */
  setVideoSettings(settings) {
    this.videoSettings = { ...this.videoSettings, ...settings };
    const { width, height, fps } = this.videoSettings;
    for (const track of this.videoStream?.getVideoTracks() ?? []) {
      // Ask the camera for the new size too; the canvas scales whatever it gets.
      track.applyConstraints({ width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: fps } })
        .catch(() => {});
    }
    this.#restartVideoTimer();
  }

  /** What the video path sends now: the camera's settings, or the screen preset. */
  get #sending() {
    return this.screenStream ? SCREEN_PRESET : this.videoSettings;
  }

  #restartVideoTimer() {
    clearInterval(this.videoTimer);
    if (!this.videoElement) return;
    const fps = Math.max(1, Math.min(30, this.#sending.fps));
    this.videoTimer = setInterval(() => this.#captureVideoFrame(), 1000 / fps);
  }

  #captureVideoFrame() {
    const session = this.session;
    if (!session.cam || !session.room || !session.connected) return;
    const video = this.videoElement;
    if (!video || video.readyState < 2 || !video.videoWidth) return;
    if (this.encoding || session.bufferedAmount > MAX_SOCKET_BACKLOG) {
      this.stats.videoSkipped += 1;
      return;
    }
    const screen = this.screenStream !== null;
    const { quality } = this.#sending;
    const [width, height] = screen
      ? fitWithin(video.videoWidth, video.videoHeight, SCREEN_PRESET.width, SCREEN_PRESET.height)
      : [this.videoSettings.width, this.videoSettings.height];
    const canvas = this.canvas;
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
    const context = canvas.getContext("2d");
    if (screen) {
      // A screen keeps its whole picture: scaled down to fit, never cropped or enlarged.
      context.drawImage(video, 0, 0, width, height);
    } else {
      // Cover: crop the camera picture to the target aspect ratio, centred.
      const scale = Math.max(width / video.videoWidth, height / video.videoHeight);
      const sw = width / scale;
      const sh = height / scale;
      context.drawImage(video, (video.videoWidth - sw) / 2, (video.videoHeight - sh) / 2, sw, sh, 0, 0, width, height);
    }
    const timestamp = Math.floor(performance.now() * VIDEO_CLOCK_PER_MS) % 2 ** 32;
    this.encoding = true;
    canvas.toBlob(async (blob) => {
      try {
        if (!blob || !session.cam || !session.room) return;
        const bytes = new Uint8Array(await blob.arrayBuffer());
        if (session.sendMedia(packMedia({ kind: KIND_VIDEO, timestamp }, bytes))) this.stats.videoSent += 1;
      } finally {
        this.encoding = false;
      }
    }, "image/jpeg", quality);
  }

  /** Handle one binary message from the gateway. */
  handleBinary(data) {
    let message;
    try {
      message = unpackMedia(data);
    } catch (error) {
      if (!(error instanceof MediaFormatError)) throw error;
      this.stats.badMessages += 1;
      return;
    }
    if (message.kind === KIND_AUDIO) {
      this.stats.audioReceived += 1;
      if (!this.playbackNode) return;
      const samples = littleEndianToInt16(message.payload);
      this.playbackNode.port.postMessage(
        { type: "audio", ssrc: message.ssrc, timestamp: message.timestamp, samples }, [samples.buffer]);
    } else {
      this.stats.videoReceived += 1;
      this.#decodeVideo(message.ssrc, message.payload);
    }
  }

  #decodeVideo(ssrc, payload) {
    let decoder = this.decoders.get(ssrc);
    if (!decoder) {
      decoder = { busy: false, pending: null };
      this.decoders.set(ssrc, decoder);
    }
    // Only the newest frame waits while one is being decoded.
    decoder.pending = payload.slice();
    if (!decoder.busy) this.#runDecoder(ssrc, decoder);
  }

  async #runDecoder(ssrc, decoder) {
    decoder.busy = true;
    while (decoder.pending) {
      const bytes = decoder.pending;
      decoder.pending = null;
      try {
        const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
        this.stats.videoDecoded += 1;
        if (this.onVideoFrame) this.onVideoFrame(ssrc, bitmap);
        else bitmap.close();
      } catch {
        this.stats.videoDecodeFailed += 1; // a frame that fails to decode is skipped
      }
    }
    decoder.busy = false;
  }

  /** A sender left: forget its audio and video state. */
  forgetSender(ssrc) {
    this.decoders.delete(ssrc);
    this.remoteLevels.delete(ssrc);
    if (this.playbackNode) this.playbackNode.port.postMessage({ type: "remove", ssrc });
  }

  /** Left the room: drop every remote stream. */
  clearRemote() {
    this.decoders.clear();
    this.remoteLevels.clear();
    if (this.playbackNode) this.playbackNode.port.postMessage({ type: "clear" });
  }

  /** What the local preview shows: the shared screen, else the camera, or null. */
  get previewStream() {
    return this.screenStream ?? this.videoStream;
  }

  /** Release the devices and audio (logout). */
  async stop() {
    clearInterval(this.videoTimer);
    for (const stream of [this.audioStream, this.videoStream, this.screenStream]) {
      if (stream) for (const track of stream.getTracks()) track.stop();
    }
    this.audioStream = this.videoStream = this.screenStream = null;
    if (this.videoElement) this.videoElement.remove();
    this.videoElement = null;
    this.cameraStarted = false;
    if (this.captureNode) this.captureNode.port.postMessage({ type: "stop" });
    this.captureNode = this.playbackNode = null;
    if (this.context) await this.context.close().catch(() => {});
    this.context = null;
    this.audioReady = null;
    this.devices = {
      mic: { available: false, reason: "The microphone has not been started yet." },
      cam: { available: false, reason: "The camera has not been started yet." },
    };
  }
}

/** [width, height] of a `width`×`height` picture shrunk to fit a box (never enlarged). */
export function fitWithin(width, height, maxWidth, maxHeight) {
  if (!(width > 0 && height > 0)) return [maxWidth, maxHeight];
  const scale = Math.min(1, maxWidth / width, maxHeight / height);
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}
