/* Playground "Run all": a flow's steps in order, up to the one that needs a person. */

import { S, save } from "./core.js";
import { run, section } from "./ui.js";

// before: up to the person (sign-in and consent, or the device approval); after: once back.
const FLOWS = {
  mcp: {
    before: ["401", "prm", "asm", "register", "pkce", "authorize"],
    after: ["token", "inspect", "api", "refresh", "reuse", "revoke"],
    person: "Your turn: press \"Sign in and approve\" in step 6. Run all goes on when you come back.",
    focus: "pg-authorize-go",
  },
  cc: { before: ["cc-register", "cc-token", "cc-introspect"] },
  device: {
    before: ["device-register", "device-authorize"],
    person: "Your turn: open the approval page in step D2 and approve; the device keeps polling (D3).",
    focus: "pg-device-link",
  },
};

function status(flow, text) {
  document.getElementById("pg-runall-" + flow).textContent = text;
}

function number(id) {
  return section(id).querySelector(".pg-num").textContent;
}

let busy = false;

async function runSteps(flow, steps) {
  busy = true;
  try {
    for (const id of steps) {
      status(flow, `running step ${number(id)}…`);
      await run(id);
      if (!S.state[id] || S.state[id].state !== "done") {
        status(flow, `stopped at step ${number(id)}: see why there`);
        section(id).scrollIntoView({ block: "start" });
        return false;
      }
    }
    return true;
  } finally {
    busy = false;
  }
}

export async function runAll(flow) {
  if (busy) return;
  const f = FLOWS[flow];
  S.v.runAll = null;
  if (!(await runSteps(flow, f.before))) return;
  if (!f.person) {
    status(flow, "done: every step ran");
    return;
  }
  if (f.after) S.v.runAll = flow; // resumed by the callback (continueRunAll)
  save();
  status(flow, f.person);
  const next = document.getElementById(f.focus);
  if (next) {
    next.scrollIntoView({ block: "center" });
    next.focus();
  }
}

/** Back from the sign-in and consent pages: go on with the rest of the flow, if Run all began it. */
export async function continueRunAll() {
  const flow = S.v.runAll;
  if (!flow || !FLOWS[flow] || !FLOWS[flow].after) return;
  S.v.runAll = null;
  save();
  if (!S.state.callback || S.state.callback.state !== "done") {
    status(flow, "stopped at step 7: see why there");
    return;
  }
  if (await runSteps(flow, FLOWS[flow].after)) status(flow, "done: every step ran");
}
