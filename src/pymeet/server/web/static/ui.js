// Small DOM helpers shared by the views. User-supplied text only ever goes through
// textContent (never innerHTML), so names and messages cannot inject markup.

const SVG_NS = "http://www.w3.org/2000/svg";

// 24x24 stroke icons (drawn for PyMeet, in the spirit of the common outline sets).
const ICONS = {
  mic: ["M12 3a3 3 0 0 1 3 3v6a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3z", "M19 11a7 7 0 0 1-14 0", "M12 18v3"],
  micOff: ["M9 9v3a3 3 0 0 0 5.1 2.1", "M15 9.3V6a3 3 0 0 0-5.7-1.3", "M19 11a7 7 0 0 1-1.2 3.9", "M5 11a7 7 0 0 0 10.6 6", "M12 18v3", "M3 3l18 18"],
  cam: ["M3 7h12v10H3z", "M15 10l6-3v10l-6-3"],
  camOff: ["M3 7h3m4 0h5v5m0 5H3V7", "M15 10l6-3v10l-4-2", "M3 3l18 18"],
  leave: ["M10 17l-5-5 5-5", "M5 12h11", "M14 4h5v16h-5"],
  lock: ["M6 11h12v9H6z", "M8.5 11V8a3.5 3.5 0 0 1 7 0v3"],
  settings: ["M4 6h10", "M18 6h2", "M4 12h4", "M12 12h8", "M4 18h12", "M20 18h0", "M16 4v4", "M10 10v4", "M18 16v4"],
  send: ["M4 12l16-8-6 16-2.5-6.5z", "M11.5 13.5L20 4"],
  user: ["M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z", "M4 21a8 8 0 0 1 16 0"],
  message: ["M4 5h16v11H9l-5 4z"],
  invite: ["M10 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z", "M3 21a7 7 0 0 1 11-5.7", "M19 14v6", "M16 17h6"],
  close: ["M6 6l12 12", "M18 6L6 18"],
  door: ["M5 21V4h10v17", "M15 6h4v15", "M12 12h.01"],
  plus: ["M12 5v14", "M5 12h14"],
  hash: ["M5 9h14", "M5 15h14", "M10 4L8 20", "M16 4l-2 16"],
  attach: ["M20 11.5l-8.4 8.4a5 5 0 0 1-7.1-7.1l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4l7.8-7.8"],
  download: ["M12 4v11", "M7 10l5 5 5-5", "M5 20h14"],
  file: ["M14 3H6v18h12V7z", "M14 3v4h4", "M9 13h6", "M9 17h6"],
  hand: ["M8 13V6a1.5 1.5 0 0 1 3 0v5", "M11 11V4.5a1.5 1.5 0 0 1 3 0V11", "M14 11V6a1.5 1.5 0 0 1 3 0v7.5",
    "M17 10.5a1.5 1.5 0 0 1 3 0V14a7 7 0 0 1-7 7h-1a7 7 0 0 1-5.6-2.8L3.6 15a1.5 1.5 0 0 1 2.3-1.9L8 15"],
  screen: ["M3 4h18v12H3z", "M8 20h8", "M12 16v4"],
  screenOff: ["M3 4h18v12H3z", "M8 20h8", "M12 16v4", "M9 7l6 6", "M15 7l-6 6"],
  remove: ["M10 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z", "M3 21a7 7 0 0 1 11-5.7", "M16 17h6"],
};

export function icon(name, { label = null, className = "icon" } = {}) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", className);
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  if (label) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
  } else {
    svg.setAttribute("aria-hidden", "true");
  }
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
  }
  return svg;
}

/** el("button", {class: "x", onclick: fn, "aria-label": "y"}, "text", child, ...) */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

/** Up to two letters for an avatar: "Nguyễn Văn An" -> "NA", "bob_smith" -> "BS". */
export function initials(name) {
  const parts = String(name).normalize("NFC").split(/[\s._-]+/u).filter(Boolean);
  if (parts.length === 0) return "?";
  if (parts.length === 1) return [...parts[0]].slice(0, 2).join("").toLocaleUpperCase();
  return ([...parts[0]][0] + [...parts[parts.length - 1]][0]).toLocaleUpperCase();
}

/** A stable, pleasant hue for a name (avatars). */
export function hueFor(name) {
  let hash = 0;
  for (const char of String(name)) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return hash % 360;
}

/** "14:05" today, "Mon 14:05" this week, else a short date and time. */
export function formatTime(ts, now = Date.now()) {
  const date = new Date(ts * 1000);
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const ageDays = (now - date.getTime()) / 86400000;
  if (new Date(now).toDateString() === date.toDateString()) return time;
  if (ageDays < 6) return `${date.toLocaleDateString([], { weekday: "short" })} ${time}`;
  return `${date.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}

export function fullTime(ts) {
  return new Date(ts * 1000).toLocaleString();
}

/** Show or clear the inline message under a form field (aria-describedby). */
export function setFieldError(input, message) {
  const id = `${input.id}-error`;
  let note = document.getElementById(id);
  if (!note) {
    note = el("p", { class: "field-error", id });
    input.insertAdjacentElement("afterend", note);
  }
  note.textContent = message || "";
  input.setAttribute("aria-invalid", message ? "true" : "false");
  const described = new Set((input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean));
  described.add(id);
  input.setAttribute("aria-describedby", [...described].join(" "));
}

export function clearErrors(form) {
  for (const input of form.querySelectorAll("input, textarea")) setFieldError(input, "");
  const general = form.querySelector(".form-error");
  if (general) general.textContent = "";
}

let toastRoot = null;

/** A short message in the corner; `kind` is "info", "success" or "error". */
export function toast(text, kind = "info", ms = 4000) {
  toastRoot ??= document.getElementById("toasts");
  if (!toastRoot) return;
  const node = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  toastRoot.append(node);
  setTimeout(() => {
    node.classList.add("leaving");
    setTimeout(() => node.remove(), 300);
  }, ms);
}

/** Disable a form's submit button while `work` runs. */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

/** A sentence for a failed request, for people rather than programmers. */
export function describeError(error) {
  // File transfers and screen sharing already speak to people.
  if (error?.name === "TransferError" || error?.name === "ScreenShareError") return error.message;
  const friendly = {
    auth_failed: "That username or password is not right.",
    user_exists: "That username is taken.",
    email_exists: "An account with that email already exists.",
    room_exists: "A room with that name already exists.",
    room_not_found: "That room no longer exists.",
    wrong_password: "That room password is not right.",
    user_offline: "That person is not online any more.",
    user_not_found: "There is no such user.",
    rate_limited: "Too many attempts. Please wait a moment and try again.",
    not_in_room: "You are not in a room.",
    forbidden: "You are not allowed to do that.",
    timeout: "The server did not answer in time. Please try again.",
    connection_closed: "Not connected to the server right now.",
  };
  if (error?.code && friendly[error.code]) {
    if (error.code === "rate_limited" && error.extra?.retry_after) {
      return `Too many attempts. Try again in ${Math.ceil(error.extra.retry_after)} seconds.`;
    }
    return friendly[error.code];
  }
  return error?.message || String(error);
}
