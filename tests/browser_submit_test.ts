/**
 * The submit form and the task page in a real browser, against the real server and
 * the development cluster: submit, watch it finish live, errors next to their fields.
 */
import assert from "node:assert/strict";
import { browserSuite, watchPage } from "./_browser.ts";
import { small, startStack, submit, waitForState } from "./_e2e.ts";

browserSuite("web: submit a task and watch it run", async ({ newContext }, t) => {
  await using stack = await startStack();
  const context = await newContext({ viewport: { width: 1280, height: 900 } });

  await t.step(
    "the labelled fields submit a task; its page follows state and stdout live",
    async () => {
      const page = await context.newPage();
      const watch = watchPage(page);
      await page.goto(`${stack.url}/`);
      await page.getByLabel("Image (required)").fill("busybox");
      await page.getByLabel("Command").fill(
        "sleep 0.5; echo hello from the form; printf '\\033[32mgreen\\033[0m\\n'",
      );
      await page.getByLabel("CPUs (required)").fill("0.1");
      await page.getByLabel("Memory (MiB) (required)").fill("16");
      await page.getByLabel("Name", { exact: true }).fill("form task");
      await page.getByLabel("Environment", { exact: true }).fill("GREETING=hi");
      await page.getByLabel("Masked environment").fill("SECRET=hunter2");
      await page.getByLabel("Labels").fill("team=web");
      await page.getByRole("button", { name: "Submit task" }).click();
      await page.waitForURL(/\/task\/eremetic-task\./);
      const loads: string[] = [];
      page.on("load", () => loads.push(page.url()));
      await page.locator("#task-state").filter({ hasText: "finished" }).waitFor({
        timeout: 20_000,
      });
      await page.locator("#stdout").filter({ hasText: "hello from the form" }).waitFor();
      assert.equal(await page.locator("#stdout .fg-green").textContent(), "green");
      assert.deepEqual(loads, [], "no reload");
      assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "form task");
      const html = await page.content();
      assert.ok(!html.includes("hunter2"), "the masked value is not on the page");
      assert.ok(html.includes("*******"));
      assert.ok(await page.locator("#timeline li").count() >= 4, "the timeline grew");
      assert.ok(await page.getByRole("button", { name: "Delete" }).isVisible());
      assert.ok(!(await page.getByRole("button", { name: "Kill" }).isVisible()));
      assert.deepEqual(watch.errors, []);
      await page.close();
    },
  );

  await t.step("an error of the API shows next to its field", async () => {
    const page = await context.newPage();
    const watch = watchPage(page);
    await page.goto(`${stack.url}/`);
    await page.getByLabel("Image (required)").fill("busybox");
    await page.getByLabel("CPUs (required)").fill("0");
    await page.getByLabel("Ports").fill("80/sctp");
    await page.getByRole("button", { name: "Submit task" }).click();
    const cpuError = page.locator("#cpu-error");
    await cpuError.waitFor();
    assert.match(await cpuError.textContent() ?? "", /must be > 0/);
    assert.equal(await page.getByLabel("CPUs (required)").getAttribute("aria-invalid"), "true");
    assert.match(await page.locator("#ports-error").textContent() ?? "", /tcp or udp/);
    assert.ok(await page.locator("#mem-error").isHidden());
    assert.match(page.url(), /\/$/, "still on the form");
    // The 422 answer itself is logged by the browser as a failed resource, nothing else.
    assert.deepEqual(watch.errors.filter((e) => !/status of 422/.test(e)), []);
    await page.close();
  });

  await t.step("the keyboard alone fills and submits the form", async () => {
    const page = await context.newPage();
    const watch = watchPage(page);
    await page.goto(`${stack.url}/`);
    // Tab from the top of the page: skip link, brand, navigation, then the form.
    await page.keyboard.press("Tab");
    let guard = 0;
    const focused = () => page.evaluate("document.activeElement?.id");
    while (await focused() !== "image") {
      await page.keyboard.press("Tab");
      assert.ok(++guard < 20, "the image field is reachable with Tab");
    }
    await page.keyboard.type("busybox");
    await page.keyboard.press("Tab");
    await page.keyboard.type("echo typed");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/task\/eremetic-task\./);
    await page.locator("#task-state").filter({ hasText: "finished" }).waitFor({ timeout: 20_000 });
    assert.deepEqual(watch.errors, []);
    await page.close();
  });

  await t.step("resubmit as new prefills the form, masked values left out", async () => {
    const id = await submit(
      stack.url,
      small("echo again", {
        name: "source task",
        env: { A: "1" },
        masked_env: { TOKEN: "s3cret" },
        labels: { team: "web" },
        ports: [{ container_port: 8080, protocol: "udp" }],
      }),
    );
    const page = await context.newPage();
    const watch = watchPage(page);
    await page.goto(`${stack.url}/task/${id}`);
    await page.getByRole("link", { name: "Resubmit as new" }).click();
    await page.waitForURL(/\?from=/);
    assert.equal(await page.getByLabel("Name", { exact: true }).inputValue(), "source task");
    assert.equal(await page.getByLabel("Command").inputValue(), "echo again");
    assert.equal(await page.getByLabel("Environment", { exact: true }).inputValue(), "A=1");
    assert.equal(await page.getByLabel("Masked environment").inputValue(), "TOKEN=");
    assert.equal(await page.getByLabel("Ports").inputValue(), "8080/udp");
    assert.ok(!(await page.content()).includes("s3cret"));
    // Submitted as prefilled, the masked value is missing: asked for, not sent empty.
    await page.getByRole("button", { name: "Submit task" }).click();
    const error = page.locator('[data-error-for="masked_env"]');
    await error.filter({ hasText: "enter the value of TOKEN" }).waitFor();
    assert.equal(await page.getByLabel("Masked environment").getAttribute("aria-invalid"), "true");
    assert.match(page.url(), /\?from=/);
    await waitForState(stack.url, id, "TASK_FINISHED");
    assert.deepEqual(watch.errors, []);
    await page.close();
  });
});
