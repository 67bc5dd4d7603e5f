// Admin pages: copy buttons. Everything else works without scripts.
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
