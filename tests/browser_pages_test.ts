/**
 * The task page, the list page and the error pages in a real browser: kill and
 * delete, inert hostile names and output, filters and pages, live list states,
 * `url_prefix` behind a proxy with basic authentication, a phone-sized screen.
 */
import assert from "node:assert/strict";
import { axeViolations, browserSuite, startPrefixProxy, watchPage } from "./_browser.ts";
import { small, startStack, submit, waitForState } from "./_e2e.ts";

const XSS_NAME = "<img src=x onerror=alert(1)>";
const XSS_OUTPUT = "<script>alert(2)</script><img src=x onerror=alert(3)><b>bold?</b>";

browserSuite("web: task page, list page and error pages", async ({ newContext }, t) => {
  await using stack = await startStack();
  const context = await newContext({ viewport: { width: 1280, height: 900 } });

  await t.step("kill a running task from its page, then delete it", async () => {
    const id = await submit(stack.url, small("echo started; sleep 30", { name: "sleeper" }));
    await waitForState(stack.url, id, "TASK_RUNNING");
    const page = await context.newPage();
    const watch = watchPage(page, { acceptDialogs: true });
    await page.goto(`${stack.url}/task/${id}`);
    await page.locator("#stdout").filter({ hasText: "started" }).waitFor();
    assert.ok(await page.getByRole("button", { name: "Delete" }).isHidden());
    await page.getByRole("button", { name: "Kill" }).click();
    await page.locator("#task-state").filter({ hasText: "killed" }).waitFor({ timeout: 20_000 });
    assert.equal(watch.dialogs.length, 1, "the kill was confirmed");
    assert.match(watch.dialogs[0], /^confirm: Kill the task "sleeper"\?/);
    await page.getByRole("button", { name: "Delete" }).click();
    await page.waitForURL(/\/tasks$/);
    const res = await fetch(`${stack.url}/api/v1/task/${id}`);
    await res.body?.cancel();
    assert.equal(res.status, 404);
    assert.deepEqual(watch.errors, []);
    await page.close();
  });

  await t.step("a hostile name and hostile output render as text", async () => {
    const id = await submit(
      stack.url,
      small(`printf '%s\\n' '${XSS_OUTPUT}'`, { name: XSS_NAME, labels: { xss: "1" } }),
    );
    await waitForState(stack.url, id, "TASK_FINISHED");
    const page = await context.newPage();
    const watch = watchPage(page);
    await page.goto(`${stack.url}/task/${id}`);
    await page.locator("#stdout").filter({ hasText: "bold?" }).waitFor();
    assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), XSS_NAME);
    assert.equal((await page.locator("#stdout").textContent())?.trim(), XSS_OUTPUT);
    assert.equal(await page.locator("#stdout b, #stdout img, #stdout script").count(), 0);
    for (const path of ["/tasks?state=all&label=xss", "/"]) {
      await page.goto(`${stack.url}${path}`);
      if (path !== "/") {
        assert.equal(await page.getByRole("link", { name: XSS_NAME }).count(), 1, path);
      }
      assert.equal(await page.locator("main img").count(), 0, path);
    }
    assert.deepEqual(watch.dialogs, [], "no script ran");
    assert.deepEqual(watch.errors, []);
    await page.close();
  });

  await t.step("the list filters by state, name and label, and pages", async () => {
    const ids = [];
    for (const n of [1, 2, 3]) {
      ids.push(
        await submit(stack.url, small("true", { name: `pager ${n}`, labels: { batch: "p" } })),
      );
    }
    for (const id of ids) await waitForState(stack.url, id, "TASK_FINISHED");
    const page = await context.newPage();
    const watch = watchPage(page);
    await page.goto(`${stack.url}/tasks?state=all&label=batch%3Dp&limit=2`);
    const names = () => page.locator("tbody tr td:first-child a").allTextContents();
    assert.deepEqual(await names(), ["pager 1", "pager 2"]);
    await page.getByRole("link", { name: "Next page" }).click();
    await page.waitForURL(/cursor=/);
    assert.deepEqual(await names(), ["pager 3"]);
    assert.equal(await page.getByRole("link", { name: "Next page" }).count(), 0);
    await page.getByRole("link", { name: "First page" }).click();
    await page.waitForURL((u) => !u.search.includes("cursor="));
    assert.deepEqual(await names(), ["pager 1", "pager 2"]);

    await page.getByLabel("Name").fill("pager 2");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/name=pager/);
    assert.deepEqual(await names(), ["pager 2"]);

    await page.goto(`${stack.url}/tasks`);
    await page.getByLabel("State").selectOption({ label: "Finished" });
    await page.getByLabel("Label").fill("batch=p");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/state=terminated/);
    assert.deepEqual(await names(), ["pager 1", "pager 2", "pager 3"]);
    await page.getByLabel("State").selectOption({ label: "Queued or active" });
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/state=active%2Cqueued/);
    assert.deepEqual(await names(), []);
    assert.deepEqual(watch.errors, []);
    await page.close();
  });

  await t.step("the list and the index show state changes live", async () => {
    const page = await context.newPage();
    const watch = watchPage(page);
    const id = await submit(stack.url, small("sleep 1", { name: "live row" }));
    await page.goto(`${stack.url}/tasks?state=all&name=live%20row`);
    await page.locator("#live-status").filter({ hasText: "live" }).waitFor();
    const loads: string[] = [];
    page.on("load", () => loads.push(page.url()));
    const badge = page.locator(`tr[data-task-id="${id}"] .state`);
    await badge.filter({ hasText: "finished" }).waitFor({ timeout: 20_000 });
    assert.deepEqual(loads, [], "no reload");
    // A task submitted meanwhile is offered, not inserted.
    await submit(stack.url, small("true", { name: "later" }));
    await page.getByRole("link", { name: "1 new task: reload" }).waitFor();
    // The index's table too.
    const next = await submit(stack.url, small("sleep 1", { name: "live index row" }));
    await page.goto(`${stack.url}/`);
    await page.locator("#live-status").filter({ hasText: "live" }).waitFor();
    loads.length = 0;
    const row = page.locator(`tr[data-task-id="${next}"] .state`);
    await row.filter({ hasText: "finished" }).waitFor({ timeout: 20_000 });
    assert.deepEqual(loads, [], "no reload");
    assert.deepEqual(watch.errors, []);
    await page.close();
  });

  await t.step("unknown pages and tasks answer the 404 page", async () => {
    const page = await context.newPage();
    const watch = watchPage(page);
    for (const path of ["/task/eremetic-task.nope", "/nothing/here"]) {
      const res = await page.goto(`${stack.url}${path}`);
      assert.equal(res?.status(), 404, path);
      assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Not found");
    }
    // The browser logs each 404 document as a failed resource; nothing else.
    assert.deepEqual(watch.errors.filter((e) => !/status of 404/.test(e)), []);
    await page.close();
  });

  await t.step("axe-core finds no serious accessibility problem on any page", async () => {
    const id = await submit(
      stack.url,
      small("echo checked", {
        name: "a11y task",
        env: { A: "1" },
        masked_env: { B: "2" },
        labels: { team: "web" },
      }),
    );
    await waitForState(stack.url, id, "TASK_FINISHED");
    const all = ["/", "/tasks?state=all", `/task/${id}`, "/task/eremetic-task.none"];
    // Rules hardly depend on the width: every page wide, the longest one narrow too.
    for (
      const [viewport, paths] of [
        [{ width: 1280, height: 900 }, all],
        [{ width: 390, height: 844 }, ["/"]],
      ] as const
    ) {
      const audit = await newContext({ viewport, bypassCSP: true });
      const page = await audit.newPage();
      for (const path of paths) {
        await page.goto(`${stack.url}${path}`);
        if (path === `/task/${id}`) {
          await page.locator("#stdout").filter({ hasText: "checked" }).waitFor();
        }
        assert.deepEqual(await axeViolations(page), [], `${path} at ${viewport.width} px`);
      }
      await audit.close();
    }
  });

  await t.step("times show in the viewer's time zone", async () => {
    const id = await submit(stack.url, small("true", { name: "zoned" }));
    const zoned = await newContext({ timezoneId: "Asia/Kolkata", locale: "en-US" });
    const page = await zoned.newPage();
    await page.goto(`${stack.url}/task/${id}`);
    const time = page.locator("#timeline time").first();
    const iso = await time.getAttribute("datetime");
    const local = new Date(Date.parse(iso!) + 330 * 60_000).toISOString(); // UTC+5:30
    const [hh, mm] = [local.slice(11, 13), local.slice(14, 16)];
    const text = await time.textContent() ?? "";
    assert.match(text, /GMT\+5:30/, text);
    assert.ok(text.includes(`${Number(hh) % 12 || 12}:${mm}`), `${text} shows ${hh}:${mm}`);
    await zoned.close();
  });

  await t.step("a 390 px wide screen needs no horizontal scrolling", async () => {
    const phone = await newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const page = await phone.newPage();
    const id = await submit(stack.url, small("echo phone", { name: "phone task" }));
    for (const path of ["/", "/tasks?state=all", `/task/${id}`]) {
      await page.goto(`${stack.url}${path}`);
      const width = await page.evaluate("document.documentElement.scrollWidth");
      assert.ok(Number(width) <= 390, `${path} is ${width} px wide`);
    }
    await phone.close();
  });
});

browserSuite(
  "web: behind a url_prefix proxy, with basic authentication",
  async ({ newContext }, t) => {
    await using stack = await startStack({
      flags: ["--url-prefix", "/svc/eremetic", "--http-credentials", "admin:pa:ss"],
    });
    await using proxy = startPrefixProxy(stack.url, "/svc/eremetic");

    await t.step("every page, link, asset and stream works through the prefix", async () => {
      const context = await newContext({
        httpCredentials: { username: "admin", password: "pa:ss" },
      });
      const page = await context.newPage();
      const watch = watchPage(page);
      const failed: string[] = [];
      page.on("response", (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      });
      page.on("requestfailed", (r) => {
        // Streams still open when the page navigates away are aborted: not a failure.
        if (r.failure()?.errorText !== "net::ERR_ABORTED") failed.push(`failed ${r.url()}`);
      });
      await page.goto(`${proxy.url}/`);
      await page.getByLabel("Image (required)").fill("busybox");
      await page.getByLabel("Command").fill("echo behind the proxy");
      await page.getByLabel("CPUs (required)").fill("0.1");
      await page.getByLabel("Memory (MiB) (required)").fill("16");
      await page.getByRole("button", { name: "Submit task" }).click();
      await page.waitForURL(new RegExp(`^${proxy.url}/task/eremetic-task\\.`));
      await page.locator("#task-state").filter({ hasText: "finished" }).waitFor({
        timeout: 20_000,
      });
      await page.locator("#stdout").filter({ hasText: "behind the proxy" }).waitFor();
      for (const link of ["JSON", "Raw stdout", "Resubmit as new"]) {
        const href = await page.getByRole("link", { name: link }).getAttribute("href");
        assert.ok(href?.startsWith("/svc/eremetic/"), `${link}: ${href}`);
      }
      await page.getByRole("link", { name: "Tasks", exact: true }).click();
      await page.waitForURL(`${proxy.url}/tasks`);
      await page.getByLabel("State").selectOption({ label: "All" });
      await page.getByRole("button", { name: "Filter" }).click();
      await page.locator("#live-status").filter({ hasText: "live" }).waitFor();
      await page.getByRole("link", { name: /Eremetic task/ }).first().click();
      await page.waitForURL(new RegExp(`^${proxy.url}/task/`));
      await page.getByRole("link", { name: "Submit", exact: true }).click();
      await page.waitForURL(`${proxy.url}/`);
      const hrefs = await page.locator("a[href], link[href], script[src]").evaluateAll((els) =>
        els.map((e) => e.getAttribute("href") ?? e.getAttribute("src") ?? "")
      );
      for (const h of hrefs) {
        if (h.startsWith("/")) assert.ok(h.startsWith("/svc/eremetic/"), h);
      }
      assert.deepEqual(failed, []);
      assert.deepEqual(watch.errors, []);
      await context.close();
    });
  },
);
