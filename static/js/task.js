// The task page: live state (Server-Sent Events of the task), live stdout and
// stderr with ANSI colours (inserted as text, never as HTML), kill and delete.
import { AnsiParser } from "./ansi.js";
import { stateClassName, stateLabel, timeElement } from "./page.js";

const article = document.getElementById("task");
const stateEl = document.getElementById("task-state");
const timeline = document.getElementById("timeline");
const details = document.getElementById("details");
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

// The details (placement, sandbox, retries) change with the state: after a new state,
// they are taken from the page as the server renders it now. One reading at a time;
// states heard meanwhile ask for one more.
let detailsReading = null;
let detailsAgain = false;
async function readDetails() {
  const res = await fetch(location.href, { headers: { accept: "text/html" } });
  if (!res.ok) return;
  const doc = new DOMParser().parseFromString(await res.text(), "text/html");
  const fresh = doc.getElementById("details");
  if (fresh) {
    details.replaceChildren(...[...fresh.childNodes].map((n) => document.importNode(n, true)));
  }
}
function refreshDetails() {
  if (detailsReading) {
    detailsAgain = true;
    return;
  }
  detailsReading = readDetails().catch(() => {/* the next state tries again */}).finally(() => {
    detailsReading = null;
    if (detailsAgain) {
      detailsAgain = false;
      refreshDetails();
    }
  });
}

// The sandbox directory is looked up on the agent after TASK_RUNNING and stored without a
// state change of its own: a short task can end before it is stored. After the final
// state, read the details a few more times while they name no sandbox.
function hasSandbox() {
  return [...details.querySelectorAll("dt")].some((dt) => dt.textContent.trim() === "Sandbox");
}
function settleDetails(waits = [1000, 3000]) {
  if (hasSandbox() || waits.length === 0) return;
  setTimeout(async () => {
    await detailsReading;
    await readDetails().catch(() => {});
    settleDetails(waits.slice(1));
  }, waits[0]);
}

// A browser opens at most 6 connections to a server over HTTP/1.1 and this page holds
// three streams: while hidden (a tab in the background) it closes them, and resumes
// where it stopped when shown again, so open task tabs never keep other pages from
// loading. `attach(source, finish)` adds the listeners; `finish()` ends for good.
function visibleStream(url, attach) {
  let source = null;
  let done = false;
  const close = () => {
    source?.close();
    source = null;
  };
  const open = () => {
    if (done || source || document.visibilityState !== "visible") return;
    source = new EventSource(url());
    attach(source, () => {
      done = true;
      close();
    });
  };
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") open();
    else close();
  });
  open();
}

function followState() {
  if (article.dataset.terminal === "true") return;
  // The page shows the first entries already: the stream resumes after them.
  const url = () => `${article.dataset.events}?last_event_id=${timeline.children.length}`;
  visibleStream(url, (source, finish) => {
    source.addEventListener("status", (e) => {
      const s = JSON.parse(e.data);
      if (Number(e.lastEventId) > timeline.children.length) {
        const li = document.createElement("li");
        const badge = document.createElement("span");
        badge.className = stateClassName(s.state);
        badge.textContent = stateLabel(s.state);
        li.append(badge, " ", timeElement(s.time));
        timeline.append(li);
        refreshDetails();
      }
      showState(s.state, s.terminal);
    });
    source.addEventListener("end", () => {
      finish();
      settleDetails();
    });
    // Closed for good (204: the page has seen the final state already).
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) finish();
    });
  });
}

function followOutput(pre) {
  const status = document.getElementById(`${pre.id}-status`);
  const parser = new AnsiParser();
  // The byte offset after the output shown: where a reopened stream resumes.
  let offset = 0;
  let received = false;
  status.textContent = "Waiting for output…";
  visibleStream(() => `${pre.dataset.follow}&last_event_id=${offset}`, (source, finish) => {
    source.addEventListener("output", (e) => {
      const { text } = JSON.parse(e.data);
      offset = Number(e.lastEventId);
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
      finish();
      // An end with an error document: the agent stayed unreachable after the task ended.
      const failure = e.data ? JSON.parse(e.data) : {};
      status.textContent = failure.message ?? (received ? "" : "No output.");
    });
    source.addEventListener("error", () => {
      // Closed for good (204: the file does not exist); otherwise the browser reconnects.
      if (source.readyState === EventSource.CLOSED) {
        finish();
        status.textContent = received ? "" : "No output.";
      }
    });
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
