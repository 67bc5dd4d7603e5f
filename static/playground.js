/* Gatehouse playground: the browser as an OAuth client, with every exchange shown.
 *
 * The page (templates/playground/index.html) holds the explanations; the modules in
 * static/playground/ run each step against the real endpoints of this server with fetch()
 * and render what was sent and what came back:
 *   core.js   what the client knows (sessionStorage), encoders, recorded HTTP
 *   ui.js     rendering exchanges, checks and masked secrets; running a step
 *   steps.js  the MCP chain, steps 1 to 13
 *   stepup.js step-up: 403 insufficient_scope, then the union of scopes (U1 to U5)
 *   flows.js  client credentials and the device flow
 *   diagram.js each flow's sequence diagram (SVG), arrows lit as their steps run
 *   times.js  epoch times in words, and the token lifetimes picture of step 11
 *   runall.js "Run all": a flow's steps in order, up to the one that needs a person
 * What the client learns is kept in sessionStorage, so the page survives the trip to the
 * sign-in and consent pages; /playground/callback hands the authorization response back the
 * same way. No inline scripts or styles (CSP), nothing loaded from elsewhere.
 */

import { CALLBACK, S, resetState, save, secret } from "./playground/core.js";
import { render, renderAll, run, section, view } from "./playground/ui.js";
import "./playground/steps.js";
import "./playground/stepup.js";
import { poll, stopPolling } from "./playground/flows.js";
import { drawAll } from "./playground/diagram.js";
import { drawLifetimes } from "./playground/times.js";
import { continueRunAll, runAll } from "./playground/runall.js";

/** The callback page: keep the authorization response for the playground, and go back. */
function handOver(page) {
  const params = {};
  for (const [name, value] of new URLSearchParams(location.search)) params[name] = value;
  const path = location.pathname + location.search;
  sessionStorage.setItem(CALLBACK, JSON.stringify({ path, params }));
  location.replace(page.dataset.return); // replace: the code leaves the history
}

function wire(root) {
  for (const button of root.querySelectorAll(".pg-run")) {
    button.dataset.label = button.textContent;
    button.addEventListener("click", () => run(button.dataset.run));
  }
  for (const button of root.querySelectorAll(".pg-run-all")) {
    button.addEventListener("click", () => runAll(button.dataset.flow));
  }
  for (const go of root.querySelectorAll(".pg-go")) {
    // The callback will hand the response to the step this link belongs with.
    go.addEventListener("click", () => { S.v.awaiting = go.dataset.awaits; save(); });
  }
  document.getElementById("pg-poll-now").addEventListener("click", () => {
    if (!S.v.deviceAuth) return;
    if (!S.v.polls) S.v.polls = [];
    if (!S.v.pollStart) S.v.pollStart = Date.now();
    poll();
  });
  document.getElementById("pg-poll-stop").addEventListener("click", () => {
    stopPolling();
    S.state["device-poll"] = { state: "done", text: "polling stopped" };
    save();
    render("device-poll");
  });
  document.getElementById("pg-reveal").addEventListener("change", (e) => {
    view.reveal = e.target.checked;
    renderAll();
  });
  document.getElementById("pg-reset").addEventListener("click", () => {
    stopPolling();
    resetState();
    renderAll();
    window.scrollTo(0, 0);
  });
}

/** Back from the authorization server: run the awaiting step's checks on what the callback kept. */
function resumeFromCallback() {
  const arrived = sessionStorage.getItem(CALLBACK);
  if (!arrived) return;
  sessionStorage.removeItem(CALLBACK);
  try { S.v.callback = JSON.parse(arrived); } catch (e) { S.v.callback = null; }
  if (S.v.callback) {
    secret(S.v.callback.params.code);
    const id = S.v.awaiting || "callback";
    run(id).then(() => section(id).scrollIntoView()).then(() => continueRunAll(id));
  }
}

const callbackPage = document.getElementById("playground-callback");
const root = document.getElementById("playground");
if (callbackPage) {
  handOver(callbackPage);
} else if (root) {
  drawAll();
  drawLifetimes(document.getElementById("pg-lifetimes"));
  wire(root);
  // A "running" step cannot survive a reload: show it as interrupted.
  for (const [id, st] of Object.entries(S.state)) {
    if (st.state === "running") S.state[id] = { state: "failed", text: "interrupted by reload; re-run" };
  }
  renderAll();
  resumeFromCallback();
}
