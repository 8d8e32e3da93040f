// deno-lint-ignore-file no-console
/**
 * Seeds a Deno KV database with N queued tasks through the real store
 * (`openKvStore` + `createTask`), many creates in flight so group commit packs
 * them into few atomic commits. Prints `{"tasks":N,"seconds":S,"commits":C,"id":"..."}`.
 *
 * `deno run -A bench/_seed.ts PATH N [CONCURRENCY] [--uuid4]`
 *
 * Ids are made as the server makes them (`newId()` of src/runtime.ts: time-ordered
 * UUID version 7); `--uuid4` makes random ones instead (what servers before that made),
 * to measure what ordered ids change.
 *
 * @module
 */
import { openKvStore } from "../src/store/mod.ts";
import { newTaskRecord, parseTaskRequestV1 } from "../src/task/mod.ts";
import { newId } from "../src/runtime.ts";

/** The seed's example body (README of the original Eremetic). */
export const EXAMPLE_BODY = '{"mem":22.0,"cpu":1.0,"image":"busybox","command":"echo $(date)"}';

const uuid4 = Deno.args.includes("--uuid4");
const [path, nText, concurrencyText] = Deno.args.filter((a) => a !== "--uuid4");
const n = Number(nText);
const concurrency = Number(concurrencyText ?? 4000);
if (!path || !Number.isInteger(n) || n < 1) {
  console.error("Usage: deno run -A bench/_seed.ts PATH N [CONCURRENCY] [--uuid4]");
  Deno.exit(2);
}

const parsed = parseTaskRequestV1(JSON.parse(EXAMPLE_BODY));
if (!parsed.ok) throw new Error("Cannot parse the example body");
const store = await openKvStore(path);
const started = performance.now();
let next = 0;
let lastId = "";
let reported = 0;
async function worker() {
  while (next < n) {
    next++;
    const record = newTaskRecord(parsed.ok ? parsed.request : ({} as never), {
      uuid: uuid4 ? crypto.randomUUID() : newId(),
      now: Date.now(),
    });
    const { task } = await store.createTask(record);
    lastId = task.id;
    if (next - reported >= 100_000) {
      reported = next;
      const s = (performance.now() - started) / 1000;
      console.error(`[seed] ${next} tasks in ${s.toFixed(1)} s`);
    }
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
const commits = (store as unknown as { commits?: number }).commits ?? 0;
await store.close();
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ tasks: n, seconds, commits, id: lastId }));
