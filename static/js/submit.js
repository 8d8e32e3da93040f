// The submit form: builds the task body, posts it to the API, shows the API's
// problems next to their fields, and opens the new task's page.
import { fieldOfProblem, formToBody } from "./form.js";
import { prefix } from "./page.js";

const form = document.getElementById("submit-form");
const formError = document.getElementById("form-error");
const status = document.getElementById("submit-status");

function readForm() {
  const values = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    values[el.name] = el.type === "checkbox" ? el.checked : el.value;
  }
  values.fetch = [...form.querySelectorAll("[data-fetch-row]")].map((row) => ({
    uri: row.querySelector('[data-fetch="uri"]').value,
    extract: row.querySelector('[data-fetch="extract"]').checked,
    executable: row.querySelector('[data-fetch="executable"]').checked,
    cache: row.querySelector('[data-fetch="cache"]').checked,
  }));
  return values;
}

function clearErrors() {
  formError.hidden = true;
  formError.textContent = "";
  for (const el of form.querySelectorAll("[data-error-for]")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

function showProblems(problems, message) {
  const general = [];
  let first = null;
  for (const p of problems) {
    const { field, message: text } = fieldOfProblem(p);
    const slot = field && form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    if (!slot) {
      general.push(`${p.path} ${p.problem}`);
      continue;
    }
    slot.textContent = slot.textContent ? `${slot.textContent}; ${text}` : text;
    slot.hidden = false;
    const input = document.getElementById(field) ??
      (field === "fetch" ? form.querySelector('[data-fetch="uri"]') : null);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      first ??= input;
    }
  }
  if (general.length || (message && problems.length === 0)) {
    formError.textContent = [message, ...general].filter(Boolean).join(": ");
    formError.hidden = false;
  }
  (first ?? formError).focus?.();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  const { body, problems } = formToBody(readForm());
  if (problems.length) return showProblems(problems, "The task is not valid");
  const button = document.getElementById("submit");
  button.disabled = true;
  status.textContent = "Submitting…";
  try {
    const res = await fetch(form.dataset.api, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
    });
    const doc = await res.json().catch(() => null);
    if (res.status === 202 && typeof doc === "string") {
      status.textContent = "Submitted";
      location.assign(`${prefix}/task/${encodeURIComponent(doc)}`);
      return;
    }
    status.textContent = "";
    showProblems(doc?.details ?? [], doc?.message ?? `The server answered ${res.status}`);
  } catch (e) {
    status.textContent = "";
    showProblems([], `Cannot reach the server: ${e.message}`);
  } finally {
    button.disabled = false;
  }
});

document.getElementById("add-fetch").addEventListener("click", () => {
  const rows = form.querySelectorAll("[data-fetch-row]");
  const row = rows[rows.length - 1].cloneNode(true);
  const n = rows.length + 1;
  const input = row.querySelector('[data-fetch="uri"]');
  input.id = `fetch-${n - 1}-uri`;
  input.value = "";
  const label = row.querySelector("label[for]");
  label.htmlFor = input.id;
  label.textContent = `Fetch URI ${n}`;
  for (const box of row.querySelectorAll('input[type="checkbox"]')) box.checked = false;
  rows[rows.length - 1].after(row);
  input.focus();
});
