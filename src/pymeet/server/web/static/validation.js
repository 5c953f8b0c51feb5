// Field rules of PROTOCOL.md §3.5, mirrored from pymeet/protocol/validation.py so the
// page can show an inline message before a round trip. The server stays the judge.
//
// Every check returns null when the value is fine, or a sentence for the user.
// Lengths count code points, as Python's len() does, not UTF-16 units.

export const USERNAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{2,31}$/;
export const EMAIL_RE = /^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$/u;
// Python's \w is Unicode: letters, digits (any script) and "_".
export const ROOM_RE = /^[\p{L}\p{N}_][\p{L}\p{N}_ .-]{0,39}$/u;
export const EMAIL_MAX_LENGTH = 254;
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;
export const TEXT_MAX_LENGTH = 4000;
const FORBIDDEN_CONTROL = /[\p{Cc}]/u;

export function codePointLength(text) {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

export function checkUsername(value) {
  if (typeof value !== "string" || !USERNAME_RE.test(value)) {
    return "A username has 3 to 32 letters, digits, '_', '.' or '-' and starts with a letter, digit or '_'.";
  }
  return null;
}

export function checkEmail(value) {
  if (typeof value !== "string" || codePointLength(value) > EMAIL_MAX_LENGTH || !EMAIL_RE.test(value)) {
    return "Enter an email address like name@example.org.";
  }
  return null;
}

/** A new password (register, create a locked room). */
export function checkPassword(value) {
  const n = typeof value === "string" ? codePointLength(value) : -1;
  if (n < PASSWORD_MIN_LENGTH || n > PASSWORD_MAX_LENGTH) {
    return `A password has ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters.`;
  }
  return null;
}

/** A password offered for comparison (login, joining a locked room). */
export function checkPasswordAttempt(value) {
  if (typeof value !== "string" || value.length === 0) return "Enter your password.";
  if (codePointLength(value) > PASSWORD_MAX_LENGTH) {
    return `A password has at most ${PASSWORD_MAX_LENGTH} characters.`;
  }
  return null;
}

/** Log in with a username or an email address. */
export function checkLoginIdentifier(value) {
  if (typeof value === "string" && USERNAME_RE.test(value)) return null;
  if (typeof value === "string" && codePointLength(value) <= EMAIL_MAX_LENGTH && EMAIL_RE.test(value)) {
    return null;
  }
  return "Enter your username or your email address.";
}

/** Room names are NFC-normalised before the check, as the server does. */
export function normaliseRoomName(value) {
  return typeof value === "string" ? value.normalize("NFC") : value;
}

export function checkRoomName(value) {
  const text = normaliseRoomName(value);
  if (typeof text !== "string" || !ROOM_RE.test(text) || text.endsWith(" ")) {
    return "A room name has 1 to 40 letters, digits, spaces, '_', '.' or '-', starts with a letter or digit and does not end with a space.";
  }
  return null;
}

/** Message text, checked after trimming (the server stores it trimmed). */
export function checkText(value) {
  if (typeof value !== "string") return "A message cannot be empty.";
  const text = value.trim();
  if (!text) return "A message cannot be empty.";
  if (codePointLength(text) > TEXT_MAX_LENGTH) {
    return `A message has at most ${TEXT_MAX_LENGTH} characters.`;
  }
  for (const char of text) {
    if (char !== "\n" && char !== "\t" && FORBIDDEN_CONTROL.test(char)) {
      return "A message cannot contain control characters.";
    }
  }
  return null;
}

/** The key under which the server treats names as equal: NFC, then case-folded. */
export function identityKey(name) {
  return String(name).normalize("NFC").toLowerCase();
}
