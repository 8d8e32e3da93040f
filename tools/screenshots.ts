/**
 * Screenshots of the web pages for the README: the submit form, the task list and
 * a task page, on a 1280 px desktop (whole page) and a 390 px phone (first screen),
 * taken in Debian's Chromium against the real server and the development cluster.
 *
 * ```sh
 * deno task screenshots            # writes docs/images/*.png
 * deno run -A tools/screenshots.ts --out /tmp/shots
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { launchChromium } from "../tests/_browser.ts";
import { small, startStack, submit, waitForState } from "../tests/_e2e.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    out: { type: "string", default: new URL("../docs/images/", import.meta.url).pathname },
  },
});
const out = values.out.replace(/\/?$/, "/");
await Deno.mkdir(out, { recursive: true });

await using stack = await startStack();
const url = stack.url;

const REPORT = [
  "printf '\\033[1;34m==>\\033[0m Fetching sources\\n'",
  "sleep 0.3",
  "printf '\\033[32m✔\\033[0m 1,204 rows read from s3://reports/2026-12\\n'",
  "printf '\\033[33mwarning:\\033[0m 3 rows without a region, counted as \"other\"\\n'",
  "printf '\\033[1;34m==>\\033[0m Writing report\\n'",
  "echo 'report.pdf: 18 pages, 412 KiB'",
  "printf '\\033[1;32mdone\\033[0m in 0.4 s\\n'",
].join("; ");
const report = await submit(
  url,
  small(REPORT, {
    name: "Monthly sales report",
    env: { REGION: "eu-west", FORMAT: "pdf" },
    masked_env: { S3_SECRET_KEY: "never-shown" },
    labels: { team: "finance", schedule: "monthly" },
    ports: [{ container_port: 8080, protocol: "tcp" }],
    timeout_seconds: 600,
  }),
);
await submit(
  url,
  small("echo importing; sleep 120", {
    name: "Import customer events",
    labels: { team: "data" },
  }),
);
const failing = await submit(
  url,
  small("echo 'connecting to db:5432' ; echo 'connection refused' >&2; exit 1", {
    name: "Nightly database backup",
    max_retries: 0,
  }),
);
await submit(url, {
  cpu: 64,
  mem: 16,
  image: "busybox",
  command: "true",
  name: "GPU training run (waiting for resources)",
});
await waitForState(url, report, "TASK_FINISHED");
await waitForState(url, failing, "TASK_FAILED");

const pages: [string, string][] = [
  ["index", "/"],
  ["tasks", "/tasks?state=all"],
  ["task", `/task/${report}`],
];
const browser = await launchChromium();
try {
  for (
    const [device, viewport, fullPage] of [
      ["desktop", { width: 1280, height: 800 }, true],
      ["phone", { width: 390, height: 844 }, false],
    ] as const
  ) {
    const context = await browser.newContext({
      viewport,
      deviceScaleFactor: 1,
      colorScheme: "light",
    });
    const page = await context.newPage();
    for (const [name, path] of pages) {
      await page.goto(`${url}${path}`);
      if (name === "task") await page.locator("#stdout").filter({ hasText: "done" }).waitFor();
      else await page.waitForLoadState("networkidle").catch(() => {});
      const file = `${out}${name}-${device}.png`;
      await page.screenshot({ path: file, fullPage });
      // deno-lint-ignore no-console
      console.log(`wrote ${file}`);
    }
    await context.close();
  }
} finally {
  await browser.close();
}
