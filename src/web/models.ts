/**
 * View models: plain data the templates print. Built only from the masked task view
 * (`toTaskV1`), so a `masked_env` value can never reach a page.
 *
 * @module
 */
import {
  isTerminal,
  MASK,
  NETWORKS,
  type StateClass,
  type TaskRecord,
  type TaskV1,
  toTaskV1,
} from "../task/mod.ts";

/** What every page's layout needs. */
export interface PageBase {
  title: string;
  /** `url_prefix`: every link and asset starts with it. */
  prefix: string;
  version: string;
  /** Which navigation entry is the current page. */
  nav: "submit" | "tasks" | "";
  /** The URL of a static asset of this build. */
  asset: (path: string) => string;
  /** Module scripts of the page (asset paths). */
  scripts: string[];
}

/** The CSS class of a state's badge: `state-running`, `state-finished`, … */
export function stateCss(state: string | undefined): string {
  return state ? `state-${state.replace(/^TASK_/, "").toLowerCase().replace(/_/g, "-")}` : "";
}

/** A state without its `TASK_` prefix, in lower case: `running`. */
export function stateLabel(state: string | undefined): string {
  return state ? state.replace(/^TASK_/, "").toLowerCase().replace(/_/g, " ") : "unknown";
}

/** A time as ISO (for `<time datetime>`) and as UTC text (shown until the script localizes it). */
export function timeOf(epochSeconds: number): { iso: string; text: string } {
  const iso = new Date(epochSeconds * 1000).toISOString();
  return { iso: iso.replace(/\.000Z$/, "Z"), text: `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC` };
}

export interface TaskRow {
  id: string;
  name: string;
  href: string;
  state: string;
  stateLabel: string;
  stateCss: string;
  submitted: { iso: string; text: string };
  image: string;
}

/** One row of a task table. */
export function taskRow(t: TaskRecord, prefix: string): TaskRow {
  const state = t.status.at(-1)?.status ?? "";
  return {
    id: t.id,
    name: t.name,
    href: `${prefix}/task/${encodeURIComponent(t.id)}`,
    state,
    stateLabel: stateLabel(state),
    stateCss: stateCss(state),
    submitted: timeOf(Math.floor(t.submitted_at / 1000) || (t.status[0]?.time ?? 0)),
    image: t.image,
  };
}

/** A labelled value of the task page. */
export interface Field {
  label: string;
  value: string;
  /** Shown in a monospace font. */
  code?: boolean;
}

const yesNo = (b: boolean) => (b ? "yes" : "no");

function pairs(map: Record<string, string> | null, mask = false): [string, string][] {
  return Object.entries(map ?? {}).map(([k, v]) => [k, mask ? MASK : v]);
}

function fields(entries: [string, string | number | null | undefined, boolean?][]): Field[] {
  return entries
    .filter(([, v]) => v !== "" && v !== null && v !== undefined)
    .map(([label, v, code]) => ({ label, value: String(v), code: code ?? false }));
}

/** A titled group of the task page's details. */
export interface DetailGroup {
  heading: string;
  /** Labelled values (`<dl>`). */
  fields?: Field[];
  /** Plain entries (`<ul>`), shown as code. */
  items?: string[];
}

export interface TaskPageModel extends PageBase {
  task: {
    id: string;
    name: string;
    state: string;
    stateLabel: string;
    stateCss: string;
    terminal: boolean;
    /** Only the groups that have something to show, in page order. */
    details: DetailGroup[];
  };
  history: { state: string; stateLabel: string; stateCss: string; iso: string; text: string }[];
  links: {
    json: string;
    stdout: string;
    stderr: string;
    resubmit: string;
    list: string;
    /** Live streams: state changes, and output as it is written. */
    events: string;
    kill: string;
    follow: { stdout: string; stderr: string };
  };
  canKill: boolean;
  canDelete: boolean;
}

const codePairs = (list: [string, string][]): Field[] =>
  list.map(([label, value]) => ({ label, value, code: true }));

/** The task page. */
export function taskPageModel(record: TaskRecord, base: PageBase): TaskPageModel {
  const t: TaskV1 = toTaskV1(record);
  const state = t.status.at(-1)?.status ?? "";
  const terminal = isTerminal(state);
  const enc = encodeURIComponent(t.id);
  const p = base.prefix;
  return {
    ...base,
    task: {
      id: t.id,
      name: t.name,
      state,
      stateLabel: stateLabel(state),
      stateCss: stateCss(state),
      terminal,
      details: ([
        {
          heading: "Container",
          fields: fields([
            ["Image", t.image, true],
            ["Command", t.command, true],
            ["Arguments", t.args?.length ? JSON.stringify(t.args) : "", true],
            ["User", t.user],
            ["Network", t.network || "default"],
            ["DNS", t.dns],
            ["Privileged", yesNo(t.privileged)],
            ["Force pull image", yesNo(t.force_pull_image)],
          ]),
        },
        {
          heading: "Resources",
          fields: fields([
            ["CPUs", t.cpu],
            ["Memory (MiB)", t.mem],
            ["Disk (MiB)", t.disk || ""],
            ["GPUs", t.gpus || ""],
          ]),
        },
        {
          heading: "Scheduling",
          fields: fields([
            ["Retries", `${t.retry} of ${t.max_retries}`],
            ["Timeout", t.timeout_seconds ? `${t.timeout_seconds} s` : "none"],
            ["Role", t.role],
            ["Callback URI", t.callback_uri, true],
            ["Callback events", t.callback_uri ? t.callback_events : ""],
          ]),
        },
        {
          heading: "Placement",
          fields: fields([
            ["Host", t.hostname],
            ["Agent", t.agent_id, true],
            ["Agent address", t.agent_ip ? `${t.agent_ip}:${t.agent_port}` : ""],
            ["Framework", t.framework_id, true],
            ["Sandbox", t.sandbox_path, true],
          ]),
        },
        {
          heading: "Environment",
          // A key in both is shown once, masked (the masked value wins at launch). toTaskV1
          // masked the values already; masked again so this page never depends on it.
          fields: codePairs([
            ...pairs(t.env).filter(([k]) => !Object.hasOwn(t.masked_env ?? {}, k)),
            ...pairs(t.masked_env, true),
          ]),
        },
        { heading: "Labels", fields: codePairs(pairs(t.labels)) },
        {
          heading: "Ports",
          items: (t.ports ?? []).map((x) =>
            `${x.container_port || "(host port)"}/${x.protocol}` +
            (x.host_port ? ` on host port ${x.host_port}` : "")
          ),
        },
        {
          heading: "Volumes",
          items: (t.volumes ?? []).map((v) =>
            `${v.host_path || "(sandbox)"} → ${v.container_path}`
          ),
        },
        { heading: "Volumes from", items: t.volumes_from ?? [] },
        {
          heading: "Fetched files",
          items: (t.fetch ?? []).map((f) => {
            const flags = [f.extract && "extract", f.executable && "executable", f.cache && "cache"]
              .filter(Boolean).join(", ");
            return flags ? `${f.uri} (${flags})` : f.uri;
          }),
        },
        {
          heading: "Agent constraints",
          items: (t.agent_constraints ?? []).map((c) => `${c.attribute_name}=${c.attribute_value}`),
        },
        {
          heading: "Docker parameters",
          items: (t.parameters ?? []).map((x) => `--${x.key}=${x.value}`),
        },
      ] as DetailGroup[]).filter((g) => (g.fields ?? g.items ?? []).length > 0),
    },
    history: t.status.map((s) => ({
      state: s.status,
      stateLabel: stateLabel(s.status),
      stateCss: stateCss(s.status),
      ...timeOf(s.time),
    })),
    links: {
      json: `${p}/api/v1/task/${enc}`,
      stdout: `${p}/api/v1/task/${enc}/stdout`,
      stderr: `${p}/api/v1/task/${enc}/stderr`,
      resubmit: `${p}/?from=${enc}`,
      list: `${p}/tasks`,
      events: `${p}/api/v1/task/${enc}/events`,
      kill: `${p}/api/v1/task/${enc}/kill`,
      follow: {
        stdout: `${p}/api/v1/task/${enc}/stdout?follow=1`,
        stderr: `${p}/api/v1/task/${enc}/stderr?follow=1`,
      },
    },
    canKill: !terminal,
    canDelete: terminal,
  };
}

/** The submit form's values, as the inputs show them (text, one entry per line). */
export interface FormValues {
  image: string;
  command: string;
  args: string;
  cpu: string;
  mem: string;
  disk: string;
  gpus: string;
  name: string;
  env: string;
  masked_env: string;
  labels: string;
  ports: string;
  volumes: string;
  volumes_from: string;
  fetch: { uri: string; extract: boolean; executable: boolean; cache: boolean }[];
  agent_constraints: string;
  network: string;
  dns: string;
  privileged: boolean;
  force_pull_image: boolean;
  callback_uri: string;
  max_retries: string;
  timeout_seconds: string;
}

/** An empty form with the original's defaults. */
export const EMPTY_FORM: FormValues = {
  image: "",
  command: "",
  args: "",
  cpu: "1",
  mem: "100",
  disk: "",
  gpus: "",
  name: "",
  env: "",
  masked_env: "",
  labels: "",
  ports: "",
  volumes: "",
  volumes_from: "",
  fetch: [{ uri: "", extract: false, executable: false, cache: false }],
  agent_constraints: "",
  network: "",
  dns: "",
  privileged: false,
  force_pull_image: false,
  callback_uri: "",
  max_retries: "5",
  timeout_seconds: "",
};

const lines = (xs: string[] | null | undefined) => (xs ?? []).join("\n");
const kv = (m: Record<string, string> | null) =>
  Object.entries(m ?? {}).map(([k, v]) => `${k}=${v}`).join("\n");

/**
 * The form prefilled from an existing task ("resubmit as new"). Masked values are
 * never shown: their keys come back with an empty value to fill in again.
 */
export function formFromTask(record: TaskRecord): FormValues {
  const t = toTaskV1(record);
  const maskedKeys = new Set(Object.keys(t.masked_env ?? {}));
  const env = Object.fromEntries(Object.entries(t.env ?? {}).filter(([k]) => !maskedKeys.has(k)));
  return {
    image: t.image,
    command: t.command,
    args: lines(t.args),
    cpu: String(t.cpu),
    mem: String(t.mem),
    disk: t.disk ? String(t.disk) : "",
    gpus: t.gpus ? String(t.gpus) : "",
    name: t.name,
    env: kv(env),
    masked_env: [...maskedKeys].map((k) => `${k}=`).join("\n"),
    labels: kv(t.labels),
    // Without host ports: the record holds the ones Mesos assigned to the first run.
    ports: (t.ports ?? []).map((x) => `${x.container_port}/${x.protocol}`).join("\n"),
    volumes: (t.volumes ?? []).map((v) => `${v.host_path}:${v.container_path}`).join("\n"),
    volumes_from: lines(t.volumes_from),
    fetch: t.fetch?.length ? t.fetch.map((f) => ({ ...f })) : EMPTY_FORM.fetch,
    agent_constraints: (t.agent_constraints ?? []).map((c) =>
      `${c.attribute_name}=${c.attribute_value}`
    ).join("\n"),
    network: t.network,
    dns: t.dns,
    privileged: t.privileged,
    force_pull_image: t.force_pull_image,
    callback_uri: t.callback_uri,
    max_retries: String(t.max_retries),
    timeout_seconds: t.timeout_seconds ? String(t.timeout_seconds) : "",
  };
}

/** The network choices of the form (the empty one is the agent's default). */
export const NETWORK_CHOICES: { value: string; label: string }[] = NETWORKS.map((n) => ({
  value: n,
  label: n === "" ? "default" : n,
}));

/** The state-class choices of the list filter; `all` lists every task. */
export const STATE_CHOICES: { value: string; label: string; classes: StateClass[] | null }[] = [
  { value: "active,queued", label: "Queued or active", classes: ["active", "queued"] },
  { value: "queued", label: "Queued", classes: ["queued"] },
  { value: "active", label: "Active", classes: ["active"] },
  { value: "terminated", label: "Finished", classes: ["terminated"] },
  { value: "all", label: "All", classes: null },
];
