/**
 * A 202 means durable (D1, D25): submit 1,000 tasks to `eremetic serve` running as a
 * child process on a Deno KV file, SIGKILL it right after the last 202, restart it on
 * the same file, and find every task still queued, in submission order.
 */
import { openKvStore } from "../src/store/mod.ts";
import { assert, assertEquals } from "../src/testing/asserts.ts";
import { postJson, request, SEED_BODY, spawnServer, tempDir } from "./_helpers.ts";

const SEQUENTIAL = 200;
const CONCURRENT = 800;
const IN_FLIGHT = 32;

interface Accepted {
  id: string;
  location: string;
  /** `performance.now()` when the request was sent and when its 202 arrived. */
  sent: number;
  received: number;
}

async function submitOne(url: string, n: number, headers: Record<string, string> = {}) {
  const sent = performance.now();
  const res = await postJson(url, "/api/v1/task", {
    ...SEED_BODY,
    name: `restart-${n}`,
    masked_env: { TOKEN: `secret-${n}` },
  }, headers);
  const received = performance.now();
  assertEquals(res.status, 202, `task ${n}: ${res.text}`);
  return { id: res.body as string, location: res.headers.get("location")!, sent, received };
}

/** All queued tasks over HTTP, following the `Link` pages. */
async function queuedIds(url: string): Promise<string[]> {
  const ids: string[] = [];
  let next: string | null = `${url}/api/v1/task?state=queued&limit=300`;
  while (next) {
    const res = await request(next);
    assertEquals(res.status, 200, res.text);
    ids.push(...(res.body as { id: string }[]).map((t) => t.id));
    const link = res.headers.get("link");
    next = link ? url + /^<([^>]+)>/.exec(link)![1] : null;
  }
  return ids;
}

Deno.test("1,000 accepted tasks survive SIGKILL and a restart, queued in submission order", async () => {
  await using dir = await tempDir();
  const dbPath = `${dir.path}/eremetic.kv`;
  const accepted: Accepted[] = [];
  let idempotent: string;

  {
    await using server = await spawnServer({ dbPath });
    // Sequential submissions: the order of the 202s is the submission order.
    for (let n = 0; n < SEQUENTIAL; n++) accepted.push(await submitOne(server.url, n));
    idempotent = (await submitOne(server.url, -1, { "idempotency-key": "restart-key" })).id;
    // Concurrent submissions, IN_FLIGHT at a time.
    let next = SEQUENTIAL;
    const concurrent: Accepted[] = [];
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < SEQUENTIAL + CONCURRENT) {
          const n = next++;
          concurrent.push(await submitOne(server.url, n));
        }
      }),
    );
    const status = await server.kill("SIGKILL");
    assertEquals(status.signal, "SIGKILL", "the server died by SIGKILL, not a clean shutdown");
    accepted.push(...concurrent);
  }
  assertEquals(accepted.length, SEQUENTIAL + CONCURRENT);
  assertEquals(new Set(accepted.map((a) => a.id)).size, accepted.length, "ids are unique");

  // What the database holds, read directly.
  const seqOf = new Map<string, number>();
  {
    await using store = await openKvStore(dbPath);
    for (const a of accepted) {
      const task = await store.getTask(a.id);
      assert(task, `task ${a.id} was accepted with 202 but is not stored`);
      assertEquals(task.status.map((s) => s.status), ["TASK_QUEUED"]);
      assertEquals(task.masked_env!.TOKEN.startsWith("secret-"), true, "stored unmasked");
      seqOf.set(a.id, task.seq);
    }
    seqOf.set(idempotent, (await store.getTask(idempotent))!.seq);
    assertEquals((await store.countTasks()).queued, accepted.length + 1);
  }

  // Sequential part: seq order is the order of the 202s.
  const sequential = accepted.slice(0, SEQUENTIAL).map((a) => seqOf.get(a.id)!);
  assertEquals(sequential, [...sequential].sort((a, b) => a - b));
  // Concurrent part: a task whose 202 arrived before another was sent has the smaller seq.
  const bySeqDesc = accepted.slice(SEQUENTIAL).sort((a, b) => seqOf.get(b.id)! - seqOf.get(a.id)!);
  let earliestReceived = Infinity;
  for (const b of bySeqDesc) {
    assert(
      earliestReceived >= b.sent,
      `a task acknowledged before ${b.id} was sent got a larger seq`,
    );
    earliestReceived = Math.min(earliestReceived, b.received);
  }

  // The same address as before, so the Locations handed out can be used as they are.
  await using server = await spawnServer({
    dbPath,
    port: Number(new URL(accepted[0].location).port),
  });
  // The queued list is every accepted task, in stored seq order.
  const listed = await queuedIds(server.url);
  const expected = [...accepted.map((a) => a.id), idempotent]
    .sort((a, b) => seqOf.get(a)! - seqOf.get(b)!);
  assertEquals(listed, expected);

  // Every Location still resolves, to a queued task with its secret masked.
  await Promise.all(
    Array.from({ length: 16 }, async (_, worker) => {
      for (let i = worker; i < accepted.length; i += 16) {
        const a = accepted[i];
        const res = await request(a.location);
        assertEquals(res.status, 200, `${a.location}: ${res.text}`);
        const task = res.body as { id: string; status: { status: string }[]; masked_env: object };
        assertEquals(task.id, a.id);
        assertEquals(task.status.at(-1)!.status, "TASK_QUEUED");
        assertEquals(task.masked_env, { TOKEN: "*******" });
      }
    }),
  );

  // The same Idempotency-Key still names the same task; a new task queues last.
  const again = await submitOne(server.url, -1, { "idempotency-key": "restart-key" });
  assertEquals(again.id, idempotent);
  const fresh = await submitOne(server.url, 9999);
  const after = await queuedIds(server.url);
  assertEquals(after.at(-1), fresh.id);
  assertEquals(after.length, accepted.length + 2);

  const health = await request(`${server.url}/api/v1/health`);
  assertEquals((health.body as { tasks: { queued: number } }).tasks.queued, accepted.length + 2);
  assert(!server.stderr().includes("secret-"), "no secret in the server's log");
});

Deno.test("SIGTERM during submissions: the server exits 0 and every 202 is stored", async () => {
  await using dir = await tempDir();
  const dbPath = `${dir.path}/eremetic.kv`;
  const accepted: string[] = [];
  let refused = 0;
  {
    await using server = await spawnServer({ dbPath });
    let next = 0;
    let stopping: Promise<Deno.CommandStatus> | null = null;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 400) {
          const n = next++;
          if (n === 150) stopping = server.kill("SIGTERM");
          try {
            const res = await postJson(server.url, "/api/v1/task", {
              ...SEED_BODY,
              name: `t-${n}`,
            });
            if (res.status === 202) accepted.push(res.body as string);
            else refused++;
          } catch {
            refused++; // the listener is closed
          }
        }
      }),
    );
    const status = await (stopping ?? server.kill("SIGTERM"));
    assertEquals(status.code, 0, server.stderr());
  }
  assert(accepted.length >= 100, `only ${accepted.length} accepted before SIGTERM`);
  await using server = await spawnServer({ dbPath });
  for (const id of accepted) {
    const res = await request(`${server.url}/api/v1/task/${id}`);
    assertEquals(res.status, 200, `accepted ${id} is lost after SIGTERM (${refused} refused)`);
  }
});
