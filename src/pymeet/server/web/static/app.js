// PyMeet in the browser: the controller that ties the session, the media engine and
// the views together. Views: sign in / create account, then the lobby (rooms, people
// online) or a room (video grid, controls, screen sharing, raised hands, and the
// owner's Remove / Mute), with the chat panel (messages and shared files) beside both.

import { MeetingSession } from "./session.js";
import { MediaEngine, screenShareUnavailableReason } from "./media.js";
import { ChatPanel } from "./chat.js";
import { downloadFile, saveBlob, uploadFile } from "./file-transfer.js";
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
    this.cameraBeforeScreen = false; // turn the camera back on when sharing stops
    this.screenProblem = "";
    this.grid = new VideoGrid($("#video-grid"));
    this.chat = new ChatPanel({
      me: () => this.session.user?.username ?? "",
      sendRoom: (text) => this.session.sendChat(text),
      sendDm: (to, text) => this.session.sendDm(to, text),
      loadDm: (user) => this.session.dmConversation(user),
      upload: (target, file, onProgress) => uploadFile({ ...target, file, token: this.session.sessionToken, onProgress }),
      download: (file, onProgress) => downloadFile({ file, token: this.session.sessionToken, onProgress }),
      save: (blob, name) => saveBlob(blob, name),
      describeError,
    });
    this.#wireMedia();
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

  #wireMedia() {
    this.session.onBinary = (data) => this.media.handleBinary(data);
    this.media.onVideoFrame = (ssrc, bitmap) => this.grid.drawFrame(ssrc, bitmap);
    this.media.onDevicesChanged = () => this.renderControls();
    // The browser's own "Stop sharing" ended the capture.
    this.media.onScreenEnded = () => this.#stopScreenShare();
  }

  #freshSession() {
    // Logging out closes the connection for good; a new sign-in starts a new one.
    const session = new MeetingSession();
    this.session = session;
    this.media = new MediaEngine(session);
    this.#wireMedia();
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

  /** A notice in the lobby that stays until dismissed (removed from a room, say). */
  #showLobbyNotice(text) {
    $("#lobby-notice-text").textContent = text;
    $("#lobby-notice").hidden = !text;
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
    $("#screen-toggle .control-icon").append(icon("screen"));
    $("#hand-toggle .control-icon").append(icon("hand"));
    $("#settings-open .control-icon").append(icon("settings"));
    $("#leave-room .control-icon").append(icon("leave"));
    $("#mic-toggle").addEventListener("click", () => this.#toggle("mic"));
    $("#cam-toggle").addEventListener("click", () => this.#toggle("cam"));
    $("#screen-toggle").addEventListener("click", () => this.#toggleScreen());
    $("#hand-toggle").addEventListener("click", () => this.#toggleHand());
    $("#mute-all").addEventListener("click", () => this.#muteAll());
    $("#lobby-notice-close").addEventListener("click", () => this.#showLobbyNotice(""));
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
      await this.session.updateMedia(mic, cam, this.session.screen && cam);
    } catch (error) {
      toast(`Could not change the ${kind === "mic" ? "microphone" : "camera"}: ${describeError(error)}`, "error");
    }
    this.#refreshOwnTile();
    this.renderControls();
  }

  // -- screen sharing (docs/PROTOCOL.md, "Screen sharing") -----------------------------------

  async #toggleScreen() {
    if (this.media.sharingScreen) {
      await this.#stopScreenShare();
      return;
    }
    this.#setScreenProblem("");
    try {
      await this.media.startScreen();
    } catch (error) {
      this.#setScreenProblem(describeError(error));
      this.renderControls();
      return;
    }
    // The screen replaces the camera on the same video stream: cam and screen both on.
    this.cameraBeforeScreen = this.session.cam && !this.session.screen;
    try {
      await this.session.updateMedia(this.session.mic, true, true);
    } catch (error) {
      await this.media.stopScreen();
      toast(`Could not share the screen: ${describeError(error)}`, "error");
    }
    this.#refreshOwnTile();
    this.renderControls();
  }

  /** Stop sending the screen (button, browser, or leaving); the camera comes back if it was on. */
  async #stopScreenShare() {
    const wasSharing = this.media.sharingScreen || this.session.screen;
    await this.media.stopScreen();
    if (wasSharing && this.session.connected) {
      const cam = this.cameraBeforeScreen && this.media.devices.cam.available;
      try {
        await this.session.updateMedia(this.session.mic, cam, false);
      } catch (error) {
        toast(`Could not stop sharing the screen: ${describeError(error)}`, "error");
      }
    }
    this.cameraBeforeScreen = false;
    this.#refreshOwnTile();
    this.renderControls();
  }

  #setScreenProblem(text) {
    this.screenProblem = text;
    const note = $("#screen-note");
    note.textContent = text;
    note.hidden = !text;
  }

  // -- raised hands and moderation (§3.4) ------------------------------------------------------

  async #toggleHand() {
    const me = this.session.user?.username;
    const up = !this.session.hands.includes(me);
    try {
      await this.session.raiseHand(up);
    } catch (error) {
      toast(`Could not ${up ? "raise" : "lower"} your hand: ${describeError(error)}`, "error");
    }
    this.#refreshOwnTile();
    this.renderControls();
  }

  async #moderate(action, username) {
    try {
      if (action === "kick") {
        await this.session.kick(username);
        toast(`${username} was removed from the room.`);
      } else {
        await this.session.mute(username);
        toast(`${username} was muted.`);
      }
      this.#refreshMember(username);
    } catch (error) {
      toast(`Could not ${action === "kick" ? "remove" : "mute"} ${username}: ${describeError(error)}`, "error");
    }
  }

  /** "Mute all" is a client feature: one room.mute per member whose mic is on. */
  async #muteAll() {
    const me = identityKey(this.session.user?.username ?? "");
    const speaking = [...this.session.members.values()].filter((m) => m.mic && identityKey(m.username) !== me);
    const results = await Promise.allSettled(speaking.map((m) => this.session.mute(m.username)));
    for (const member of speaking) this.#refreshMember(member.username);
    const failed = results.filter((r) => r.status === "rejected").length;
    if (failed) toast(`Could not mute ${failed} of ${speaking.length} people.`, "error");
    else toast(speaking.length === 1 ? "1 person was muted." : `${speaking.length} people were muted.`);
  }

  /** Show a member's state as the session now knows it (after a request of ours). */
  #refreshMember(username) {
    const member = this.session.members.get(username);
    if (member) this.grid.updateMember(member);
    this.renderParticipants();
  }

  #refreshOwnTile() {
    const me = this.session.user?.username;
    const member = me && this.session.members.get(me);
    if (member) {
      this.grid.updateMember({
        ...member, mic: this.session.mic, cam: this.session.cam, screen: this.session.screen,
        hand: this.session.hands.includes(me),
      });
    }
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
    const sharing = this.media.sharingScreen;
    if (sharing) {
      // The screen is sent instead of the camera; the camera waits.
      const cam = $("#cam-toggle");
      cam.disabled = true;
      cam.setAttribute("aria-pressed", "false");
      cam.title = "The camera is paused while you share your screen.";
      cam.querySelector(".control-label").textContent = "Camera paused";
      cam.querySelector(".control-icon").replaceChildren(icon("camOff"));
    }
    const screen = $("#screen-toggle");
    const unavailable = screenShareUnavailableReason();
    screen.setAttribute("aria-pressed", sharing ? "true" : "false");
    screen.querySelector(".control-label").textContent = sharing ? "Stop sharing" : "Share screen";
    screen.querySelector(".control-icon").replaceChildren(icon(sharing ? "screenOff" : "screen"));
    screen.title = sharing ? "Stop sharing your screen" : unavailable || this.screenProblem || "Share a screen, window or tab instead of your camera";
    const raised = this.session.hands.includes(this.session.user?.username);
    const hand = $("#hand-toggle");
    hand.setAttribute("aria-pressed", raised ? "true" : "false");
    hand.querySelector(".control-label").textContent = raised ? "Lower hand" : "Raise hand";
    hand.title = raised ? "Lower your hand" : "Raise your hand to ask to speak";
    const notes = [devices.mic, devices.cam].filter((d) => !d.available && d.reason && !d.reason.includes("not been started")).map((d) => d.reason);
    const note = $("#device-note");
    note.textContent = notes.length ? `${notes.join(" ")} You can still chat, listen and watch.` : "";
    note.hidden = notes.length === 0;
    this.media.syncTracks();
    this.grid.setPreviewStream(this.media.previewStream, { mirrored: !sharing });
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
    this.chat.setRoom(room.name, reply.history, reply.files);
    this.#showLobbyNotice("");
    this.renderParticipants();
    this.renderPeople();
    this.renderRooms();
    await this.media.startDevices();
    this.renderControls();
    this.#refreshOwnTile();
  }

  /** Back to the lobby; `notice` stays there until dismissed, `message` is a toast. */
  #exitRoom(message = "", { notice = "" } = {}) {
    if (this.media.sharingScreen || this.session.screen) this.#stopScreenShare();
    this.media.clearRemote();
    this.grid.clear();
    this.chat.clearRoom();
    this.#showLobby();
    this.#showLobbyNotice(notice);
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
    const hands = this.session.hands;
    // Raised hands first, in the order they were raised; then you, then by name.
    const rank = (member) => {
      const index = hands.indexOf(member.username);
      return index >= 0 ? index : hands.length + (member.username === me ? 0 : 1);
    };
    const members = [...this.session.members.values()].sort((a, b) =>
      rank(a) - rank(b) || (rank(a) >= hands.length ? a.username.localeCompare(b.username) : 0));
    const owner = this.session.isRoomOwner;
    $("#participants-list").replaceChildren(...members.map((member) => {
      const avatar = el("span", { class: "avatar", "aria-hidden": "true" }, initials(member.username));
      avatar.style.setProperty("--hue", hueFor(member.username));
      const handUp = hands.includes(member.username);
      const isMe = member.username === me;
      const handIndex = hands.indexOf(member.username) + 1;
      const moderation = owner && !isMe
        ? el("div", { class: "person-moderation" },
          el("button", {
            type: "button", class: "link", "aria-label": `Mute ${member.username}`, disabled: !member.mic,
            title: member.mic ? `Turn ${member.username}'s microphone off` : `${member.username}'s microphone is off`,
            onclick: () => this.#moderate("mute", member.username),
          }, icon("micOff"), "Mute"),
          el("button", {
            type: "button", class: "link danger", "aria-label": `Remove ${member.username}`,
            title: `Remove ${member.username} from the room`,
            onclick: () => this.#moderate("kick", member.username),
          }, icon("remove"), "Remove"))
        : null;
      return el("li", { class: `person${handUp ? " hand-up" : ""}`, dataset: { username: member.username, hand: handUp ? String(handIndex) : "" } },
        avatar,
        el("div", { class: "person-text" },
          el("div", { class: "person-name", title: member.username }, isMe ? `${member.username} (you)` : member.username),
          handUp ? el("div", { class: "person-where" }, handIndex === 1 ? "Hand raised first" : `Hand raised (#${handIndex})`) : null,
          moderation),
        el("div", { class: "person-state" },
          handUp ? icon("hand", { label: "hand raised", className: "icon hand" }) : null,
          icon(member.mic ? "mic" : "micOff", { label: member.mic ? "microphone on" : "microphone off", className: member.mic ? "icon" : "icon off" }),
          icon(member.cam ? "cam" : "camOff", { label: member.cam ? "camera on" : "camera off", className: member.cam ? "icon" : "icon off" })));
    }));
    $("#participants-count").textContent = String(members.length);
    const muteAll = $("#mute-all");
    muteAll.hidden = !owner;
    muteAll.disabled = !members.some((m) => m.mic && m.username !== me);
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
      if (event.member.username === session.user?.username) {
        this.#refreshOwnTile();
        this.renderControls();
        return;
      }
      this.grid.updateMember(event.member);
      this.renderParticipants();
    });
    on("hand.update", (event) => {
      if (!session.isCurrentRoom(event.room)) return;
      const member = session.members.get(event.username);
      if (member) this.grid.updateMember(member);
      this.renderParticipants();
      if (event.up) toast(`${event.username} raised their hand.`);
    });
    on("file.shared", (event) => {
      if (event.room) {
        if (session.isCurrentRoom(event.room)) this.chat.addRoomFile(event.file);
      } else if (event.to) {
        this.chat.addDmFile(event.file, event.to);
      }
    });
    on("room.deleted", (event) => {
      if (session.room === null) this.#exitRoom(`The room “${event.room}” was deleted.`);
      else this.renderRooms();
    });
    on("room.kicked", (event) => {
      const text = `${event.by} removed you from the room “${event.room}”.`;
      this.#exitRoom(text, { notice: `${text} You can join it again from the list below.` });
    });
    on("media.muted", (event) => {
      this.#refreshOwnTile();
      this.renderControls();
      toast(`${event.by} muted you. You can turn your microphone on again.`, "info", 6000);
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
