// The chat panel: one tab for the room, one per direct-message conversation, with
// history, unread badges and timestamps, and shared files as cards in the same
// timeline (interleaved by `ts`, docs/PROTOCOL.md "Files"). Files are sent with the
// "Send file" button or by dropping them on the panel; a card downloads its file with
// progress and says whether its SHA-256 matched. The panel only renders: sending,
// loading history and moving files are callbacks, so it holds no network state.

import { el, icon, initials, hueFor, formatTime, fullTime, setFieldError } from "./ui.js";
import { checkText, identityKey } from "./validation.js";
import { humanSize, mergeTimeline } from "./timeline.js";

const ROOM_KEY = "room";

function dmKey(username) {
  return `dm:${identityKey(username)}`;
}

function newConversation(key, kind, title, loaded) {
  return { key, kind, title, peer: title, messages: new Map(), files: new Map(), unread: 0, loaded };
}

export class ChatPanel {
  /**
   * @param {object} callbacks me() -> username, sendRoom(text), sendDm(to, text),
   *   loadDm(user) -> {messages: [DirectMessage], files: [FileInfo]}; each send
   *   resolves with the stored message. upload({room} | {to}, File, onProgress) ->
   *   FileInfo; download(FileInfo, onProgress) -> {blob}; save(blob, name);
   *   describeError(error) -> a sentence.
   */
  constructor(callbacks) {
    this.callbacks = callbacks;
    this.tabsEl = document.getElementById("chat-tabs");
    this.listEl = document.getElementById("chat-messages");
    this.bodyEl = document.getElementById("chat-body");
    this.emptyEl = document.getElementById("chat-empty");
    this.form = document.getElementById("chat-form");
    this.input = document.getElementById("chat-input");
    this.uploadsEl = document.getElementById("uploads");
    this.fileInput = document.getElementById("file-input");
    this.dropZone = document.getElementById("drop-zone");
    this.conversations = new Map(); // key -> {key, kind, title, peer, messages: Map, files: Map, unread, loaded}
    this.order = [];
    this.active = null;
    this.downloads = new Map(); // file id -> {state: "downloading" | "verified" | "failed", received, total, text}
    this.form.querySelector("button[type=submit]").append(icon("send"));
    this.#bindFiles();
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#send();
    });
    this.input.addEventListener("keydown", (event) => {
      // Enter sends; Shift+Enter starts a new line; never while an IME is composing.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.#send();
      }
    });
    this.input.addEventListener("input", () => {
      setFieldError(this.input, "");
      this.#autoGrow();
    });
    this.render();
  }

  // -- conversations ----------------------------------------------------------------------

  /** Entered a room: its tab comes first and shows `history` and `files` (oldest first). */
  setRoom(name, history, files = []) {
    const existing = this.conversations.get(ROOM_KEY);
    const sameRoom = existing && identityKey(existing.peer) === identityKey(name);
    const conversation = sameRoom ? existing : newConversation(ROOM_KEY, "room", name, true);
    for (const message of history || []) conversation.messages.set(message.id, message);
    for (const file of files || []) conversation.files.set(file.id, file);
    this.conversations.set(ROOM_KEY, conversation);
    this.order = [ROOM_KEY, ...this.order.filter((key) => key !== ROOM_KEY)];
    this.select(ROOM_KEY);
  }

  clearRoom() {
    this.conversations.delete(ROOM_KEY);
    this.order = this.order.filter((key) => key !== ROOM_KEY);
    if (this.active === ROOM_KEY) this.active = this.order[0] ?? null;
    this.render();
  }

  addRoomMessage(message) {
    const conversation = this.conversations.get(ROOM_KEY);
    if (!conversation) return;
    this.#add(conversation, message);
  }

  /** A direct message, sent or received: it goes to the conversation with the other party. */
  addDm(message) {
    this.#add(this.#dmConversation(this.#peerOf(message)), message);
  }

  /** A file shared in the room (FileInfo). */
  addRoomFile(file) {
    const conversation = this.conversations.get(ROOM_KEY);
    if (conversation) this.#add(conversation, file, "file");
  }

  /** A file shared directly, sent or received (FileInfo; `to` is the recipient). */
  addDmFile(file, to) {
    this.#add(this.#dmConversation(this.#peerOf({ from: file.from, to })), file, "file");
  }

  #peerOf(item) {
    return identityKey(item.from) === identityKey(this.callbacks.me()) ? item.to : item.from;
  }

  /** Open (and select) the conversation with `username`, loading its history once. */
  async openDm(username, { select = true } = {}) {
    const conversation = this.#dmConversation(username);
    if (select) this.select(conversation.key);
    if (!conversation.loaded) {
      conversation.loaded = true;
      try {
        const history = await this.callbacks.loadDm(username);
        for (const message of history.messages || []) conversation.messages.set(message.id, message);
        for (const file of history.files || []) conversation.files.set(file.id, file);
      } catch (error) {
        conversation.loaded = false;
        console.warn("pymeet: could not load the conversation", error);
      }
      this.render();
    }
    if (select) this.input.focus();
  }

  closeDm(key) {
    this.conversations.delete(key);
    this.order = this.order.filter((item) => item !== key);
    if (this.active === key) this.active = this.order[0] ?? null;
    this.render();
  }

  select(key) {
    this.active = key;
    const conversation = this.conversations.get(key);
    if (conversation) conversation.unread = 0;
    this.render();
    this.#scrollToEnd();
  }

  /** After a reconnect: conversations reload their history (merged by id). */
  markStale() {
    for (const conversation of this.conversations.values()) {
      if (conversation.kind === "dm") conversation.loaded = false;
    }
    const active = this.conversations.get(this.active);
    if (active?.kind === "dm") this.openDm(active.peer, { select: false });
  }

  #dmConversation(username) {
    const key = dmKey(username);
    let conversation = this.conversations.get(key);
    if (!conversation) {
      conversation = newConversation(key, "dm", username, false);
      this.conversations.set(key, conversation);
      this.order.push(key);
    }
    return conversation;
  }

  #add(conversation, item, kind = "message") {
    const store = kind === "file" ? conversation.files : conversation.messages;
    if (store.has(item.id)) return;
    store.set(item.id, item);
    const mine = identityKey(item.from) === identityKey(this.callbacks.me());
    if (this.active === null) this.active = conversation.key;
    if (conversation.key !== this.active && !mine) conversation.unread += 1;
    if (!mine) {
      // Screen readers hear each new message once (the list itself re-renders).
      const where = conversation.kind === "room" ? `in ${conversation.title}` : "privately";
      const what = kind === "file" ? `shared the file ${item.name} (${humanSize(item.size)})` : item.text;
      document.getElementById("chat-announcer").textContent = `${item.from} ${where}: ${what}`;
    }
    const nearEnd = this.bodyEl.scrollHeight - this.bodyEl.scrollTop - this.bodyEl.clientHeight < 80;
    this.render();
    if (nearEnd || mine) this.#scrollToEnd();
  }

  // -- sending -------------------------------------------------------------------------------

  async #send() {
    const conversation = this.conversations.get(this.active);
    if (!conversation) return;
    const text = this.input.value;
    const problem = checkText(text);
    if (problem) {
      if (text.trim()) setFieldError(this.input, problem);
      return;
    }
    const button = this.form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const message = conversation.kind === "room"
        ? await this.callbacks.sendRoom(text.trim())
        : await this.callbacks.sendDm(conversation.peer, text.trim());
      this.input.value = "";
      this.#autoGrow();
      if (conversation.kind === "room") this.addRoomMessage(message);
      else this.addDm(message);
    } catch (error) {
      setFieldError(this.input, this.callbacks.describeError(error));
    } finally {
      button.disabled = false;
      this.input.focus();
    }
  }

  #autoGrow() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight + 2, 140)}px`;
  }

  #scrollToEnd() {
    this.bodyEl.scrollTop = this.bodyEl.scrollHeight;
  }

  // -- rendering -------------------------------------------------------------------------------

  render() {
    this.#renderTabs();
    this.#renderMessages();
  }

  #renderTabs() {
    this.tabsEl.replaceChildren();
    for (const key of this.order) {
      const conversation = this.conversations.get(key);
      const selected = key === this.active;
      const label = conversation.kind === "room" ? `Room chat: ${conversation.title}` : `Messages with ${conversation.title}`;
      const tab = el("button", {
        type: "button", role: "tab", class: "chat-tab", "aria-selected": selected ? "true" : "false",
        "aria-controls": "chat-body", tabindex: selected ? "0" : "-1",
        dataset: { key, kind: conversation.kind, peer: conversation.peer },
        title: label, onclick: () => this.select(key),
      },
      icon(conversation.kind === "room" ? "hash" : "user"),
      el("span", { class: "tab-title" }, conversation.title),
      conversation.unread ? el("span", { class: "badge", "aria-label": `${conversation.unread} unread` }, String(conversation.unread)) : null);
      tab.addEventListener("keydown", (event) => this.#tabKey(event, key));
      const wrap = el("div", { class: `chat-tab-wrap${selected ? " selected" : ""}`, role: "presentation" }, tab);
      if (conversation.kind === "dm") {
        wrap.append(el("button", {
          type: "button", class: "tab-close", "aria-label": `Close the conversation with ${conversation.title}`,
          title: "Close", onclick: () => this.closeDm(key),
        }, icon("close")));
      }
      this.tabsEl.append(wrap);
    }
    const active = this.conversations.get(this.active);
    this.form.hidden = !active;
    if (active) {
      this.input.placeholder = active.kind === "room" ? "Message everyone…" : `Message ${active.title}…`;
      this.input.setAttribute("aria-label", active.kind === "room" ? `Message to the room ${active.title}` : `Message to ${active.title}`);
    }
  }

  #tabKey(event, key) {
    // Arrow keys move between conversations (the ARIA tabs pattern).
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const index = this.order.indexOf(key);
    const next = this.order[(index + (event.key === "ArrowRight" ? 1 : this.order.length - 1)) % this.order.length];
    this.select(next);
    this.tabsEl.querySelector(`[data-key="${CSS.escape(next)}"]`)?.focus();
  }

  #renderMessages() {
    const conversation = this.conversations.get(this.active);
    this.listEl.replaceChildren();
    if (!conversation) {
      this.emptyEl.hidden = false;
      this.emptyEl.textContent = "Join a room to chat with everyone in it, or press “Message” next to a person to write to them privately.";
      return;
    }
    const timeline = mergeTimeline([...conversation.messages.values()], [...conversation.files.values()]);
    this.emptyEl.hidden = timeline.length > 0;
    this.emptyEl.textContent = conversation.kind === "room"
      ? "No messages in this room yet. Say hello!"
      : `This is the start of your conversation with ${conversation.title}.`;
    const me = identityKey(this.callbacks.me());
    let lastDay = null;
    for (const { kind, item } of timeline) {
      const day = new Date(item.ts * 1000).toDateString();
      if (day !== lastDay) {
        lastDay = day;
        this.listEl.append(el("li", { class: "day-divider", "aria-hidden": "true" },
          new Date(item.ts * 1000).toLocaleDateString([], { weekday: "long", day: "numeric", month: "long" })));
      }
      const mine = identityKey(item.from) === me;
      const avatar = el("span", { class: "avatar", "aria-hidden": "true" }, initials(item.from));
      avatar.style.setProperty("--hue", hueFor(item.from));
      const meta = el("div", { class: "message-meta" },
        el("span", { class: "message-from" }, mine ? `${item.from} (you)` : item.from),
        el("time", { class: "message-time", datetime: new Date(item.ts * 1000).toISOString(), title: fullTime(item.ts) }, formatTime(item.ts)));
      if (kind === "file") {
        this.listEl.append(el("li", { class: `message file${mine ? " mine" : ""}`, dataset: { fileId: item.id, from: item.from } },
          avatar, el("div", { class: "message-body" }, meta, this.#fileCard(item))));
      } else {
        this.listEl.append(el("li", { class: `message${mine ? " mine" : ""}`, dataset: { id: item.id, from: item.from } },
          avatar, el("div", { class: "message-body" }, meta, el("div", { class: "message-text" }, item.text))));
      }
    }
  }

  // -- files -------------------------------------------------------------------------------------

  #fileCard(file) {
    const progress = el("progress", { class: "file-progress", max: "1", value: "0", "aria-label": `Download of ${file.name}` });
    const status = el("p", { class: "file-status", role: "status" });
    const button = el("button", {
      type: "button", class: "small file-download", "aria-label": `Download ${file.name}`,
      title: `Download ${file.name}`, onclick: () => this.#download(file),
    }, icon("download"), el("span", {}, "Download"));
    const card = el("div", { class: "file-card" },
      el("span", { class: "file-icon", "aria-hidden": "true" }, icon("file")),
      el("div", { class: "file-info" },
        el("div", { class: "file-name", title: file.name }, file.name),
        el("div", { class: "file-size" }, humanSize(file.size))),
      button);
    const wrap = el("div", { class: "file-wrap" }, card, progress, status);
    this.#showDownload(wrap, this.downloads.get(file.id));
    return wrap;
  }

  /** Reflect a download's state in its card (`wrap`), without re-rendering the list. */
  #showDownload(wrap, state) {
    const progress = wrap.querySelector(".file-progress");
    const status = wrap.querySelector(".file-status");
    const button = wrap.querySelector(".file-download");
    wrap.dataset.state = state?.state ?? "idle";
    progress.hidden = state?.state !== "downloading";
    if (state?.state === "downloading") {
      progress.value = state.total > 0 ? Math.min(1, state.received / state.total) : 0;
    }
    button.disabled = state?.state === "downloading";
    status.textContent = state?.text ?? "";
    status.className = `file-status${state?.state === "failed" ? " error" : state?.state === "verified" ? " ok" : ""}`;
  }

  #updateDownload(fileId, state) {
    this.downloads.set(fileId, state);
    const wrap = this.listEl.querySelector(`li[data-file-id="${CSS.escape(fileId)}"] .file-wrap`);
    if (wrap) this.#showDownload(wrap, state);
  }

  async #download(file) {
    if (this.downloads.get(file.id)?.state === "downloading") return;
    const started = { state: "downloading", received: 0, total: file.size, text: `Downloading… 0 of ${humanSize(file.size)}` };
    this.#updateDownload(file.id, started);
    try {
      const { blob } = await this.callbacks.download(file, (received, total) => {
        this.#updateDownload(file.id, {
          state: "downloading", received, total,
          text: `Downloading… ${humanSize(received)} of ${humanSize(total)}`,
        });
      });
      this.#updateDownload(file.id, { state: "verified", received: file.size, total: file.size, text: "Verified: the SHA-256 matches. Saved to your downloads." });
      this.callbacks.save(blob, file.name);
    } catch (error) {
      this.#updateDownload(file.id, { state: "failed", received: 0, total: file.size, text: this.callbacks.describeError(error) });
    }
  }

  #bindFiles() {
    const button = document.getElementById("send-file");
    button.append(icon("attach"));
    button.addEventListener("click", () => {
      if (this.conversations.get(this.active)) this.fileInput.click();
    });
    this.fileInput.addEventListener("change", () => {
      const files = [...this.fileInput.files];
      this.fileInput.value = "";
      this.sendFiles(files);
    });
    // Drag and drop onto the whole chat panel. dragenter/dragleave fire for every child,
    // so a counter tells when the pointer really left.
    const panel = this.form.closest(".chat");
    let depth = 0;
    const carriesFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes("Files");
    const showZone = (on) => {
      const conversation = this.conversations.get(this.active);
      this.dropZone.textContent = conversation
        ? `Drop to send to ${conversation.kind === "room" ? `everyone in ${conversation.title}` : conversation.title}`
        : "Open a conversation first, then drop files here to send them.";
      this.dropZone.hidden = !on;
      panel.classList.toggle("dropping", on);
    };
    panel.addEventListener("dragenter", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth += 1;
      showZone(true);
    });
    panel.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = this.conversations.get(this.active) ? "copy" : "none";
    });
    panel.addEventListener("dragleave", (event) => {
      if (!carriesFiles(event)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) showZone(false);
    });
    panel.addEventListener("drop", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth = 0;
      showZone(false);
      this.sendFiles([...event.dataTransfer.files]);
    });
  }

  /** Send files to the open conversation, each with its own progress row. */
  async sendFiles(files) {
    const conversation = this.conversations.get(this.active);
    if (!conversation) {
      this.#uploadRow("", "Open a conversation first: files go to the room or to the person you are writing to.", true);
      return;
    }
    const target = conversation.kind === "room" ? { room: conversation.peer } : { to: conversation.peer };
    await Promise.all(files.map((file) => this.#upload(conversation, target, file)));
  }

  async #upload(conversation, target, file) {
    const row = this.#uploadRow(file.name, `Sending “${file.name}”… 0 %`, false);
    const progress = row.querySelector("progress");
    try {
      const info = await this.callbacks.upload(target, file, (sent, total) => {
        const fraction = total > 0 ? Math.min(1, sent / total) : 0;
        progress.value = fraction;
        row.querySelector(".upload-text").textContent = `Sending “${file.name}”… ${Math.round(fraction * 100)} %`;
      });
      row.remove();
      if (conversation.kind === "room") this.addRoomFile(info);
      else this.addDmFile(info, conversation.peer);
      this.#scrollToEnd();
    } catch (error) {
      progress.remove();
      row.classList.add("error");
      row.setAttribute("role", "alert");
      row.querySelector(".upload-text").textContent = this.callbacks.describeError(error);
    }
  }

  #uploadRow(name, text, failed) {
    const row = el("li", { class: `upload${failed ? " error" : ""}`, dataset: { name }, role: failed ? "alert" : null },
      el("span", { class: "upload-text" }, text),
      failed ? null : el("progress", { max: "1", value: "0", "aria-label": `Upload of ${name}` }),
      el("button", {
        type: "button", class: "upload-dismiss", "aria-label": "Dismiss", title: "Dismiss",
        onclick: () => row.remove(),
      }, icon("close")));
    this.uploadsEl.append(row);
    return row;
  }
}
