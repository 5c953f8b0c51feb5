// One PyMeet session in the browser: the WebSocket gateway (PROTOCOL.md §5) with
// hello, login, rooms, chat and media state, and automatic reconnection.
//
// Promises (the same as pymeet.client.MeetingClient on the Python side):
//
// - Every request has a method; a refused request rejects with a RequestError.
// - `user`, `room`, `members`, `hands` and `rooms` are updated from replies and events
//   before listeners hear about them. `hands` lists the raised hands in raise order
//   (docs/PROTOCOL.md, "Raised hands").
// - Listeners: `on(type, callback)` for server events, "*" for all, and the local
//   events "connection" ({state}), "restored" ({room, join, rejoinError}) and
//   "failed" ({reason}).
// - When the WebSocket drops, the session reconnects with capped exponential backoff:
//   hello, login again with the credentials kept in memory (never stored), rejoin the
//   room with its password, and restore the mic and camera state. It gives up when
//   the server refuses the login, and never reconnects after logout or "replaced".

import { PROTOCOL_VERSION, RpcChannel, ConnectionClosed, RequestError, RequestTimeout, gatewayUrl, openSocket } from "./protocol.js";
import { identityKey } from "./validation.js";

export const CLIENT_NAME = "pymeet-browser/0.1";
const KEEPALIVE_MS = 20000;
const RECONNECT_INITIAL_MS = 500;
const RECONNECT_MAX_MS = 10000;
const FATAL_LOGIN_CODES = new Set(["auth_failed", "invalid_field", "unsupported_protocol"]);

export class MeetingSession {
  constructor({ url = gatewayUrl(), requestTimeoutMs = 10000 } = {}) {
    this.url = url;
    this.requestTimeoutMs = requestTimeoutMs;
    this.channel = null;
    this.connecting = null;
    this.state = "offline"; // offline | connecting | online | reconnecting
    this.serverInfo = {};
    this.user = null;
    this.ssrc = null;
    this.sessionToken = null;
    this.room = null; // RoomInfo of the room we are in
    this.roomPassword = null;
    this.members = new Map(); // username -> Member
    this.hands = []; // usernames with a raised hand, in raise order
    this.rooms = [];
    this.mic = false;
    this.cam = false;
    this.screen = false; // the video sent is a shared screen
    this.onBinary = null;
    this.credentials = null; // [identifier, password], in memory only
    this.listeners = new Map();
    this.intentionalClose = false;
    this.replaced = false;
    this.keepaliveTimer = null;
    this.reconnectTimer = null;
    this.reconnectDelay = RECONNECT_INITIAL_MS;
  }

  // -- listeners ------------------------------------------------------------------

  on(type, callback) {
    if (!this.listeners.has(type)) this.listeners.set(type, []);
    this.listeners.get(type).push(callback);
    return () => {
      const list = this.listeners.get(type) || [];
      const index = list.indexOf(callback);
      if (index >= 0) list.splice(index, 1);
    };
  }

  emit(event) {
    for (const key of [event.type, "*"]) {
      for (const callback of [...(this.listeners.get(key) || [])]) {
        try {
          callback(event);
        } catch (error) {
          console.error("pymeet: listener failed", event.type, error);
        }
      }
    }
  }

  #setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit({ type: "connection", state });
  }

  // -- connection ------------------------------------------------------------------

  /** Open the WebSocket and say hello. */
  connect() {
    if (this.connected) return Promise.resolve();
    // One attempt at a time: a click on "Sign in" joins the attempt already under way.
    this.connecting ??= (async () => {
      this.intentionalClose = false;
      this.#setState("connecting");
      try {
        await this.#establish(false);
      } catch (error) {
        this.#setState("offline");
        throw error;
      } finally {
        this.connecting = null;
      }
    })();
    return this.connecting;
  }

  get connected() {
    return this.channel !== null && !this.channel.closed;
  }

  async #establish(restore) {
    const socket = await openSocket(this.url, this.requestTimeoutMs);
    const channel = new RpcChannel(socket, { requestTimeoutMs: this.requestTimeoutMs });
    channel.on("*", (event) => this.#onEvent(event));
    channel.onBinary = (data) => {
      if (this.onBinary) this.onBinary(data);
    };
    const outcome = { type: "restored", room: null, join: null, rejoinError: null };
    try {
      this.serverInfo = await channel.request("hello", { client: CLIENT_NAME, protocol: PROTOCOL_VERSION });
      if (restore && this.credentials) {
        const roomName = this.room?.name ?? null;
        const password = this.roomPassword;
        const { mic, cam, screen } = this;
        const login = await channel.request("auth.login", { username: this.credentials[0], password: this.credentials[1] });
        this.#applyLogin(login);
        if (roomName !== null) {
          const fields = { room: roomName };
          if (password) fields.password = password;
          try {
            const join = await channel.request("room.join", fields);
            this.#applyJoin(join, password);
            outcome.room = this.room.name;
            outcome.join = join;
          } catch (error) {
            if (!(error instanceof RequestError)) throw error;
            outcome.rejoinError = { code: error.code, message: error.message };
          }
        }
        if (mic || cam) {
          const reply = await channel.request("media.update", { mic, cam, screen });
          this.#applyOwnMember(reply.member);
        }
      }
    } catch (error) {
      channel.onClose = null;
      channel.close();
      throw error;
    }
    channel.onClose = (reason) => this.#onChannelClosed(channel, reason);
    this.channel = channel;
    this.reconnectDelay = RECONNECT_INITIAL_MS;
    this.#setState("online");
    this.#startKeepalive(channel);
    return outcome;
  }

  #startKeepalive(channel) {
    clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = setInterval(async () => {
      if (channel.closed) return;
      try {
        await channel.request("ping");
      } catch (error) {
        if (error instanceof RequestTimeout) channel.close(4000, "keepalive timed out");
      }
    }, KEEPALIVE_MS);
  }

  #onChannelClosed(channel, reason) {
    if (channel !== this.channel) return;
    this.channel = null;
    clearInterval(this.keepaliveTimer);
    if (this.intentionalClose || this.replaced) {
      this.#setState("offline");
      return;
    }
    console.info("pymeet: connection lost:", reason);
    this.#setState("reconnecting");
    this.#scheduleReconnect();
  }

  #scheduleReconnect() {
    clearTimeout(this.reconnectTimer);
    const delay = this.reconnectDelay * (0.5 + Math.random() / 2);
    this.reconnectDelay = Math.min(RECONNECT_MAX_MS, this.reconnectDelay * 2);
    this.reconnectTimer = setTimeout(() => this.#reconnect(), delay);
  }

  async #reconnect() {
    if (this.intentionalClose) return;
    try {
      const outcome = await this.#establish(true);
      this.emit(outcome);
    } catch (error) {
      if (error instanceof RequestError && FATAL_LOGIN_CODES.has(error.code)) {
        this.#giveUp(`the server refused to log in again: ${error.message}`);
        return;
      }
      if (error instanceof RequestError && error.extra?.retry_after > 0) {
        this.reconnectDelay = Math.max(this.reconnectDelay, error.extra.retry_after * 1000);
      }
      console.info("pymeet: reconnect attempt failed:", error.message);
      this.#scheduleReconnect();
    }
  }

  #giveUp(reason) {
    this.credentials = null;
    this.#forget();
    this.#setState("offline");
    this.emit({ type: "failed", reason });
  }

  /** Reconnect now (after the page comes back online, say). */
  reconnectNow() {
    if (this.state === "reconnecting") {
      this.reconnectDelay = RECONNECT_INITIAL_MS;
      clearTimeout(this.reconnectTimer);
      this.#reconnect();
    }
  }

  /** Close for good: no reconnection. */
  close() {
    this.intentionalClose = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.keepaliveTimer);
    if (this.channel) this.channel.close(1000, "closed by the user");
    this.channel = null;
    this.#setState("offline");
  }

  request(type, fields = {}) {
    if (!this.channel || this.channel.closed) {
      return Promise.reject(new ConnectionClosed(this.state === "reconnecting" ? "reconnecting…" : "not connected"));
    }
    return this.channel.request(type, fields);
  }

  /** Send one binary media message (see media-format.js); false if not connected. */
  sendMedia(buffer) {
    return this.channel ? this.channel.sendBinary(buffer) : false;
  }

  get bufferedAmount() {
    return this.channel ? this.channel.bufferedAmount : 0;
  }

  // -- session (§3.1) --------------------------------------------------------------------

  register(username, email, password) {
    return this.request("auth.register", { username, email, password });
  }

  async login(identifier, password) {
    const reply = await this.request("auth.login", { username: identifier, password });
    this.#applyLogin(reply);
    this.credentials = [identifier, password];
    this.replaced = false;
    return reply.user;
  }

  async logout() {
    this.intentionalClose = true;
    try {
      await this.request("auth.logout");
    } catch {
      /* the session ends either way */
    }
    this.credentials = null;
    this.#forget();
    this.close();
  }

  async listUsers() {
    return (await this.request("user.list")).users;
  }

  // -- rooms (§3.2) ------------------------------------------------------------------------

  async listRooms() {
    const reply = await this.request("room.list");
    this.rooms = reply.rooms;
    return reply.rooms;
  }

  async createRoom(name, password) {
    const fields = { room: name };
    if (password) fields.password = password;
    return (await this.request("room.create", fields)).room;
  }

  async joinRoom(name, password) {
    const fields = { room: name };
    if (password) fields.password = password;
    const reply = await this.request("room.join", fields);
    this.#applyJoin(reply, password || null);
    return reply;
  }

  async leaveRoom() {
    await this.request("room.leave");
    this.#leaveRoomState();
  }

  // -- chat, DMs, invitations, media state (§3.3) -------------------------------------------

  async sendChat(text) {
    return (await this.request("chat.send", { text })).message;
  }

  async sendDm(to, text) {
    return (await this.request("dm.send", { to, text })).message;
  }

  async dmHistory(withUser) {
    return (await this.request("dm.history", { with: withUser })).messages;
  }

  /** The conversation with `withUser`: {messages, files}, each oldest first. */
  async dmConversation(withUser) {
    const reply = await this.request("dm.history", { with: withUser });
    return { messages: reply.messages || [], files: reply.files || [] };
  }

  /** `screen`: the video is a shared screen (sent instead of the camera, so `cam` too). */
  async updateMedia(mic, cam, screen = false) {
    const reply = await this.request("media.update", { mic, cam, screen });
    this.#applyOwnMember(reply.member);
    return reply.member;
  }

  // -- files, moderation, raised hands (§3.4) --------------------------------------------------

  /** Remove a member from the room this user owns. */
  kick(username) {
    return this.request("room.kick", { username });
  }

  /** Turn a member's microphone off in the room this user owns. */
  async mute(username) {
    const reply = await this.request("room.mute", { username });
    // The owner caused it, so no room.member_updated comes back here (docs/PROTOCOL.md,
    // "Rooms": member events skip the requester); the reply is the outcome.
    const member = this.members.get(username);
    if (member) this.members.set(username, { ...member, mic: false });
    return reply;
  }

  async raiseHand(up) {
    const reply = await this.request("hand.raise", { up });
    if (Array.isArray(reply.hands)) this.hands = [...reply.hands];
    const me = this.members.get(this.user?.username);
    if (me) me.hand = Boolean(up);
    return this.hands;
  }

  /** Whether this user owns the room it is in (and may kick and mute). */
  get isRoomOwner() {
    return this.room !== null && this.user !== null && identityKey(this.room.owner ?? "") === identityKey(this.user.username);
  }

  invite(to) {
    return this.request("call.invite", { to });
  }

  answer(to, accept) {
    return this.request("call.answer", { to, accept });
  }

  // -- state ---------------------------------------------------------------------------

  isCurrentRoom(name) {
    return this.room !== null && typeof name === "string" && identityKey(name) === identityKey(this.room.name);
  }

  memberBySsrc(ssrc) {
    for (const member of this.members.values()) if (member.ssrc === ssrc) return member;
    return null;
  }

  #applyLogin(reply) {
    this.user = reply.user;
    this.sessionToken = reply.session ?? null;
    this.ssrc = reply.media?.ssrc ?? null;
    // mic and cam start off at every login (docs/PROTOCOL.md); a session starts in the lobby.
    this.mic = false;
    this.cam = false;
    this.screen = false;
    this.#leaveRoomState();
  }

  #applyJoin(reply, password) {
    this.room = reply.room;
    this.roomPassword = password;
    this.members = new Map((reply.members || []).map((m) => [m.username, m]));
    this.hands = Array.isArray(reply.hands)
      ? [...reply.hands]
      : [...this.members.values()].filter((m) => m.hand).map((m) => m.username);
  }

  #applyOwnMember(member) {
    if (!member) return;
    this.mic = Boolean(member.mic);
    this.cam = Boolean(member.cam);
    this.screen = Boolean(member.screen);
    if (this.room !== null && member.username) this.members.set(member.username, member);
  }

  #leaveRoomState() {
    this.room = null;
    this.roomPassword = null;
    this.members = new Map();
    this.hands = [];
  }

  #forget() {
    this.user = null;
    this.sessionToken = null;
    this.ssrc = null;
    this.#leaveRoomState();
  }

  #onEvent(event) {
    switch (event.type) {
      case "room.member_joined":
      case "room.member_updated":
        if (!this.isCurrentRoom(event.room) || !event.member) break;
        // Someone else changed this session's state (the owner muted it, say).
        if (event.member.username === this.user?.username) this.#applyOwnMember(event.member);
        else this.members.set(event.member.username, event.member);
        break;
      case "room.member_left":
        if (this.isCurrentRoom(event.room)) {
          this.members.delete(event.username);
          this.hands = this.hands.filter((name) => name !== event.username);
        }
        break;
      case "room.deleted":
      case "room.kicked":
        if (this.isCurrentRoom(event.room)) this.#leaveRoomState();
        break;
      case "media.muted":
        if (this.isCurrentRoom(event.room)) {
          this.mic = false;
          const me = this.members.get(this.user?.username);
          if (me) me.mic = false;
        }
        break;
      case "hand.update": {
        if (!this.isCurrentRoom(event.room)) break;
        const member = this.members.get(event.username);
        if (member) member.hand = Boolean(event.up);
        this.hands = this.hands.filter((name) => name !== event.username);
        if (event.up) this.hands.push(event.username);
        break;
      }
      case "lobby.update":
        if (Array.isArray(event.rooms)) this.rooms = event.rooms;
        break;
      case "session.closed":
        if (event.reason === "replaced") this.replaced = true;
        if (event.reason === "replaced" || event.reason === "shutdown") {
          // "shutdown": reconnect (the server may come back); "replaced": stop.
          this.intentionalClose = event.reason === "replaced";
        }
        break;
      default:
        break;
    }
    this.emit(event);
  }
}
