// Admin pages: copy buttons, and keeping a just-shown secret out of reloads and history.
"use strict";

document.querySelectorAll("button[data-copy-target]").forEach((button) => {
  button.addEventListener("click", async () => {
    const text = document.getElementById(button.dataset.copyTarget).textContent.trim();
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";  // no clipboard permission (e.g. plain http)
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
});

// A new secret arrives in the body of a POST. Point this history entry at the app page, so a
// reload shows the app (without the secret) instead of generating another secret.
const shown = document.querySelector("[data-replace-url]");
if (shown) {
  history.replaceState(null, "", shown.dataset.replaceUrl);
}
