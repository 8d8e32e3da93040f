// deno-lint-ignore-file no-console
/**
 * Seeds a Deno KV database with N queued tasks through the real store
 * (`openKvStore` + `createTask`), many creates in flight so group commit packs
 * them into few atomic commits. Prints `{"tasks":N,"seconds":S,"commits":C,"id":"..."}`.
 *
 * `deno run -A bench/_seed.ts PATH N [CONCURRENCY] [--uuid7]`
 *
 * `--uuid7` makes time-ordered ids (UUID version 7) instead of the server's random
 * ones, to measure what ordered ids would change.
 *
 * @module
 */
import { openKvStore } from "../src/store/mod.ts";
import { newTaskRecord, parseTaskRequestV1 } from "../src/task/mod.ts";

/** The seed's example body (README of the original Eremetic). */
export const EXAMPLE_BODY = '{"mem":22.0,"cpu":1.0,"image":"busybox","command":"echo $(date)"}';

const uuid7 = Deno.args.includes("--uuid7");
const [path, nText, concurrencyText] = Deno.args.filter((a) => a !== "--uuid7");
const n = Number(nText);
const concurrency = Number(concurrencyText ?? 4000);
if (!path || !Number.isInteger(n) || n < 1) {
  console.error("Usage: deno run -A bench/_seed.ts PATH N [CONCURRENCY]");
  Deno.exit(2);
}
/** A UUID version 7 (RFC 9562): 48-bit milliseconds, then random bits. */
function newUuid7(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  const ms = Date.now();
  for (let i = 0; i < 6; i++) b[i] = Math.floor(ms / 2 ** (8 * (5 - i))) & 0xff;
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
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
      uuid: uuid7 ? newUuid7() : crypto.randomUUID(),
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
