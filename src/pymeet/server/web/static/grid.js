// The video grid: the local preview and one tile per member, with name, mic and camera
// state, a raised-hand mark, a speaking ring from the audio level, and initials when
// there is no video. It re-lays itself (columns) as members come and go; while someone
// shares a screen (Member.screen) the grid switches to a spotlight layout: the
// presenter's tile spans the grid, marked "Presenting", and the others sit below it.

import { el, icon, initials, hueFor } from "./ui.js";
import { SPEAKING_LEVEL } from "./mixer.js";

const STALE_VIDEO_MS = 3000; // no frame for this long: show the avatar again

function columnsFor(count) {
  if (count <= 1) return 1;
  if (count <= 4) return 2;
  if (count <= 9) return 3;
  return 4;
}

export class VideoGrid {
  constructor(root) {
    this.root = root;
    this.tiles = new Map(); // username -> tile
    this.me = null;
    this.previewStream = null;
    this.previewMirrored = true;
    this.staleTimer = setInterval(() => this.#checkStale(), 500);
  }

  /** Replace every tile: `members` includes this user (`me`). */
  setMembers(members, me) {
    this.me = me;
    const wanted = new Set(members.map((m) => m.username));
    for (const username of [...this.tiles.keys()]) if (!wanted.has(username)) this.removeMember(username);
    // Own tile first, then the others in the order given.
    const ordered = [...members].sort((a, b) => (a.username === me ? -1 : b.username === me ? 1 : 0));
    for (const member of ordered) this.updateMember(member);
    this.#layout();
  }

  updateMember(member) {
    let tile = this.tiles.get(member.username);
    if (!tile) {
      tile = this.#createTile(member);
      this.tiles.set(member.username, tile);
      if (member.username === this.me) this.root.prepend(tile.el);
      else this.root.append(tile.el);
      this.#layout();
    }
    tile.member = { ...member };
    tile.el.dataset.ssrc = String(member.ssrc);
    tile.el.dataset.mic = member.mic ? "on" : "off";
    tile.el.dataset.cam = member.cam ? "on" : "off";
    tile.el.dataset.hand = member.hand ? "up" : "down";
    tile.stateEl.replaceChildren(
      icon(member.mic ? "mic" : "micOff", { label: member.mic ? "microphone on" : "microphone off", className: member.mic ? "icon" : "icon off" }),
      icon(member.cam ? "cam" : "camOff", { label: member.cam ? "camera on" : "camera off", className: member.cam ? "icon" : "icon off" }));
    tile.handEl.hidden = !member.hand;
    const presenting = Boolean(member.screen && member.cam);
    if (presenting !== tile.el.classList.contains("presenting")) {
      tile.el.classList.toggle("presenting", presenting);
      tile.el.dataset.presenting = presenting ? "yes" : "no";
      this.#layout();
    }
    if (tile.local) this.#updateLocalVideo(tile);
    else if (!member.cam) this.#setHasVideo(tile, false);
  }

  removeMember(username) {
    const tile = this.tiles.get(username);
    if (!tile) return;
    tile.el.remove();
    this.tiles.delete(username);
    this.#layout();
  }

  clear() {
    for (const username of [...this.tiles.keys()]) this.removeMember(username);
  }

  /** The stream for the own tile's preview (or null); a camera is shown mirrored. */
  setPreviewStream(stream, { mirrored = true } = {}) {
    this.previewStream = stream;
    this.previewMirrored = mirrored;
    const tile = this.tiles.get(this.me);
    if (tile) this.#updateLocalVideo(tile);
  }

  /** Draw a decoded frame into the tile of the member with that ssrc. Takes the bitmap. */
  drawFrame(ssrc, bitmap) {
    const tile = [...this.tiles.values()].find((t) => t.member.ssrc === ssrc && !t.local);
    if (!tile) {
      bitmap.close();
      return;
    }
    const canvas = tile.canvas;
    if (canvas.width !== bitmap.width) canvas.width = bitmap.width;
    if (canvas.height !== bitmap.height) canvas.height = bitmap.height;
    canvas.getContext("2d").drawImage(bitmap, 0, 0);
    bitmap.close();
    tile.lastFrameAt = performance.now();
    tile.frames += 1;
    tile.el.dataset.frames = String(tile.frames);
    if (tile.member.cam) this.#setHasVideo(tile, true);
  }

  /** Speaking rings: `levels` maps ssrc -> RMS; `localLevel` is this user's mic. */
  setLevels(levels, localLevel) {
    for (const tile of this.tiles.values()) {
      const level = tile.local ? localLevel : levels.get(tile.member.ssrc) ?? 0;
      const speaking = level > SPEAKING_LEVEL && tile.member.mic;
      tile.el.classList.toggle("speaking", speaking);
      tile.el.dataset.speaking = speaking ? "yes" : "no";
    }
  }

  #createTile(member) {
    const local = member.username === this.me;
    const avatar = el("span", { class: "avatar", "aria-hidden": "true" }, initials(member.username));
    avatar.style.setProperty("--hue", hueFor(member.username));
    const canvas = el("canvas", { width: 320, height: 240, role: "img", "aria-label": `Video of ${member.username}` });
    const video = local ? el("video", { class: "mirrored", muted: true, playsinline: true, autoplay: true, "aria-label": "Your camera preview" }) : null;
    if (video) video.muted = true;
    const nameEl = el("span", { class: "tile-name" }, local ? `${member.username} (you)` : member.username);
    const stateEl = el("span", { class: "tile-state" });
    const handEl = el("span", { class: "tile-hand", title: "Hand raised" }, icon("hand", { label: "hand raised" }));
    handEl.hidden = true;
    const root = el("div", { class: "tile", dataset: { username: member.username, local: local ? "yes" : "no", frames: "0", presenting: "no" } },
      local ? video : canvas,
      el("div", { class: "tile-avatar" }, avatar),
      el("span", { class: "tile-badge" }, icon("screen"), el("span", {}, "Presenting")),
      handEl,
      el("div", { class: "tile-footer" }, nameEl, stateEl));
    return { el: root, canvas, video, stateEl, handEl, member: { ...member }, local, lastFrameAt: 0, frames: 0 };
  }

  #updateLocalVideo(tile) {
    const stream = tile.member.cam ? this.previewStream : null;
    if (tile.video.srcObject !== stream) {
      tile.video.srcObject = stream;
      if (stream) tile.video.play().catch(() => {});
    }
    tile.video.classList.toggle("mirrored", this.previewMirrored);
    this.#setHasVideo(tile, Boolean(stream));
  }

  #setHasVideo(tile, on) {
    tile.el.classList.toggle("has-video", on);
  }

  #checkStale() {
    const now = performance.now();
    for (const tile of this.tiles.values()) {
      if (!tile.local && tile.el.classList.contains("has-video") && now - tile.lastFrameAt > STALE_VIDEO_MS) {
        this.#setHasVideo(tile, false);
      }
    }
  }

  #layout() {
    const presenters = [...this.tiles.values()].filter((tile) => tile.el.classList.contains("presenting"));
    const spotlight = presenters.length > 0;
    // Spotlight: presenters span the whole row; the others share a row of small tiles.
    const others = this.tiles.size - presenters.length;
    const cols = spotlight ? Math.max(1, Math.min(4, others)) : columnsFor(this.tiles.size);
    this.root.classList.toggle("spotlight", spotlight);
    this.root.style.setProperty("--cols", String(cols));
    this.root.style.setProperty("--presenters", String(Math.max(1, presenters.length)));
    this.root.dataset.count = String(this.tiles.size);
    this.root.dataset.layout = spotlight ? "spotlight" : "grid";
  }
}
