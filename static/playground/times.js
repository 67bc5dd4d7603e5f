/* Playground times: epoch seconds and lifetimes made readable, and the token lifetimes picture. */

import { cfg } from "./core.js";
import { svg } from "./diagram.js";

const UNITS = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];

/** 5400 -> "1 h 30 min", 2592000 -> "30 d": at most two units, largest first. */
export function duration(seconds) {
  seconds = Math.round(Math.abs(seconds));
  if (seconds === 0) return "0 s";
  const parts = [];
  for (const [unit, size] of UNITS) {
    const n = Math.floor(seconds / size);
    if (n && parts.length < 2) { parts.push(`${n} ${unit}`); seconds -= n * size; }
    else if (parts.length) break; // "1 d 5 min" would mislead: stop at a gap
  }
  return parts.join(" ");
}

/** 1796534400 -> "2026-12-06 02:40:00 UTC, in 59 min" (or "… ago"). */
export function readable(epoch, now) {
  const at = new Date(epoch * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  const delta = epoch - (now === undefined ? Date.now() / 1000 : now);
  if (Math.abs(delta) < 1) return at + ", now";
  return at + (delta > 0 ? `, in ${duration(delta)}` : `, ${duration(delta)} ago`);
}

// JSON members that hold a time (seconds since 1970) or a lifetime (seconds).
const EPOCH = ["exp", "iat", "nbf", "auth_time", "expires_at", "client_id_issued_at", "client_secret_expires_at", "updated_at"];
const LIFETIME = ["expires_in"];
const MEMBER = new RegExp(`"(${[...EPOCH, ...LIFETIME].join("|")})": ?(\\d+)`, "g");

/** What to show beside the number of a `"name": value` member, or null. */
function note(name, value) {
  const n = Number(value);
  if (LIFETIME.includes(name)) return duration(n);
  if (name === "client_secret_expires_at" && n === 0) return "never expires"; // RFC 7591 §3.2.1
  return n >= 1e8 ? readable(n) : null;
}

/** Split text at each time-holding JSON member: [[text, noteOrNull], …]. */
export function timeParts(text) {
  const parts = [];
  let i = 0;
  for (const m of text.matchAll(MEMBER)) {
    const said = note(m[1], m[2]);
    if (!said) continue;
    const end = m.index + m[0].length;
    parts.push([text.slice(i, end), said]);
    i = end;
  }
  parts.push([text.slice(i), null]);
  return parts;
}

// -- the token lifetimes picture (step 11) ---------------------------------------------------

const TICKS = [[1, "1 s"], [60, "1 min"], [3600, "1 h"], [86400, "1 d"], [604800, "1 w"], [2592000, "30 d"], [31536000, "1 y"], [94608000, "3 y"]];

/**
 * Access token, refresh idle and refresh absolute lifetimes on one time axis, from this
 * server's settings. The axis is logarithmic: an hour and ninety days on one line.
 */
export function drawLifetimes(figure) {
  const bars = [
    ["access", "Access token", Number(cfg.accessTokenTtl), "used at the API; then refresh"],
    ["idle", "Refresh token, idle", Number(cfg.refreshTokenTtl), "each rotation starts it again"],
    ["absolute", "Refresh family, absolute", Number(cfg.refreshTokenAbsoluteTtl), "no rotation outlives it: sign in again"],
  ];
  const longest = Math.max(...bars.map((b) => b[2]));
  const lo = Math.max(1, Math.min(...bars.map((b) => b[2])) / 60);
  const hi = longest * 1.6;
  const W = 880, LEFT = 200, RIGHT = 20, TOP = 10, ROW = 34;
  const xOf = (s) => LEFT + (W - LEFT - RIGHT) * (Math.log(s / lo) / Math.log(hi / lo));
  const axisY = TOP + bars.length * ROW + 8;
  const root = figure.querySelector("svg");
  root.replaceChildren();
  root.setAttribute("viewBox", `0 0 ${W} ${axisY + 34}`);
  bars.forEach(([id, name, seconds, why], i) => {
    const y = TOP + i * ROW;
    const end = Math.min(xOf(seconds), xOf(longest));
    const g = svg("g", { class: "pg-life-bar", "data-bar": id, "data-seconds": seconds });
    g.append(svg("text", { x: LEFT - 10, y: y + 17, class: "pg-bar-name" }, name),
      svg("rect", { x: LEFT, y: y + 4, width: Math.max(2, end - LEFT), height: 18, rx: 3, class: "pg-bar pg-bar-" + id }),
      svg("text", { x: LEFT + 8, y: y + 17, class: "pg-bar-value" }, duration(seconds)),
      // The reason beside a short bar, inside the end of a long one.
      end < W - 300
        ? svg("text", { x: end + 8, y: y + 17, class: "pg-bar-why" }, why)
        : svg("text", { x: end - 8, y: y + 17, class: "pg-bar-why inside" }, why));
    root.append(g);
  });
  root.append(svg("line", { x1: LEFT, y1: axisY, x2: W - RIGHT, y2: axisY, class: "pg-axis" }));
  for (const [s, label] of TICKS) {
    if (s < lo || s > hi) continue;
    const x = xOf(s);
    root.append(svg("line", { x1: x, y1: axisY - 4, x2: x, y2: axisY + 4, class: "pg-axis" }),
      svg("line", { x1: x, y1: TOP, x2: x, y2: axisY, class: "pg-grid" }),
      svg("text", { x, y: axisY + 18, class: "pg-tick" }, label));
  }
  root.append(svg("text", { x: LEFT, y: axisY + 32, class: "pg-axis-name" }, "time since sign-in (log scale)"));
}
