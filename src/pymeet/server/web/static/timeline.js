// A conversation's timeline: chat messages and shared files in one list
// (docs/PROTOCOL.md, "Files": clients interleave them by `ts`). Pure functions.

/**
 * Messages and files as one list of `{kind: "message" | "file", item}`.
 *
 * Messages keep their `id` order (the server delivers a room's messages in id order);
 * files are placed among them by `ts` (then by id), and a file whose `ts` equals a
 * message's comes after it. Neither input is changed.
 */
export function mergeTimeline(messages, files) {
  const byId = [...messages].sort((a, b) => a.id - b.id);
  const byTime = [...files].sort((a, b) => a.ts - b.ts || compareIds(a.id, b.id));
  const out = [];
  let m = 0;
  let f = 0;
  while (m < byId.length || f < byTime.length) {
    const takeMessage = f >= byTime.length || (m < byId.length && byId[m].ts <= byTime[f].ts);
    out.push(takeMessage ? { kind: "message", item: byId[m++] } : { kind: "file", item: byTime[f++] });
  }
  return out;
}

function compareIds(a, b) {
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const UNITS = ["KB", "MB", "GB", "TB"];

/** A size for people: "0 bytes", "1 byte", "999 bytes", "1.5 KB", "12 MB" (1 KB = 1024 bytes). */
export function humanSize(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return "unknown size";
  if (n < 1024) return n === 1 ? "1 byte" : `${Math.round(n)} bytes`;
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  // Three significant figures at most, without a trailing ".0".
  const text = value < 10 ? value.toFixed(1) : String(Math.round(value));
  return `${text.replace(/\.0$/, "")} ${UNITS[unit]}`;
}
