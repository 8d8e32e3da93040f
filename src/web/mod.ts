/**
 * The web pages: the submit form (`/`), the task list (`/tasks`), the task page
 * (`/task/{id}` for browsers), the 404 and 401 pages and the static assets, rendered
 * from Eta templates. `src/app.ts` hands them to the API, which runs them behind its
 * logging, trailing-slash and authentication middleware.
 *
 * ```ts
 * import { createWeb } from "./mod.ts";
 * // const web = await createWeb({ store, version: "1.0.0", urlPrefix: "" });
 * // createApi({ ..., web });
 * ```
 *
 * @module
 */
import { type Context, Hono } from "hono";
import type { ApiEnv, WebPages } from "../api/mod.ts";
import { MAX_TASK_ID_LENGTH, parseLabel } from "../api/mod.ts";
import type { TaskStore } from "../store/mod.ts";
import { type AssetSet, createAssets, readStaticFiles, serveAsset } from "./assets.ts";
import {
  EMPTY_FORM,
  formFromTask,
  NETWORK_CHOICES,
  type PageBase,
  STATE_CHOICES,
  taskPageModel,
  taskRow,
} from "./models.ts";
import { type FinishedChange, RecentlyFinished } from "./recent.ts";
import { createViews, readTemplates, type Views } from "./views.ts";

export { type AssetSet, createAssets, readStaticFiles } from "./assets.ts";
export { createViews, readTemplates, type Views } from "./views.ts";

export interface WebDeps {
  store: Pick<TaskStore, "getTask" | "listTasks">;
  version: string;
  urlPrefix?: string;
  /** Compiled templates; read from `templates/` by default. */
  views?: Views;
  /** Static assets; read from `static/` by default. */
  assets?: AssetSet;
  /** State changes (the event hub), for the recently finished tasks of the index page. */
  events?: { subscribeAll(fn: (change: FinishedChange) => void): () => void };
}

/**
 * No inline script or style anywhere: scripts and styles come from `/static`, data
 * from `data-` attributes; task output is inserted as text by the scripts.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const HTML_HEADERS = {
  "content-type": "text/html; charset=UTF-8",
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
};

/** Tasks per list page, unless `?limit=` (1-500) asks for another size. */
export const LIST_PAGE_SIZE = 50;
const MAX_LIST_PAGE_SIZE = 500;
/** Tasks below the submit form. */
export const INDEX_TASKS = 10;

const wantsHtml = (c: Context) => (c.req.header("accept") ?? "").includes("text/html");

/** Builds the pages. */
export async function createWeb(deps: WebDeps): Promise<WebPages> {
  const prefix = deps.urlPrefix ?? "";
  const views = deps.views ?? createViews(await readTemplates());
  const assets = deps.assets ?? await createAssets(await readStaticFiles());
  const asset = (path: string) => `${prefix}/static/${assets.version}/${path}`;
  const base = (
    title: string,
    nav: PageBase["nav"],
    scripts: string[] = [],
  ): PageBase => ({ title, prefix, version: deps.version, nav, asset, scripts });
  const page = (name: string, model: object, status = 200) =>
    new Response(views.render(name, model), { status, headers: HTML_HEADERS });
  const finished = new RecentlyFinished(INDEX_TASKS);
  deps.events?.subscribeAll((change) => finished.note(change));
  const notFound = (c: Context) => {
    c.set("handler", "NotFound");
    return page("not_found", base("Not found", "", ["js/page.js"]), 404);
  };

  const app = new Hono<ApiEnv>();

  app.get("/static/*", (c) => {
    c.set("handler", "Static");
    const path = c.req.path.slice("/static/".length);
    const res = serveAsset(assets, path, c.req.header("if-none-match"));
    return res ?? c.body(null, 404);
  });

  app.get("/", async (c, next) => {
    if (!wantsHtml(c)) return await next();
    c.set("handler", "Index");
    const from = c.req.query("from");
    const source = from && from.length <= MAX_TASK_ID_LENGTH
      ? await deps.store.getTask(from)
      : null;
    const recent = await deps.store.listTasks({ states: ["active", "queued"], limit: INDEX_TASKS });
    // Deleted ones are left out.
    const done = (await Promise.all(finished.ids().map((id) => deps.store.getTask(id))))
      .filter((t) => t !== null);
    return page("index", {
      ...base("Submit a task", "submit", ["js/page.js", "js/submit.js", "js/tasks.js"]),
      form: source ? formFromTask(source) : EMPTY_FORM,
      from: source
        ? { href: `${prefix}/task/${encodeURIComponent(source.id)}`, name: source.name }
        : null,
      fromMissing: Boolean(from) && !source,
      networks: NETWORK_CHOICES,
      recent: recent.tasks.map((t) => taskRow(t, prefix)),
      finished: done.map((t) => taskRow(t, prefix)),
      more: recent.cursor !== null,
    });
  });

  app.get("/tasks", async (c) => {
    c.set("handler", "TaskList");
    const q = c.req.query();
    const choice = STATE_CHOICES.find((s) => s.value === q.state) ?? STATE_CHOICES[0];
    const asked = Number(q.limit);
    const limit = Number.isInteger(asked) && asked >= 1 && asked <= MAX_LIST_PAGE_SIZE
      ? asked
      : LIST_PAGE_SIZE;
    const filter = {
      states: choice.classes,
      name: q.name || undefined,
      label: parseLabel(q.label),
      limit,
    };
    let result;
    let stale = false;
    try {
      result = await deps.store.listTasks({ ...filter, cursor: q.cursor || null });
    } catch (e) {
      // A cursor of another server or an older layout: start again at the first page.
      if (!(e instanceof RangeError)) throw e;
      stale = true;
      result = await deps.store.listTasks(filter);
    }
    const query = (extra: Record<string, string>) => {
      const p = new URLSearchParams();
      if (choice !== STATE_CHOICES[0]) p.set("state", choice.value);
      if (q.name) p.set("name", q.name);
      if (q.label) p.set("label", q.label);
      if (limit !== LIST_PAGE_SIZE) p.set("limit", String(limit));
      for (const [k, v] of Object.entries(extra)) p.set(k, v);
      const s = p.toString();
      return `${prefix}/tasks${s ? `?${s}` : ""}`;
    };
    return page("tasks", {
      ...base("Tasks", "tasks", ["js/page.js", "js/tasks.js"]),
      filters: {
        state: choice.value,
        name: q.name ?? "",
        label: q.label ?? "",
        limit: limit === LIST_PAGE_SIZE ? "" : String(limit),
      },
      states: STATE_CHOICES,
      rows: result.tasks.map((t) => taskRow(t, prefix)),
      stale,
      firstHref: q.cursor && !stale ? query({}) : null,
      nextHref: result.cursor ? query({ cursor: result.cursor }) : null,
    });
  });

  // The original's task page path; JSON clients fall through to the legacy API route.
  app.get("/task/:id", async (c, next) => {
    if (!wantsHtml(c)) return await next();
    c.set("handler", "TaskPage");
    const id = c.req.param("id");
    const task = id.length <= MAX_TASK_ID_LENGTH ? await deps.store.getTask(id) : null;
    if (!task) return notFound(c);
    return page(
      "task",
      taskPageModel(task, base(`Task ${task.name}`, "", ["js/page.js", "js/task.js"])),
    );
  });

  return {
    routes: app,
    notFound,
    unauthorized: () => page("unauthorized", base("Unauthorized", ""), 401),
  };
}
