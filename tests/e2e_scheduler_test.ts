import { assert, assertEquals, assertMatch, assertStringIncludes } from "../src/testing/asserts.ts";
import { SEED_BODY } from "./_helpers.ts";
import { getTask, small, startStack, states, submit, waitFor, waitForState } from "./_e2e.ts";

Deno.test("e2e: the seed example reaches TASK_FINISHED and its stdout shows the date", async () => {
  await using stack = await startStack();
  const id = await submit(stack.url, SEED_BODY);
  const task = await waitForState(stack.url, id, "TASK_FINISHED");
  assertEquals(states(task), [
    "TASK_QUEUED",
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_FINISHED",
  ]);
  const res = await fetch(`${stack.url}/api/v1/task/${id}/stdout`);
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), "text/plain; charset=UTF-8");
  const out = await res.text();
  assertMatch(out, new RegExp(String(new Date().getUTCFullYear())));
  const tail = await fetch(`${stack.url}/api/v1/task/${id}/stdout?offset=0&length=4`);
  assertEquals(tail.status, 200);
  assertEquals(await tail.text(), out.slice(0, 4));
  const err = await fetch(`${stack.url}/api/v1/task/${id}/stderr`);
  assertEquals(err.status, 200);
  await err.body?.cancel();
  // The executor directory is stored too, as the agent's /state reports it.
  const withSandbox = await waitFor("the sandbox path", async () => {
    const t = await getTask(stack.url, id);
    return t.sandbox_path ? t : null;
  });
  assertStringIncludes(withSandbox.sandbox_path, withSandbox.agent_id);
  assertEquals(withSandbox.status.at(-1)?.status, "TASK_FINISHED");
});

Deno.test("e2e: PORT0 and masked_env reach the task while GET shows *******", async () => {
  await using stack = await startStack();
  const id = await submit(
    stack.url,
    small('echo "port=$PORT0 first=$PORT secret=$TOKEN plain=$PLAIN"', {
      ports: [{ container_port: 80 }, { container_port: 443 }],
      env: { PLAIN: "visible" },
      masked_env: { TOKEN: "s3cr3t-value" },
    }),
  );
  await waitForState(stack.url, id, "TASK_FINISHED");
  // The sandbox directory is looked up in the background after TASK_RUNNING, so it may be
  // stored after the final state.
  const task = await waitFor("the stored sandbox path", async () => {
    const t = await getTask(stack.url, id);
    return t.sandbox_path ? t : null;
  });
  assertEquals(task.masked_env, { TOKEN: "*******" });
  const hostPort = task.ports![0].host_port;
  assert(hostPort > 0, "a host port was assigned");
  // The task got the value: the agent's own file holds it (the development cluster's
  // sandboxes are local directories) ...
  const raw = await Deno.readTextFile(`${task.sandbox_path}/stdout`);
  assertStringIncludes(raw, `port=${hostPort} first=${hostPort} secret=s3cr3t-value plain=visible`);
  // ... while Eremetic serves the task's own masked value as *******.
  const out = await (await fetch(`${stack.url}/api/v1/task/${id}/stdout`)).text();
  assertStringIncludes(out, `port=${hostPort} first=${hostPort} secret=******* plain=visible`);
  const everything = JSON.stringify(stack.server.logs) +
    await (await fetch(`${stack.url}/api/v1/task?state=`)).text();
  assert(!everything.includes("s3cr3t-value"), "the secret leaked into a log or a list");
});

Deno.test("e2e: a task failing before it runs is relaunched per max_retries", async () => {
  await using stack = await startStack();
  const id = await submit(
    stack.url,
    small("true", {
      fetch: [{ uri: "http://127.0.0.1:9/missing.tgz" }],
      max_retries: 2,
    }),
  );
  const task = await waitFor("the final failure", async () => {
    const t = await getTask(stack.url, id);
    return t.status.at(-1)?.status === "TASK_FAILED" && t.retry === 2 ? t : null;
  }, { timeoutMs: 30_000 });
  assertEquals(states(task).filter((s) => s === "TASK_FAILED").length, 3);
  assertEquals(states(task).filter((s) => s === "TASK_QUEUED").length, 3);
});

Deno.test("e2e: a command failing after it ran ends TASK_FAILED without a retry", async () => {
  await using stack = await startStack();
  const id = await submit(stack.url, small("exit 3"));
  const task = await waitForState(stack.url, id, "TASK_FAILED");
  assertEquals(task.retry, 0);
  assert(states(task).includes("TASK_RUNNING"));
});

Deno.test("e2e: kill of a running task ends TASK_KILLED and fires the callback", async () => {
  await using stack = await startStack();
  const received: { body: Record<string, unknown>; headers: Headers }[] = [];
  await using receiver = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      received.push({ body: await req.json(), headers: req.headers });
      return new Response("ok");
    },
  );
  const id = await submit(
    stack.url,
    small("sleep 30", {
      callback_uri: `http://127.0.0.1:${receiver.addr.port}/done`,
    }),
  );
  await waitForState(stack.url, id, "TASK_RUNNING");
  const res = await fetch(`${stack.url}/api/v1/task/${id}/kill`, { method: "POST" });
  assertEquals(res.status, 202);
  assertEquals(await res.json(), "");
  const task = await waitForState(stack.url, id, "TASK_KILLED");
  assert(states(task).includes("TASK_TERMINATING"));
  const got = await waitFor("the callback", () => Promise.resolve(received[0]));
  assertEquals(Object.keys(got.body), ["time", "status", "task_id"]);
  assertEquals(got.body.status, "TASK_KILLED");
  assertEquals(got.body.task_id, id);
  assertEquals(got.headers.get("content-type"), "application/json");
});

Deno.test("e2e: an unsatisfiable constraint leaves the task queued without delaying others", async () => {
  await using stack = await startStack();
  const stuck = await submit(
    stack.url,
    small("true", {
      agent_constraints: [{ attribute_name: "zone", attribute_value: "nowhere" }],
    }),
  );
  const other = await submit(stack.url, small("true"));
  await waitForState(stack.url, other, "TASK_FINISHED");
  assertEquals(states(await getTask(stack.url, stuck)), ["TASK_QUEUED"]);
  const queued = await (await fetch(`${stack.url}/api/v1/task?state=queued`)).json();
  assertEquals(queued.map((t: { id: string }) => t.id), [stuck]);
});

Deno.test("e2e: an agent removed mid-run gives TASK_GONE and a relaunch elsewhere", async () => {
  await using stack = await startStack();
  const id = await submit(stack.url, small("sleep 30"));
  const running = await waitForState(stack.url, id, "TASK_RUNNING");
  await stack.cluster.removeAgent(running.agent_id);
  const again = await waitFor("the relaunch", async () => {
    const t = await getTask(stack.url, id);
    return t.retry === 1 && t.status.at(-1)?.status === "TASK_RUNNING" ? t : null;
  }, { timeoutMs: 20_000 });
  assert(states(again).includes("TASK_GONE"), states(again).join(","));
  assert(again.agent_id !== running.agent_id, "relaunched on another agent");
  await fetch(`${stack.url}/api/v1/task/${id}/kill`, { method: "POST" }).then((r) =>
    r.body?.cancel()
  );
  await waitForState(stack.url, id, "TASK_KILLED");
});

Deno.test("e2e: many small tasks are packed and all finish", async () => {
  await using stack = await startStack();
  const ids = await Promise.all(
    Array.from(
      { length: 40 },
      (_, i) => submit(stack.url, small(`echo ${i}`)),
    ),
  );
  await waitFor("all 40 tasks to finish", async () => {
    const res = await fetch(`${stack.url}/api/v1/task?state=terminated`);
    const done: { id: string; status: { status: string }[] }[] = await res.json();
    return done.length === ids.length &&
      done.every((t) => t.status.at(-1)?.status === "TASK_FINISHED");
  }, { timeoutMs: 30_000 });
  const health = await (await fetch(`${stack.url}/api/v1/health`)).json();
  assertEquals(health.mesos.state, "subscribed");
  assertEquals(health.status, "ok");
});

Deno.test("e2e: a task running past timeout_seconds is killed", async () => {
  await using stack = await startStack();
  const id = await submit(
    stack.url,
    small("sleep 30", {
      timeout_seconds: 1,
    }),
  );
  const task = await waitForState(stack.url, id, "TASK_KILLED", 15_000);
  assert(states(task).includes("TASK_RUNNING"));
  assertEquals(task.retry, 0);
});

Deno.test("e2e: kill of a queued task ends TASK_KILLED at once and it never launches", async () => {
  await using stack = await startStack();
  const id = await submit(
    stack.url,
    small("true", {
      agent_constraints: [{ attribute_name: "zone", attribute_value: "nowhere" }],
    }),
  );
  const res = await fetch(`${stack.url}/api/v1/task/${id}/kill`, { method: "POST" });
  assertEquals(res.status, 202);
  await res.body?.cancel();
  assertEquals(states(await getTask(stack.url, id)), ["TASK_QUEUED", "TASK_KILLED"]);
  const again = await fetch(`${stack.url}/api/v1/task/${id}/kill`, { method: "POST" });
  assertEquals(again.status, 409);
  await again.body?.cancel();
  const del = await fetch(`${stack.url}/api/v1/task/${id}`, { method: "DELETE" });
  assertEquals(del.status, 202);
  await del.body?.cancel();
});
