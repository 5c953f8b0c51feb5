// The chat panel: one tab for the room, one per direct-message conversation, with
// history, unread badges and timestamps. It only renders; sending and loading history
// are callbacks into the session, so the panel holds no network state of its own.

import { el, icon, initials, hueFor, formatTime, fullTime, setFieldError } from "./ui.js";
import { checkText, identityKey } from "./validation.js";

const ROOM_KEY = "room";

function dmKey(username) {
  return `dm:${identityKey(username)}`;
}

export class ChatPanel {
  /**
   * @param {object} callbacks me() -> username, sendRoom(text), sendDm(to, text),
   *   loadDm(user) -> [DirectMessage]; each send resolves with the stored message.
   */
  constructor(callbacks) {
    this.callbacks = callbacks;
    this.tabsEl = document.getElementById("chat-tabs");
    this.listEl = document.getElementById("chat-messages");
    this.bodyEl = document.getElementById("chat-body");
    this.emptyEl = document.getElementById("chat-empty");
    this.form = document.getElementById("chat-form");
    this.input = document.getElementById("chat-input");
    this.conversations = new Map(); // key -> {key, kind, title, peer, messages: Map, unread, loaded}
    this.order = [];
    this.active = null;
    this.form.querySelector("button[type=submit]").append(icon("send"));
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

  /** Entered a room: its tab comes first and shows `history` (oldest first). */
  setRoom(name, history) {
    const existing = this.conversations.get(ROOM_KEY);
    const sameRoom = existing && identityKey(existing.peer) === identityKey(name);
    const conversation = sameRoom ? existing : { key: ROOM_KEY, kind: "room", title: name, peer: name, messages: new Map(), unread: 0, loaded: true };
    for (const message of history || []) conversation.messages.set(message.id, message);
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
    const me = this.callbacks.me();
    const peer = identityKey(message.from) === identityKey(me) ? message.to : message.from;
    const conversation = this.#dmConversation(peer);
    this.#add(conversation, message);
  }

  /** Open (and select) the conversation with `username`, loading its history once. */
  async openDm(username, { select = true } = {}) {
    const conversation = this.#dmConversation(username);
    if (select) this.select(conversation.key);
    if (!conversation.loaded) {
      conversation.loaded = true;
      try {
        const history = await this.callbacks.loadDm(username);
        for (const message of history) conversation.messages.set(message.id, message);
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
      conversation = { key, kind: "dm", title: username, peer: username, messages: new Map(), unread: 0, loaded: false };
      this.conversations.set(key, conversation);
      this.order.push(key);
    }
    return conversation;
  }

  #add(conversation, message) {
    if (conversation.messages.has(message.id)) return;
    conversation.messages.set(message.id, message);
    const mine = identityKey(message.from) === identityKey(this.callbacks.me());
    if (this.active === null) this.active = conversation.key;
    if (conversation.key !== this.active && !mine) conversation.unread += 1;
    if (!mine) {
      // Screen readers hear each new message once (the list itself re-renders).
      const where = conversation.kind === "room" ? `in ${conversation.title}` : "privately";
      document.getElementById("chat-announcer").textContent = `${message.from} ${where}: ${message.text}`;
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
      this.input.placeholder = active.kind === "room" ? `Message everyone in ${active.title}…` : `Message ${active.title}…`;
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
    const messages = [...conversation.messages.values()].sort((a, b) => a.id - b.id);
    this.emptyEl.hidden = messages.length > 0;
    this.emptyEl.textContent = conversation.kind === "room"
      ? "No messages in this room yet. Say hello!"
      : `This is the start of your conversation with ${conversation.title}.`;
    const me = identityKey(this.callbacks.me());
    let lastDay = null;
    for (const message of messages) {
      const day = new Date(message.ts * 1000).toDateString();
      if (day !== lastDay) {
        lastDay = day;
        this.listEl.append(el("li", { class: "day-divider", "aria-hidden": "true" },
          new Date(message.ts * 1000).toLocaleDateString([], { weekday: "long", day: "numeric", month: "long" })));
      }
      const mine = identityKey(message.from) === me;
      const avatar = el("span", { class: "avatar", "aria-hidden": "true" }, initials(message.from));
      avatar.style.setProperty("--hue", hueFor(message.from));
      this.listEl.append(el("li", { class: `message${mine ? " mine" : ""}`, dataset: { id: message.id, from: message.from } },
        avatar,
        el("div", { class: "message-body" },
          el("div", { class: "message-meta" },
            el("span", { class: "message-from" }, mine ? `${message.from} (you)` : message.from),
            el("time", { class: "message-time", datetime: new Date(message.ts * 1000).toISOString(), title: fullTime(message.ts) }, formatTime(message.ts))),
          el("div", { class: "message-text" }, message.text))));
    }
  }
}
