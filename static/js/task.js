// The task page: live state (Server-Sent Events of the task), live stdout and
// stderr with ANSI colours (inserted as text, never as HTML), kill and delete.
import { AnsiParser } from "./ansi.js";
import { stateClassName, stateLabel, timeElement } from "./page.js";

const article = document.getElementById("task");
const stateEl = document.getElementById("task-state");
const timeline = document.getElementById("timeline");
const killButton = document.getElementById("kill");
const deleteButton = document.getElementById("delete");
const actionError = document.getElementById("action-error");
const name = document.getElementById("title").textContent;

function showState(state, terminal) {
  stateEl.className = stateClassName(state);
  stateEl.dataset.state = state;
  stateEl.textContent = stateLabel(state);
  article.dataset.state = state;
  article.dataset.terminal = String(terminal);
  killButton.hidden = terminal;
  deleteButton.hidden = !terminal;
}

function followState() {
  if (article.dataset.terminal === "true") return;
  const source = new EventSource(article.dataset.events);
  source.addEventListener("status", (e) => {
    const s = JSON.parse(e.data);
    // The page was rendered with the first entries; the stream starts from the first too.
    if (Number(e.lastEventId) > timeline.children.length) {
      const li = document.createElement("li");
      const badge = document.createElement("span");
      badge.className = stateClassName(s.state);
      badge.textContent = stateLabel(s.state);
      li.append(badge, " ", timeElement(s.time));
      timeline.append(li);
    }
    showState(s.state, s.terminal);
  });
  source.addEventListener("end", () => source.close());
}

function followOutput(pre) {
  const status = document.getElementById(`${pre.id}-status`);
  const parser = new AnsiParser();
  const source = new EventSource(pre.dataset.follow);
  let received = false;
  status.textContent = "Waiting for output…";
  source.addEventListener("output", (e) => {
    const { text } = JSON.parse(e.data);
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    const fragment = document.createDocumentFragment();
    for (const segment of parser.push(text)) {
      if (segment.classes) {
        const span = document.createElement("span");
        span.className = segment.classes;
        span.textContent = segment.text;
        fragment.append(span);
      } else {
        fragment.append(segment.text);
      }
    }
    pre.append(fragment);
    if (!received || status.textContent.endsWith("retrying…")) status.textContent = "Following…";
    received = true;
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  });
  // The agent cannot be reached: the stream keeps trying, and says so once.
  source.addEventListener("agent_error", (e) => {
    status.textContent = `${
      JSON.parse(e.data).message ?? "The agent cannot be reached"
    }: retrying…`;
  });
  source.addEventListener("end", (e) => {
    source.close();
    // An end with an error document: the agent stayed unreachable after the task ended.
    const failure = e.data ? JSON.parse(e.data) : {};
    status.textContent = failure.message ?? (received ? "" : "No output.");
  });
  source.addEventListener("error", () => {
    // Closed for good (204: the file does not exist); otherwise the browser reconnects.
    if (source.readyState === EventSource.CLOSED) {
      status.textContent = received ? "" : "No output.";
    }
  });
}

async function act(method, url) {
  actionError.hidden = true;
  const res = await fetch(url, { method, headers: { accept: "application/json" } });
  if (res.status === 202) return true;
  const doc = await res.json().catch(() => null);
  actionError.textContent = typeof doc === "string"
    ? doc
    : (doc?.message ?? `The server answered ${res.status}`);
  actionError.hidden = false;
  return false;
}

killButton.addEventListener("click", async () => {
  if (!confirm(`Kill the task "${name}"?`)) return;
  killButton.disabled = true;
  try {
    await act("POST", article.dataset.kill);
  } finally {
    killButton.disabled = false;
  }
});

deleteButton.addEventListener("click", async () => {
  if (!confirm(`Delete the task "${name}"? Its record is removed for good.`)) return;
  if (await act("DELETE", article.dataset.delete)) location.assign(article.dataset.list);
});

followState();
for (const pre of document.querySelectorAll("pre[data-follow]")) followOutput(pre);
