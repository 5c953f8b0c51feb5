// Sending and fetching shared files over HTTP on the web port (PROTOCOL.md §3.4;
// docs/PROTOCOL.md, "Files"). No DOM here: the chat panel shows what these report.
//
// - `uploadFile({file, room | to, token, onProgress})` POSTs the raw bytes with
//   XMLHttpRequest (whose upload events give progress) and resolves with the stored
//   FileInfo, or rejects with a TransferError whose message a person can act on.
// - `downloadFile({file, token, onProgress})` streams `GET /files/<id>`, counting the
//   bytes against Content-Length, checks the SHA-256 of what arrived against the
//   FileInfo's `sha256`, and resolves with {blob, sha256}. A mismatch rejects with a
//   TransferError of code "mismatch"; nothing unverified is handed out.

import { Sha256, availableSubtle, digestHex, toHex } from "./sha256.js";
import { humanSize } from "./timeline.js";

export class TransferError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.name = "TransferError";
    this.code = code;
    this.status = status;
  }
}

/**
 * A sentence for a refused upload or download.
 * @param {number} status the HTTP status (0: no response at all)
 * @param {object|null} body the parsed JSON error body, if any: {error: {code, message}}
 * @param {string} name the file's name
 * @param {"upload"|"download"} action
 */
export function describeTransferError(status, body, name, action) {
  const error = body?.error ?? {};
  const verb = action === "upload" ? "send" : "download";
  switch (status) {
    case 0:
      return `Could not ${verb} “${name}”: the connection to the server was lost.`;
    case 401:
      return `Could not ${verb} “${name}”: your session has ended. Sign in again and retry.`;
    case 403:
      return action === "upload"
        ? `Could not send “${name}”: you can only share files in a room you are in, or with someone you can message.`
        : `Could not download “${name}”: it is shared only with the room's current members and the people in the conversation.`;
    case 404:
      if (error.code === "room_not_found") return `Could not send “${name}”: that room no longer exists.`;
      if (error.code === "user_not_found") return `Could not send “${name}”: there is no such user.`;
      return `Could not ${verb} “${name}”: the server does not have it any more.`;
    case 410:
      return `Could not download “${name}”: its contents are missing on the server.`;
    case 413: {
      const limit = limitFromMessage(error.message);
      return limit === null
        ? `“${name}” is too large for this server.`
        : `“${name}” is too large: files are limited to ${humanSize(limit)}.`;
    }
    default:
      return `Could not ${verb} “${name}”: ${error.message || `the server answered ${status}`}.`;
  }
}

function limitFromMessage(message) {
  const match = /limited to (\d+) bytes/.exec(String(message ?? ""));
  return match ? Number(match[1]) : null;
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** POST one file; resolves with its FileInfo. `onProgress(sentBytes, totalBytes)`. */
export function uploadFile({ file, room = null, to = null, token, onProgress = null, XHR = globalThis.XMLHttpRequest }) {
  const name = file.name || "file";
  const query = room !== null ? `room=${encodeURIComponent(room)}` : `to=${encodeURIComponent(to)}`;
  return new Promise((resolve, reject) => {
    const xhr = new XHR();
    xhr.open("POST", `/files?${query}`);
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.setRequestHeader("X-Filename", encodeURIComponent(name));
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.responseType = "text";
    if (onProgress) {
      xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    }
    xhr.onload = () => {
      const body = parseJson(xhr.responseText);
      if (xhr.status === 201 && body?.file) {
        if (onProgress) onProgress(file.size, file.size);
        resolve(body.file);
      } else {
        reject(new TransferError(body?.error?.code || "http", describeTransferError(xhr.status, body, name, "upload"), xhr.status));
      }
    };
    xhr.onerror = () => reject(new TransferError("network", describeTransferError(0, null, name, "upload")));
    xhr.onabort = () => reject(new TransferError("aborted", `Sending “${name}” was cancelled.`));
    xhr.send(file);
  });
}

/**
 * Fetch a shared file and verify it. `onProgress(receivedBytes, totalBytes)`;
 * `subtle`: SubtleCrypto to hash with (default: the page's, if any; null: pure JS).
 */
export async function downloadFile({ file, token, onProgress = null, subtle = availableSubtle(), fetchImpl = globalThis.fetch }) {
  let response;
  try {
    response = await fetchImpl(`/files/${encodeURIComponent(file.id)}`, {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
  } catch {
    throw new TransferError("network", describeTransferError(0, null, file.name, "download"));
  }
  if (!response.ok) {
    const body = parseJson(await response.text().catch(() => ""));
    throw new TransferError(body?.error?.code || "http", describeTransferError(response.status, body, file.name, "download"), response.status);
  }
  const total = Number(response.headers.get("Content-Length")) || file.size;
  const chunks = [];
  // Without SubtleCrypto (plain http), hash while the bytes arrive.
  const running = subtle ? null : new Sha256();
  let received = 0;
  if (onProgress) onProgress(0, total);
  try {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      if (running) running.update(value);
      received += value.length;
      if (onProgress) onProgress(received, total);
    }
  } catch {
    throw new TransferError("network", describeTransferError(0, null, file.name, "download"));
  }
  const sha256 = running ? toHex(running.digest()) : await digestHex(chunks, { subtle });
  if (sha256 !== String(file.sha256).toLowerCase()) {
    throw new TransferError("mismatch",
      `“${file.name}” did not arrive intact: its SHA-256 does not match the one shared (${received} bytes received). It was not saved.`);
  }
  return { blob: new Blob(chunks, { type: "application/octet-stream" }), sha256, size: received };
}

/** Offer a blob to the person as a download named `name`. */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.className = "visually-hidden";
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started by the time the click returns; keep the URL a little longer.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
