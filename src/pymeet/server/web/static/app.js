// PyMeet in the browser: the controller that ties the session, the media engine and
// the views together. Views: sign in / create account, then the lobby (rooms, people
// online) or a room (video grid, controls), with the chat panel beside both.

import { MeetingSession } from "./session.js";
import { MediaEngine } from "./media.js";
import { ChatPanel } from "./chat.js";
import { VideoGrid } from "./grid.js";
import { $, el, icon, initials, hueFor, setFieldError, clearErrors, toast, busy, describeError } from "./ui.js";
import {
  checkEmail, checkLoginIdentifier, checkPassword, checkPasswordAttempt, checkRoomName,
  checkUsername, identityKey, normaliseRoomName,
} from "./validation.js";

const USER_REFRESH_DELAY_MS = 400;
const CONNECTION_LABELS = {
  connecting: "Connecting…",
  online: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

class App {
  constructor() {
    this.session = new MeetingSession();
    this.media = new MediaEngine(this.session);
    this.people = new Map(); // identityKey -> {username, room}
    this.invites = [];
    this.inviteOpen = false;
    this.userRefreshTimer = null;
    this.grid = new VideoGrid($("#video-grid"));
    this.chat = new ChatPanel({
      me: () => this.session.user?.username ?? "",
      sendRoom: (text) => this.session.sendChat(text),
      sendDm: (to, text) => this.session.sendDm(to, text),
      loadDm: (user) => this.session.dmHistory(user),
      describeError,
    });
    this.session.onBinary = (data) => this.media.handleBinary(data);
    this.media.onVideoFrame = (ssrc, bitmap) => this.grid.drawFrame(ssrc, bitmap);
    this.media.onDevicesChanged = () => this.renderControls();
    this.levelTimer = setInterval(() => this.grid.setLevels(this.media.remoteLevels, this.media.localLevel), 100);
  }

  // -- start-up -------------------------------------------------------------------------

  start() {
    this.#bindAuth();
    this.#bindLobby();
    this.#bindRoom();
    this.#bindSessionEvents();
    this.#setConnection("connecting");
    this.#connect();
    // Any click may unlock audio output (browsers' autoplay rules).
    document.addEventListener("click", () => {
      if (this.media.context?.state === "suspended") this.media.context.resume().catch(() => {});
    });
    window.addEventListener("online", () => this.session.reconnectNow());
  }

  async #connect(attempt = 0) {
    try {
      await this.session.connect();
      $("#login-error").textContent = "";
    } catch (error) {
      this.#setConnection("offline");
      if (attempt === 0) $("#login-error").textContent = "Cannot reach the PyMeet server. Retrying…";
      setTimeout(() => this.#connect(attempt + 1), Math.min(10000, 1000 * 2 ** attempt));
    }
  }

  #setConnection(state) {
    const node = $("#connection");
    node.dataset.state = state;
    node.querySelector(".label").textContent = CONNECTION_LABELS[state] || state;
    $("#reconnect-banner").hidden = !(state === "reconnecting" && this.session.user);
  }

  // -- sign in and create account ----------------------------------------------------------

  #bindAuth() {
    const tabs = [$("#tab-login"), $("#tab-register")];
    const forms = [$("#login-form"), $("#register-form")];
    const show = (index) => this.#showAuthTab(index);
    tabs.forEach((tab, i) => tab.addEventListener("click", () => show(i)));
    tabs.forEach((tab, i) => tab.addEventListener("keydown", (event) => {
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        const next = (i + 1) % 2;
        show(next);
        tabs[next].focus();
      }
    }));
    for (const form of forms) {
      for (const input of form.querySelectorAll("input")) {
        input.addEventListener("input", () => setFieldError(input, ""));
      }
    }

    $("#login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      clearErrors(form);
      const identifier = $("#login-identifier").value.trim();
      const password = $("#login-password").value;
      const problems = [
        [$("#login-identifier"), checkLoginIdentifier(identifier)],
        [$("#login-password"), checkPasswordAttempt(password)],
      ];
      if (this.#showProblems(problems)) return;
      this.media.startAudioOutput(); // inside the click: allowed to make sound
      await busy(form.querySelector("button[type=submit]"), async () => {
        try {
          await this.#ensureConnected();
          await this.session.login(identifier, password);
          $("#login-password").value = "";
          await this.#enterApp();
        } catch (error) {
          $("#login-error").textContent = describeError(error);
        }
      });
    });

    $("#register-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      clearErrors(form);
      const username = $("#register-username").value.trim();
      const email = $("#register-email").value.trim();
      const password = $("#register-password").value;
      const problems = [
        [$("#register-username"), checkUsername(username)],
        [$("#register-email"), checkEmail(email)],
        [$("#register-password"), checkPassword(password)],
      ];
      if (this.#showProblems(problems)) return;
      this.media.startAudioOutput();
      await busy(form.querySelector("button[type=submit]"), async () => {
        try {
          await this.#ensureConnected();
          await this.session.register(username, email, password);
          await this.session.login(username, password);
          $("#register-password").value = "";
          toast(`Welcome, ${username}! Your account is ready.`, "success");
          await this.#enterApp();
        } catch (error) {
          const fieldInputs = { username: "#register-username", email: "#register-email", password: "#register-password" };
          if (error.code === "user_exists") setFieldError($("#register-username"), describeError(error));
          else if (error.code === "email_exists") setFieldError($("#register-email"), describeError(error));
          else if (error.code === "invalid_field" && fieldInputs[error.field]) setFieldError($(fieldInputs[error.field]), error.message);
          else $("#register-error").textContent = describeError(error);
        }
      });
    });

    $("#logout").addEventListener("click", async () => {
      await this.session.logout();
      await this.media.stop();
      this.#showAuth();
      toast("You have signed out.");
      this.session = this.#freshSession();
    });
  }

  #showAuthTab(index) {
    const tabs = [$("#tab-login"), $("#tab-register")];
    const forms = [$("#login-form"), $("#register-form")];
    tabs.forEach((tab, i) => {
      tab.setAttribute("aria-selected", i === index ? "true" : "false");
      tab.tabIndex = i === index ? 0 : -1;
      forms[i].hidden = i !== index;
    });
    forms[index].querySelector("input").focus();
  }

  #freshSession() {
    // Logging out closes the connection for good; a new sign-in starts a new one.
    const session = new MeetingSession();
    this.session = session;
    this.media = new MediaEngine(session);
    session.onBinary = (data) => this.media.handleBinary(data);
    this.media.onVideoFrame = (ssrc, bitmap) => this.grid.drawFrame(ssrc, bitmap);
    this.media.onDevicesChanged = () => this.renderControls();
    this.#bindSessionEvents();
    this.#connect();
    window.pymeet = { app: this, session, media: this.media };
    return session;
  }

  async #ensureConnected() {
    if (!this.session.connected) await this.session.connect();
  }

  #showProblems(problems) {
    let first = null;
    for (const [input, message] of problems) {
      setFieldError(input, message);
      if (message && !first) first = input;
    }
    if (first) first.focus();
    return first !== null;
  }

  #showAuth(message = "") {
    $("#app-view").hidden = true;
    $("#account").hidden = true;
    $("#auth-view").hidden = false;
    for (const input of document.querySelectorAll("#auth-view input")) input.value = "";
    clearErrors($("#register-form"));
    clearErrors($("#login-form"));
    this.#showAuthTab(0);
    $("#login-error").textContent = message;
    this.grid.clear();
    this.chat.clearRoom();
    for (const key of [...this.chat.conversations.keys()]) this.chat.closeDm(key);
    this.people.clear();
    $("#reconnect-banner").hidden = true;
  }

  async #enterApp() {
    const user = this.session.user;
    $("#auth-view").hidden = true;
    $("#app-view").hidden = false;
    $("#account").hidden = false;
    $("#account-name").textContent = user.username;
    const avatar = $("#account-avatar");
    avatar.textContent = initials(user.username);
    avatar.style.setProperty("--hue", hueFor(user.username));
    this.#showLobby();
    await Promise.allSettled([this.#refreshRooms(), this.#refreshUsers()]);
  }

  // -- lobby -------------------------------------------------------------------------------

  #bindLobby() {
    const nameInput = $("#new-room-name");
    const passwordInput = $("#new-room-password");
    nameInput.addEventListener("input", () => setFieldError(nameInput, ""));
    passwordInput.addEventListener("input", () => setFieldError(passwordInput, ""));
    $("#create-room-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      clearErrors(form);
      const name = normaliseRoomName(nameInput.value.trim());
      const password = passwordInput.value;
      const problems = [[nameInput, checkRoomName(name)], [passwordInput, password ? checkPassword(password) : null]];
      if (this.#showProblems(problems)) return;
      await busy(form.querySelector("button[type=submit]"), async () => {
        try {
          const room = await this.session.createRoom(name, password || null);
          nameInput.value = "";
          passwordInput.value = "";
          toast(`Room “${room.name}” created.`, "success");
          await this.joinRoom(room.name, { password: password || null });
        } catch (error) {
          if (error.code === "room_exists" || (error.code === "invalid_field" && error.field === "room")) {
            setFieldError(nameInput, error.code === "room_exists" ? describeError(error) : error.message);
          } else if (error.code === "invalid_field" && error.field === "password") {
            setFieldError(passwordInput, error.message);
          } else {
            $("#create-room-error").textContent = describeError(error);
          }
        }
      });
    });
  }

  async #refreshRooms() {
    try {
      await this.session.listRooms();
    } catch (error) {
      console.warn("pymeet: room.list failed", error);
    }
    this.renderRooms();
  }

  renderRooms() {
    const list = $("#room-list");
    const rooms = this.session.rooms || [];
    list.replaceChildren(...rooms.map((room) => {
      const current = this.session.isCurrentRoom(room.name);
      const people = room.members === 1 ? "1 person" : `${room.members} people`;
      return el("li", { class: `room-card card${current ? " current" : ""}`, dataset: { room: room.name, members: room.members, locked: room.locked ? "yes" : "no" } },
        el("div", { class: "room-card-top" },
          el("span", { class: "room-badge", "aria-hidden": "true" }, icon("door")),
          el("div", {},
            el("div", { class: "room-name" }, room.name),
            el("div", { class: "room-info" },
              el("span", { class: "room-members" }, people),
              room.locked ? icon("lock", { label: "locked with a password" }) : null,
              room.locked ? el("span", {}, "Password") : null))),
        el("div", { class: "actions" },
          current
            ? el("span", { class: "muted" }, "You are here")
            : el("button", {
              type: "button", class: "primary small", "aria-label": `Join ${room.name}`,
              onclick: () => this.joinRoom(room.name, { locked: room.locked }),
            }, "Join")));
    }));
    $("#room-list-empty").hidden = rooms.length > 0;
  }

  /** Join a room; asks for the password when it is locked (unless invited). */
  async joinRoom(name, { password = null, locked = false, invited = false } = {}) {
    let secret = password;
    if (locked && !invited && !secret) {
      secret = await this.#askRoomPassword(name);
      if (secret === null) return false;
    }
    for (;;) {
      try {
        const reply = await this.session.joinRoom(name, secret);
        await this.#enterRoom(reply);
        return true;
      } catch (error) {
        if (error.code === "wrong_password") {
          secret = await this.#askRoomPassword(name, secret ? "That password is not right. Try again." : "");
          if (secret === null) return false;
          continue;
        }
        toast(`Could not join “${name}”: ${describeError(error)}`, "error");
        return false;
      }
    }
  }

  #askRoomPassword(name, problem = "") {
    const dialog = $("#password-dialog");
    const input = $("#room-password");
    $("#password-text").textContent = `Enter the password for “${name}”.`;
    input.value = "";
    setFieldError(input, problem);
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        resolve(dialog.returnValue === "join" && input.value ? input.value : null);
      }, { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      input.focus();
    });
  }

  #showLobby() {
    $("#lobby").hidden = false;
    $("#room").hidden = true;
    $("#participants-panel").hidden = true;
    this.renderRooms();
    this.renderPeople();
  }

  // -- people ------------------------------------------------------------------------------------

  async #refreshUsers() {
    try {
      const users = await this.session.listUsers();
      this.people = new Map(users.map((user) => [identityKey(user.username), user]));
    } catch (error) {
      console.warn("pymeet: user.list failed", error);
    }
    this.renderPeople();
  }

  #scheduleUserRefresh() {
    clearTimeout(this.userRefreshTimer);
    this.userRefreshTimer = setTimeout(() => this.#refreshUsers(), USER_REFRESH_DELAY_MS);
  }

  renderPeople() {
    const me = identityKey(this.session.user?.username ?? "");
    const others = [...this.people.values()]
      .filter((user) => identityKey(user.username) !== me)
      .sort((a, b) => a.username.localeCompare(b.username));
    const inRoom = this.session.room !== null;
    $("#people-list").replaceChildren(...others.map((user) => {
      const here = inRoom && user.room && this.session.isCurrentRoom(user.room);
      const avatar = el("span", { class: "avatar presence-dot", "aria-hidden": "true" }, initials(user.username));
      avatar.style.setProperty("--hue", hueFor(user.username));
      const inviteTitle = !inRoom ? "Join a room first to invite people" : here ? `${user.username} is already here` : `Invite ${user.username} to this room`;
      return el("li", { class: "person", dataset: { username: user.username } },
        avatar,
        el("div", { class: "person-text" },
          el("div", { class: "person-name" }, user.username),
          el("div", { class: "person-where" }, user.room ? `in ${user.room}` : "in the lobby")),
        el("div", { class: "person-actions" },
          el("button", { type: "button", title: `Message ${user.username}`, "aria-label": `Message ${user.username}`, onclick: () => this.chat.openDm(user.username) }, icon("message")),
          el("button", { type: "button", title: inviteTitle, "aria-label": `Invite ${user.username}`, disabled: !inRoom || here, onclick: () => this.#invite(user.username) }, icon("invite"))));
    }));
    $("#people-count").textContent = String(others.length);
    $("#people-empty").hidden = others.length > 0;
  }

  async #invite(username) {
    try {
      await this.session.invite(username);
      toast(`Invitation sent to ${username}.`, "success");
    } catch (error) {
      toast(`Could not invite ${username}: ${describeError(error)}`, "error");
    }
  }

  // -- invitations ---------------------------------------------------------------------------------

  #queueInvite(event) {
    // One prompt per inviter: a newer invitation from the same person replaces the older.
    this.invites = this.invites.filter((item) => identityKey(item.from) !== identityKey(event.from));
    this.invites.push(event);
    this.#showNextInvite();
  }

  #showNextInvite() {
    if (this.inviteOpen || this.invites.length === 0) return;
    const invite = this.invites.shift();
    const dialog = $("#invite-dialog");
    $("#invite-text").textContent = `${invite.from} invites you to join “${invite.room}”.`;
    this.inviteOpen = true;
    dialog.returnValue = "";
    dialog.addEventListener("close", async () => {
      this.inviteOpen = false;
      const accept = dialog.returnValue === "join";
      try {
        await this.session.answer(invite.from, accept);
      } catch (error) {
        console.warn("pymeet: call.answer failed", error);
      }
      if (accept) await this.joinRoom(invite.room, { invited: true });
      this.#showNextInvite();
    }, { once: true });
    dialog.showModal();
  }

  // -- room ------------------------------------------------------------------------------------------

  #bindRoom() {
    $("#mic-toggle .control-icon").append(icon("micOff"));
    $("#cam-toggle .control-icon").append(icon("camOff"));
    $("#settings-open .control-icon").append(icon("settings"));
    $("#leave-room .control-icon").append(icon("leave"));
    $("#mic-toggle").addEventListener("click", () => this.#toggle("mic"));
    $("#cam-toggle").addEventListener("click", () => this.#toggle("cam"));
    $("#leave-room").addEventListener("click", async () => {
      try {
        await this.session.leaveRoom();
      } catch (error) {
        if (error.code !== "not_in_room") {
          toast(`Could not leave: ${describeError(error)}`, "error");
          return;
        }
      }
      this.#exitRoom();
    });

    const dialog = $("#settings-dialog");
    const size = $("#setting-size");
    const quality = $("#setting-quality");
    const fps = $("#setting-fps");
    const showValues = () => {
      $("#setting-quality-value").textContent = `${Math.round(Number(quality.value) * 100)}%`;
      $("#setting-fps-value").textContent = fps.value;
    };
    const apply = () => {
      const [width, height] = size.value.split("x").map(Number);
      this.media.setVideoSettings({ width, height, quality: Number(quality.value), fps: Number(fps.value) });
      showValues();
    };
    for (const input of [size, quality, fps]) input.addEventListener("input", apply);
    showValues();
    $("#settings-open").addEventListener("click", () => dialog.showModal());
  }

  async #toggle(kind) {
    const mic = kind === "mic" ? !this.session.mic : this.session.mic;
    const cam = kind === "cam" ? !this.session.cam : this.session.cam;
    if (this.media.context?.state === "suspended") this.media.context.resume().catch(() => {});
    try {
      await this.session.updateMedia(mic, cam);
    } catch (error) {
      toast(`Could not change the ${kind === "mic" ? "microphone" : "camera"}: ${describeError(error)}`, "error");
    }
    this.#refreshOwnTile();
    this.renderControls();
  }

  #refreshOwnTile() {
    const me = this.session.user?.username;
    const member = me && this.session.members.get(me);
    if (member) this.grid.updateMember({ ...member, mic: this.session.mic, cam: this.session.cam });
    this.renderParticipants();
  }

  renderControls() {
    const { devices } = this.media;
    const setControl = (button, on, available, reason, names) => {
      button.disabled = !available;
      button.setAttribute("aria-pressed", on && available ? "true" : "false");
      button.title = available ? (on ? `Turn the ${names[0]} off` : `Turn the ${names[0]} on`) : reason;
      button.querySelector(".control-label").textContent = available ? (on ? names[1] : names[2]) : names[3];
      button.querySelector(".control-icon").replaceChildren(icon(on && available ? names[4] : names[5]));
    };
    setControl($("#mic-toggle"), this.session.mic, devices.mic.available, devices.mic.reason,
      ["microphone", "Microphone on", "Microphone off", "No microphone", "mic", "micOff"]);
    setControl($("#cam-toggle"), this.session.cam, devices.cam.available, devices.cam.reason,
      ["camera", "Camera on", "Camera off", "No camera", "cam", "camOff"]);
    const notes = [devices.mic, devices.cam].filter((d) => !d.available && d.reason && !d.reason.includes("not been started")).map((d) => d.reason);
    const note = $("#device-note");
    note.textContent = notes.length ? `${notes.join(" ")} You can still chat, listen and watch.` : "";
    note.hidden = notes.length === 0;
    this.media.syncTracks();
    this.grid.setPreviewStream(this.media.previewStream);
  }

  async #enterRoom(reply) {
    const room = reply.room;
    $("#lobby").hidden = true;
    $("#room").hidden = false;
    $("#participants-panel").hidden = false;
    $("#room-title").textContent = room.name;
    this.#renderRoomMeta();
    this.media.clearRemote();
    this.grid.clear();
    this.grid.setMembers(reply.members, this.session.user.username);
    this.chat.setRoom(room.name, reply.history);
    this.renderParticipants();
    this.renderPeople();
    this.renderRooms();
    await this.media.startDevices();
    this.renderControls();
    this.#refreshOwnTile();
  }

  #exitRoom(message = "") {
    this.media.clearRemote();
    this.grid.clear();
    this.chat.clearRoom();
    this.#showLobby();
    if (message) toast(message, "info", 6000);
    this.#refreshRooms();
  }

  #renderRoomMeta() {
    const room = this.session.room;
    if (!room) return;
    const count = this.session.members.size;
    $("#room-meta").textContent = `${count === 1 ? "Only you so far" : `${count} people`}${room.locked ? " · locked with a password" : ""}`;
  }

  renderParticipants() {
    const me = this.session.user?.username;
    const members = [...this.session.members.values()].sort((a, b) =>
      (a.username === me ? -1 : b.username === me ? 1 : a.username.localeCompare(b.username)));
    $("#participants-list").replaceChildren(...members.map((member) => {
      const avatar = el("span", { class: "avatar", "aria-hidden": "true" }, initials(member.username));
      avatar.style.setProperty("--hue", hueFor(member.username));
      return el("li", { class: "person", dataset: { username: member.username } },
        avatar,
        el("div", { class: "person-text" }, el("div", { class: "person-name" }, member.username === me ? `${member.username} (you)` : member.username)),
        el("div", { class: "person-state" },
          icon(member.mic ? "mic" : "micOff", { label: member.mic ? "microphone on" : "microphone off", className: member.mic ? "icon" : "icon off" }),
          icon(member.cam ? "cam" : "camOff", { label: member.cam ? "camera on" : "camera off", className: member.cam ? "icon" : "icon off" })));
    }));
    $("#participants-count").textContent = String(members.length);
    this.#renderRoomMeta();
  }

  // -- server events ---------------------------------------------------------------------------------

  #bindSessionEvents() {
    const session = this.session;
    const on = (type, handler) => session.on(type, (event) => {
      if (session === this.session) handler(event);
    });
    on("connection", (event) => this.#setConnection(event.state));
    on("lobby.update", () => {
      this.renderRooms();
      this.#scheduleUserRefresh();
    });
    on("presence", (event) => {
      const key = identityKey(event.username);
      if (event.online) {
        if (!this.people.has(key)) this.people.set(key, { username: event.username, room: null });
      } else {
        this.people.delete(key);
      }
      this.renderPeople();
      this.#scheduleUserRefresh();
    });
    on("room.member_joined", (event) => {
      if (!session.isCurrentRoom(event.room)) return;
      this.grid.updateMember(event.member);
      this.renderParticipants();
      this.#scheduleUserRefresh();
      toast(`${event.member.username} joined.`);
    });
    on("room.member_left", (event) => {
      if (!session.isCurrentRoom(event.room) && session.room !== null) return;
      const tile = this.grid.tiles.get(event.username);
      if (tile) this.media.forgetSender(tile.member.ssrc);
      this.grid.removeMember(event.username);
      this.renderParticipants();
      this.#scheduleUserRefresh();
    });
    on("room.member_updated", (event) => {
      if (!session.isCurrentRoom(event.room)) return;
      this.grid.updateMember(event.member);
      this.renderParticipants();
    });
    on("room.deleted", (event) => {
      if (session.room === null) this.#exitRoom(`The room “${event.room}” was deleted.`);
      else this.renderRooms();
    });
    on("room.kicked", (event) => this.#exitRoom(`${event.by} removed you from “${event.room}”.`));
    on("media.muted", (event) => {
      this.#refreshOwnTile();
      this.renderControls();
      toast(`${event.by} muted your microphone.`);
    });
    on("chat.message", (event) => {
      if (session.isCurrentRoom(event.message.room)) this.chat.addRoomMessage(event.message);
    });
    on("dm.message", (event) => {
      this.chat.addDm(event.message);
    });
    on("call.invite", (event) => this.#queueInvite(event));
    on("call.answer", (event) => {
      toast(event.accept ? `${event.from} accepted your invitation.` : `${event.from} declined your invitation.`, event.accept ? "success" : "info");
    });
    on("session.closed", (event) => {
      if (event.reason === "replaced") {
        this.media.stop();
        this.#showAuth("You signed in from another window, so this one was signed out.");
      } else if (event.reason === "shutdown") {
        toast("The server is restarting. Reconnecting…");
      }
    });
    on("restored", (event) => {
      toast("Reconnected.", "success", 2500);
      this.renderControls();
      if (event.join) {
        this.#enterRoom(event.join);
      } else if (event.rejoinError) {
        this.#exitRoom(`Could not rejoin the room: ${describeError(event.rejoinError)}`);
      } else if (!$("#room").hidden) {
        this.#exitRoom();
      }
      this.chat.markStale();
      this.#refreshRooms();
      this.#refreshUsers();
    });
    on("failed", (event) => {
      this.media.stop();
      this.#showAuth(`Signed out: ${event.reason}`);
    });
  }
}

const app = new App();
window.pymeet = { app, session: app.session, media: app.media };
app.start();
