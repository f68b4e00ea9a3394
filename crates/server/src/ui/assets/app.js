// tessera's web UI: conveniences over pages that work without this script.
// No build step and no dependencies; loaded with `defer`, so the page is parsed.
"use strict";

// Copy buttons: `data-copy` names the input whose value is copied.
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", async () => {
    const input = document.getElementById(button.dataset.copy);
    const status = button.closest(".reveal")?.querySelector(".copied");
    input.select();
    let copied = false;
    try {
      await navigator.clipboard.writeText(input.value);
      copied = true;
    } catch {
      copied = document.execCommand && document.execCommand("copy");
    }
    if (status) {
      status.textContent = copied
        ? "Copied to the clipboard."
        : "Could not copy: the token is selected, press Ctrl+C (or ⌘C).";
    }
  });
}

// A select with `data-shows="value:id"` shows the element `id` only while `value` is chosen.
for (const select of document.querySelectorAll("select[data-shows]")) {
  const [value, id] = select.dataset.shows.split(":");
  const target = document.getElementById(id);
  const update = () => { target.hidden = select.value !== value; };
  select.addEventListener("change", update);
  update();
}

// Scopes: an access level replaces single scopes; a whole category covers its scopes.
const picker = document.querySelector("[data-scope-picker]");
const access = document.getElementById("access");
if (picker && access) {
  const boxes = [...picker.querySelectorAll("input[type=checkbox]")];
  const update = () => {
    const byLevel = access.value !== "";
    picker.hidden = byLevel;
    for (const box of boxes) {
      const whole = boxes.find((b) => b.dataset.whole && b.dataset.whole === box.dataset.category);
      box.disabled = byLevel || Boolean(whole && whole.checked);
    }
  };
  access.addEventListener("change", update);
  for (const box of boxes) box.addEventListener("change", update);
  update();
}

// After a failed submit, take keyboard and screen-reader focus to the list of errors.
document.getElementById("error-summary")?.focus();
