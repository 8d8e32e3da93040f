// Task tables (the list, the index): states change live (Server-Sent Events of every task).
import { stateClassName, stateLabel } from "./page.js";

const status = document.getElementById("live-status");
const source = new EventSource(status.dataset.events);
source.addEventListener("open", () => (status.textContent = "States update live."));
source.addEventListener("error", () => {
  status.textContent = source.readyState === EventSource.CLOSED
    ? "Live updates stopped: reload the page."
    : "Reconnecting…";
});
source.addEventListener("status", (e) => {
  const s = JSON.parse(e.data);
  const badge = document.querySelector(
    `tr[data-task-id="${CSS.escape(s.task_id)}"] [data-state]`,
  );
  if (!badge) {
    // A task submitted after this page was rendered: offer to show it.
    if (s.state === "TASK_QUEUED") offerReload();
    return;
  }
  badge.className = stateClassName(s.state);
  badge.dataset.state = s.state;
  badge.textContent = stateLabel(s.state);
});
let newTasks = 0;
function offerReload() {
  newTasks++;
  let link = document.getElementById("new-tasks");
  if (!link) {
    link = document.createElement("a");
    link.id = "new-tasks";
    link.href = location.href;
    status.after(link);
  }
  link.textContent = newTasks === 1 ? "1 new task: reload" : `${newTasks} new tasks: reload`;
}

// The server lost track of what this page has seen: start again.
source.addEventListener("reset", () => location.reload());
