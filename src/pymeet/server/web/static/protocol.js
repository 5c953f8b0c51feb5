// The JSON request / reply / event layer of PROTOCOL.md §2 over one WebSocket (§5).
//
// `RpcChannel` wraps an open WebSocket-like object (send, close, binaryType and the
// onmessage / onclose handlers), so tests can hand it a fake. It promises:
//
// - `request(type, fields)` sends {"type", "id", ...fields} with a fresh positive id
//   and resolves with the reply's result fields (without type, id and ok), or rejects
//   with a RequestError (code, message, field), a RequestTimeout, or ConnectionClosed.
// - Events (server messages without an id) go to `on(type, callback)` handlers, and
//   to "*" handlers, in arrival order. Binary messages go to `onBinary(ArrayBuffer)`.
// - When the socket closes, every pending request rejects with ConnectionClosed and
//   `onClose(reason)` is called once.

export const PROTOCOL_VERSION = 1;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10000;

export class RequestError extends Error {
  constructor(code, message, field = null, extra = {}) {
    super(message || code);
    this.name = "RequestError";
    this.code = code;
    this.field = field;
    this.extra = extra;
  }
}

export class RequestTimeout extends Error {
  constructor(type, ms) {
    super(`no reply to ${type} within ${Math.round(ms / 1000)} s`);
    this.name = "RequestTimeout";
    this.code = "timeout";
  }
}

export class ConnectionClosed extends Error {
  constructor(message = "not connected") {
    super(message);
    this.name = "ConnectionClosed";
    this.code = "connection_closed";
  }
}

export class RpcChannel {
  /**
   * @param {WebSocket} socket an open socket
   * @param {object} [options] requestTimeoutMs, setTimeout/clearTimeout (for tests)
   */
  constructor(socket, options = {}) {
    this.socket = socket;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.setTimer = options.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimeout ?? ((handle) => clearTimeout(handle));
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer, type}
    this.handlers = new Map(); // type -> [callback]
    this.onBinary = null;
    this.onClose = null;
    this.closed = false;
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => this.#closed(event?.reason || `closed (code ${event?.code ?? "?"})`);
    socket.onerror = () => {}; // onclose follows
  }

  /** Register an event handler; returns a function that removes it. */
  on(type, callback) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(callback);
    return () => {
      const list = this.handlers.get(type) || [];
      const index = list.indexOf(callback);
      if (index >= 0) list.splice(index, 1);
    };
  }

  request(type, fields = {}, { timeoutMs } = {}) {
    if (this.closed) return Promise.reject(new ConnectionClosed());
    const id = this.nextId++;
    const message = { ...fields, type, id };
    const ms = timeoutMs ?? this.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = this.setTimer(() => {
        if (this.pending.delete(id)) reject(new RequestTimeout(type, ms));
      }, ms);
      this.pending.set(id, { resolve, reject, timer, type });
      try {
        this.socket.send(JSON.stringify(message));
      } catch (error) {
        this.pending.delete(id);
        this.clearTimer(timer);
        reject(new ConnectionClosed(String(error?.message || error)));
      }
    });
  }

  /** Send one binary media message; false when it could not be sent. */
  sendBinary(buffer) {
    if (this.closed) return false;
    try {
      this.socket.send(buffer);
      return true;
    } catch {
      return false;
    }
  }

  /** Bytes queued in the socket but not yet sent (back-pressure for video). */
  get bufferedAmount() {
    return this.socket.bufferedAmount ?? 0;
  }

  close(code = 1000, reason = "bye") {
    try {
      this.socket.close(code, reason);
    } catch {
      /* already closed */
    }
    this.#closed(reason);
  }

  /** Handle one incoming WebSocket message (string or ArrayBuffer). */
  receive(data) {
    if (typeof data !== "string") {
      if (this.onBinary) this.onBinary(data);
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      console.warn("pymeet: ignoring a text message that is not JSON");
      return;
    }
    if (message === null || typeof message !== "object" || typeof message.type !== "string") return;
    if (message.type === "reply") {
      this.#reply(message);
      return;
    }
    this.#dispatch(message);
  }

  #reply(message) {
    const entry = this.pending.get(message.id);
    if (!entry) {
      if (message.ok === false) {
        // A reply without a usable id (bad_request, frame_too_large): surface it.
        this.#dispatch({ type: "error", error: message.error });
      }
      return;
    }
    this.pending.delete(message.id);
    this.clearTimer(entry.timer);
    if (message.ok) {
      const { type: _type, id: _id, ok: _ok, ...result } = message;
      entry.resolve(result);
    } else {
      const error = message.error || {};
      const { code, message: text, field, ...extra } = error;
      entry.reject(new RequestError(code || "internal", text || code || "request failed", field ?? null, extra));
    }
  }

  #dispatch(message) {
    for (const key of [message.type, "*"]) {
      for (const callback of [...(this.handlers.get(key) || [])]) {
        try {
          callback(message);
        } catch (error) {
          console.error("pymeet: event handler failed", message.type, error);
        }
      }
    }
  }

  #closed(reason) {
    if (this.closed) return;
    this.closed = true;
    for (const [, entry] of this.pending) {
      this.clearTimer(entry.timer);
      entry.reject(new ConnectionClosed(`the connection closed: ${reason}`));
    }
    this.pending.clear();
    if (this.onClose) this.onClose(reason);
  }
}

/** Open a WebSocket and resolve with it once open (reject on failure or timeout). */
export function openSocket(url, timeoutMs = 10000, WebSocketImpl = globalThis.WebSocket) {
  return new Promise((resolve, reject) => {
    let socket;
    try {
      socket = new WebSocketImpl(url);
    } catch (error) {
      reject(new ConnectionClosed(String(error?.message || error)));
      return;
    }
    socket.binaryType = "arraybuffer";
    const timer = setTimeout(() => {
      socket.onopen = socket.onclose = socket.onerror = null;
      try { socket.close(); } catch { /* ignore */ }
      reject(new ConnectionClosed("connecting timed out"));
    }, timeoutMs);
    socket.onopen = () => {
      clearTimeout(timer);
      socket.onopen = socket.onclose = socket.onerror = null;
      resolve(socket);
    };
    socket.onerror = () => {};
    socket.onclose = (event) => {
      clearTimeout(timer);
      reject(new ConnectionClosed(`could not connect (code ${event.code})`));
    };
  });
}

/** The gateway URL next to the page: ws(s)://host/ws. */
export function gatewayUrl(location = globalThis.location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}
