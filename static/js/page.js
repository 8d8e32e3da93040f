// Shared by every page: times in the viewer's time zone, and the URL prefix.

/** The `url_prefix` the server rendered into `<body data-prefix>`. */
export const prefix = document.body.dataset.prefix ?? "";

const format = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  timeZoneName: "short",
});

/** Shows a `<time datetime>` in the viewer's time zone. */
export function localizeTime(el) {
  const date = new Date(el.dateTime);
  if (!Number.isNaN(date.getTime())) {
    el.textContent = format.format(date);
    el.title = date.toISOString();
  }
}

/** A `<time>` element for an epoch time in seconds, already localized. */
export function timeElement(epochSeconds) {
  const el = document.createElement("time");
  el.dateTime = new Date(epochSeconds * 1000).toISOString();
  localizeTime(el);
  return el;
}

/** `TASK_RUNNING` → `running`, as the server renders it. */
export function stateLabel(state) {
  return state ? state.replace(/^TASK_/, "").toLowerCase().replace(/_/g, " ") : "unknown";
}

/** `TASK_RUNNING` → `state state-running` (the badge classes). */
export function stateClassName(state) {
  const name = state ? state.replace(/^TASK_/, "").toLowerCase().replace(/_/g, "-") : "";
  return name ? `state state-${name}` : "state";
}

for (const el of document.querySelectorAll("time[datetime]")) localizeTime(el);
