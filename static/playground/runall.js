/* Playground "Run all": a flow's steps in order, up to the one that needs a person. */

import { S, save } from "./core.js";
import { run, section } from "./ui.js";

// parts: the flow's steps, split where a person signs in and consents; the callback runs
// the first step of the next part (or, for the device, the person approves elsewhere).
// person/focus: what to say and which link to focus after each part but the last.
const FLOWS = {
  mcp: {
    parts: [
      ["401", "prm", "asm", "register", "pkce", "authorize"],
      ["callback", "token", "inspect", "api", "refresh", "reuse", "revoke"],
    ],
    person: ["Your turn: press \"Sign in and approve\" in step 6. Run all goes on when you come back."],
    focus: ["pg-authorize-go"],
  },
  stepup: {
    parts: [["up-authorize"], ["up-token", "up-403", "up-reauthorize"], ["up-retry"]],
    person: [
      "Your turn: press \"Sign in and approve\" in step U1. Run all goes on when you come back.",
      "Your turn again: press \"Approve the new scope\" in step U4. Run all goes on when you come back.",
    ],
    focus: ["pg-up-go", "pg-up-go-again"],
  },
  cc: { parts: [["cc-register", "cc-token", "cc-introspect"]] },
  device: {
    parts: [["device-register", "device-authorize"]],
    // The person approves in another tab; the device goes on polling by itself.
    end: "Your turn: open the approval page in step D2 and approve; the device keeps polling (D3).",
    focus: ["pg-device-link"],
  },
};

function status(flow, text) {
  document.getElementById("pg-runall-" + flow).textContent = text;
}

function number(id) {
  return section(id).querySelector(".pg-num").textContent;
}

function stopped(flow, id) {
  status(flow, `stopped at step ${number(id)}: see why there`);
  section(id).scrollIntoView({ block: "start" });
}

function done(id) {
  return !!S.state[id] && S.state[id].state === "done";
}

let busy = false;

async function runSteps(flow, steps) {
  busy = true;
  try {
    for (const id of steps) {
      status(flow, `running step ${number(id)}…`);
      await run(id);
      if (!done(id)) {
        stopped(flow, id);
        return false;
      }
    }
    return true;
  } finally {
    busy = false;
  }
}

/** After part `i` ran: stop for the person (to be resumed by the callback), or finish. */
function after(flow, i) {
  const f = FLOWS[flow];
  const waits = i < f.parts.length - 1;
  S.v.runAll = waits ? { flow, part: i + 1 } : null;
  save();
  if (!waits && !f.end) {
    status(flow, "done: every step ran");
    return;
  }
  status(flow, waits ? f.person[i] : f.end);
  const next = document.getElementById(f.focus[i]);
  if (next) {
    next.scrollIntoView({ block: "center" });
    next.focus();
  }
}

export async function runAll(flow) {
  if (busy) return;
  S.v.runAll = null;
  if (await runSteps(flow, FLOWS[flow].parts[0])) after(flow, 0);
}

/** Back from the sign-in and consent pages, `id` ran: go on with the flow, if Run all began it. */
export async function continueRunAll(id) {
  const pending = S.v.runAll;
  const f = pending && FLOWS[pending.flow];
  if (!f || !f.parts[pending.part] || f.parts[pending.part][0] !== id) return;
  S.v.runAll = null;
  save();
  if (!done(id)) {
    stopped(pending.flow, id);
    return;
  }
  if (await runSteps(pending.flow, f.parts[pending.part].slice(1))) after(pending.flow, pending.part);
}
