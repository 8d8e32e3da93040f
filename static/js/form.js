// The submit form's values to the API's task body, and the API's problems back to
// form fields. Pure (no DOM): tested by src/web/form_test.ts.

const nonEmptyLines = (text) =>
  String(text ?? "").split(/\r?\n/).map((l, i) => ({ line: i + 1, text: l.trim() }))
    .filter((l) => l.text !== "");

/**
 * Converts form values (strings, booleans, and `fetch` rows) into a v1 task body.
 * Returns `{ body, problems }`; `problems` name form fields (`{ path, problem }`).
 */
export function formToBody(values) {
  const body = {};
  const problems = [];
  const bad = (path, problem) => problems.push({ path, problem });

  for (const key of ["image", "command", "name", "dns", "callback_uri", "network"]) {
    const v = String(values[key] ?? "").trim();
    if (v !== "") body[key] = v;
  }
  for (const key of ["cpu", "mem", "disk", "gpus", "max_retries", "timeout_seconds"]) {
    const v = String(values[key] ?? "").trim();
    if (v === "") continue;
    const n = Number(v);
    if (Number.isNaN(n)) bad(key, "must be a number");
    else body[key] = n;
  }
  const args = nonEmptyLines(values.args).map((l) => l.text);
  if (args.length) body.args = args;

  for (const key of ["env", "masked_env", "labels"]) {
    const map = {};
    for (const { line, text } of nonEmptyLines(values[key])) {
      const at = text.indexOf("=");
      if (at <= 0) bad(key, `line ${line}: expected NAME=value`);
      // "Resubmit as new" lists the masked names without their values: an empty one
      // was not filled in again, and would reach the task as an empty secret.
      else if (key === "masked_env" && text.slice(at + 1).trim() === "") {
        bad(
          key,
          `line ${line}: enter the value of ${text.slice(0, at).trim()} (never shown again)`,
        );
      } else map[text.slice(0, at).trim()] = text.slice(at + 1);
    }
    if (Object.keys(map).length) body[key] = map;
  }

  const ports = [];
  for (const { line, text } of nonEmptyLines(values.ports)) {
    const m = /^(?:(\d+):)?(\d+)(?:\/(\w+))?$/.exec(text);
    if (!m) {
      bad(
        "ports",
        `line ${line}: expected container_port/protocol or host_port:container_port/protocol`,
      );
      continue;
    }
    const port = { container_port: Number(m[2]), protocol: (m[3] ?? "tcp").toLowerCase() };
    if (m[1] !== undefined) port.host_port = Number(m[1]);
    ports.push(port);
  }
  if (ports.length) body.ports = ports;

  const volumes = nonEmptyLines(values.volumes).map(({ text }) => {
    const at = text.indexOf(":");
    return at < 0
      ? { container_path: text }
      : { host_path: text.slice(0, at), container_path: text.slice(at + 1) };
  });
  if (volumes.length) body.volumes = volumes;

  const from = nonEmptyLines(values.volumes_from).map((l) => l.text);
  if (from.length) body.volumes_from = from;

  const constraints = [];
  for (const { line, text } of nonEmptyLines(values.agent_constraints)) {
    const at = text.indexOf("=");
    if (at <= 0) bad("agent_constraints", `line ${line}: expected attribute=value`);
    else {
      constraints.push({
        attribute_name: text.slice(0, at).trim(),
        attribute_value: text.slice(at + 1).trim(),
      });
    }
  }
  if (constraints.length) body.agent_constraints = constraints;

  const fetch = (values.fetch ?? []).filter((r) => String(r.uri ?? "").trim() !== "").map((r) => ({
    uri: String(r.uri).trim(),
    extract: Boolean(r.extract),
    executable: Boolean(r.executable),
    cache: Boolean(r.cache),
  }));
  if (fetch.length) body.fetch = fetch;

  if (values.privileged) body.privileged = true;
  if (values.force_pull_image) body.force_pull_image = true;
  return { body, problems };
}

/**
 * The form field an API problem belongs to, and the message to show there:
 * `ports[1].protocol` → `ports`, "entry 2: protocol must be tcp or udp".
 */
export function fieldOfProblem({ path, problem }) {
  const m = /^([A-Za-z_]+)(.*)$/.exec(String(path ?? ""));
  if (!m) return { field: null, message: `${path} ${problem}` };
  const rest = m[2];
  if (rest === "") return { field: m[1], message: problem };
  const index = /^\[(\d+)\]\.?(.*)$/.exec(rest);
  if (index) {
    const what = index[2] ? `${index[2]} ` : "";
    return { field: m[1], message: `entry ${Number(index[1]) + 1}: ${what}${problem}` };
  }
  return { field: m[1], message: `${rest.replace(/^\./, "")}: ${problem}` };
}
