/**
 * Browser tests in a real Chromium (Debian's `chromium`, driven by playwright-core):
 * one browser per test file, a fresh context per step. Without Chromium the tests are
 * skipped with a notice, except under `CI=true`, where they fail.
 *
 * ```ts
 * import { browserSuite } from "./_browser.ts";
 * browserSuite("pages", async ({ newContext }, t) => { await t.step("…", async () => {}); });
 * ```
 *
 * @module
 */
import { createRequire } from "node:module";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

/** Where Chromium is: `CHROMIUM_PATH`, else the Debian package's path. */
export const CHROMIUM_PATH: string = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

function chromiumPresent(): boolean {
  try {
    return Deno.statSync(CHROMIUM_PATH).isFile;
  } catch {
    return false;
  }
}

const PRESENT = chromiumPresent();
const IN_CI = Deno.env.get("CI") === "true";

/** Problems the page reported: console errors, uncaught exceptions, dialogs. */
export interface PageWatch {
  errors: string[];
  dialogs: string[];
}

/** Records console errors, page errors and dialogs (dismissed unless `acceptDialogs`). */
export function watchPage(page: Page, { acceptDialogs = false } = {}): PageWatch {
  const watch: PageWatch = { errors: [], dialogs: [] };
  page.on("console", (m) => {
    if (m.type() === "error") watch.errors.push(m.text());
  });
  page.on("pageerror", (e) => watch.errors.push(String(e)));
  page.on("dialog", (d) => {
    watch.dialogs.push(`${d.type()}: ${d.message()}`);
    void (acceptDialogs ? d.accept() : d.dismiss());
  });
  return watch;
}

export interface BrowserSuite {
  browser: Browser;
  /** A new context (closed after the suite) with these options. */
  newContext(options?: Parameters<Browser["newContext"]>[0]): Promise<BrowserContext>;
}

/**
 * One test per file whose steps share one browser (starting Chromium costs about a
 * second). Skipped with a notice when Chromium is missing; under `CI=true` it fails.
 */
export function browserSuite(
  name: string,
  fn: (suite: BrowserSuite, t: Deno.TestContext) => Promise<void>,
): void {
  if (!PRESENT && !IN_CI) {
    // deno-lint-ignore no-console
    console.warn(
      `NOTICE: "${name}" skipped: no Chromium at ${CHROMIUM_PATH} (set CHROMIUM_PATH; with CI=true it fails)`,
    );
    Deno.test({ name, ignore: true, fn: () => {} });
    return;
  }
  Deno.test({
    name,
    // Playwright keeps a connection and timers of its own while the browser runs.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      if (!PRESENT) {
        throw new Error(`Cannot run browser tests: no Chromium at ${CHROMIUM_PATH} (CI=true)`);
      }
      const browser = await launchChromium();
      try {
        await fn({ browser, newContext: (options) => browser.newContext(options) }, t);
      } finally {
        await browser.close();
      }
    },
  });
}

/** Starts Debian's Chromium headless, as the tests and `tools/screenshots.ts` use it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

/** A reverse proxy that serves `target` under `prefix` (and strips it), as `url_prefix` expects. */
export interface PrefixProxy extends AsyncDisposable {
  /** The proxy's URL including the prefix, e.g. `http://127.0.0.1:41234/p`. */
  url: string;
}

/** Starts a reverse proxy on 127.0.0.1 that strips `prefix` and forwards to `target`. */
export function startPrefixProxy(target: string, prefix: string): PrefixProxy {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    if (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) {
      return new Response("not behind the prefix", { status: 404 });
    }
    const path = url.pathname.slice(prefix.length) || "/";
    return fetch(`${target}${path}${url.search}`, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      redirect: "manual",
      // A client that goes away cancels the body, which ends the upstream request.
    }).then((res) => new Response(res.body, { status: res.status, headers: res.headers }));
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}${prefix}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

let axeSource: string | null = null;

/**
 * The serious and critical accessibility violations axe-core finds on the page (WCAG 2
 * A and AA rules). The page's context needs `bypassCSP: true`: axe is injected inline.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  axeSource ??= await Deno.readTextFile(
    createRequire(import.meta.url).resolve("axe-core/axe.min.js"),
  );
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(`axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    resultTypes: ["violations"],
  }).then((r) => r.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
  })))`) as { id: string; impact: string; help: string; targets: string[] }[];
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.targets.join(", ")}`);
}
