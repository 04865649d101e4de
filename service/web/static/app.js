// Progressive enhancement only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A copy button beside a read-only field (the share link).
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const field = document.getElementById(button.dataset.copy);
    if (!field || !navigator.clipboard) continue;
    button.hidden = false;
    const label = button.textContent;
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(field.value);
      button.textContent = button.dataset.copied;
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  }
  // A filter applies as soon as it changes (its button stays for keyboards and no-JS).
  for (const form of document.querySelectorAll("form[data-autosubmit]")) {
    for (const select of form.querySelectorAll("select")) {
      select.addEventListener("change", () => form.requestSubmit());
    }
  }
  // A form with data-preview shows, as it is filled in, the invoice it would issue: the
  // command's own preview, rendered by the server (without JavaScript, a button asks
  // for the same page). Only the latest answer is shown.
  for (const form of document.querySelectorAll("form[data-preview]")) {
    const into = document.getElementById(form.dataset.previewInto);
    if (!into || !window.fetch) continue;
    for (const button of form.querySelectorAll("[data-no-js]")) button.hidden = true;
    let timer = 0;
    let asked = 0;
    const update = async () => {
      if (!form.checkValidity()) return;
      const mine = ++asked;
      const answer = await fetch(form.dataset.preview, {
        method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
      });
      const html = await answer.text();
      if (mine !== asked) return;
      into.innerHTML = html;
      into.parentElement.hidden = false;
    };
    const later = () => { clearTimeout(timer); timer = setTimeout(update, 250); };
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    update();
  }
  // A form sent once shows it is working and cannot be sent twice by a double click;
  // its idempotency key makes a second send harmless anyway.
  for (const form of document.querySelectorAll("form[method=post]")) {
    form.addEventListener("submit", () => {
      for (const button of form.querySelectorAll("button[type=submit]")) {
        setTimeout(() => { button.disabled = true; }, 0);
      }
    });
  }
  // After a refusal, bring the problem into view and focus.
  const problem = document.querySelector(".alert-error[tabindex]");
  if (problem) problem.focus();
});
