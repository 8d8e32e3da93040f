import assert from "node:assert/strict";
import { FakeClock, silentLogger } from "../runtime.ts";
import type { ZkClient, ZkNode } from "../zk/mod.ts";
import { Election, lowestMember, memberSeq } from "./election.ts";

Deno.test("the lowest member node leads; other nodes are ignored", () => {
  assert.equal(memberSeq("member_0000000012"), 12);
  assert.equal(
    lowestMember(["member_0000000012", "member_0000000003", "x_0000000001"]),
    "member_0000000003",
  );
  assert.equal(lowestMember(["other"]), null);
});

/** A ZooKeeper whose session stays connected but stops answering reads when told. */
function silentZk() {
  let answering = true;
  const zk = {
    connected: true,
    mkdirp: () => Promise.resolve(),
    create: (path: string) => Promise.resolve(`${path}0000000001`),
    getChildren: () => Promise.resolve(["member_0000000001"]),
    getData: () =>
      answering
        ? Promise.resolve({ data: new Uint8Array(), version: 0, czxid: 0n } as ZkNode)
        : new Promise<ZkNode | null>(() => {}),
    remove: () => Promise.resolve(true),
    onConnectionChange: () => () => {},
    onSessionLost: () => () => {},
  };
  return { zk: zk as unknown as ZkClient, stopAnswering: () => void (answering = false) };
}

Deno.test("a leader whose ZooKeeper stops answering is deposed within half the session timeout", async () => {
  const clock = new FakeClock();
  const { zk, stopAnswering } = silentZk();
  const events: string[] = [];
  const election = new Election(zk, "/eremetic", "http://a:8080", {
    elected: () => events.push(`elected@${clock.now()}`),
    deposed: () => events.push(`deposed@${clock.now()}`),
  }, { clock, logger: silentLogger, sessionTimeoutMs: 10_000 });
  const start = clock.now();
  await election.start();
  assert.deepEqual(events, [`elected@${start}`]);
  // Probes are answered: it keeps leading.
  for (let i = 0; i < 50; i++) await clock.tick(1000);
  assert.equal(election.leading, true);
  stopAnswering();
  const silentFrom = clock.now();
  for (let i = 0; i < 100 && election.leading; i++) await clock.tick(100);
  assert.equal(election.leading, false);
  const after = Number(events[1].split("@")[1]) - silentFrom;
  // The last answered probe was sent at most a fifth of the timeout before the silence.
  assert.ok(after <= 5_000 + 1_000, `deposed ${after} ms after ZooKeeper went silent`);
  assert.ok(after < 10_000, "before ZooKeeper could expire the session");
  await election.close();
});
