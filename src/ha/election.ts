/**
 * Leader election among Eremetic instances sharing a ZooKeeper root (high availability).
 *
 * Every instance creates an ephemeral sequential node `<root>/leader/member_<seq>` holding
 * `{"address": <its advertised URL>}`; the lowest sequence leads. Every member watches the
 * membership (a handful of instances, so the herd is small) and re-evaluates on each
 * change, which also tells followers the leader's address.
 *
 * No two schedulers at once: the leader stops (`deposed`) as soon as its connection is
 * lost, and a watchdog deposes it when ZooKeeper has not answered one of its probes for
 * half the session timeout, even if the socket looks fine (the library only notices a
 * closed socket). ZooKeeper expires a session, and removes its node, no earlier than a
 * session timeout after it last heard from the client, which is after the probe's send
 * time; so the old leader has stopped before its node disappears and the next member
 * may start at once, with no extra wait.
 *
 * @module
 */
import type { Clock, Logger } from "../runtime.ts";
import type { ZkClient } from "../zk/mod.ts";

const PREFIX = "member_";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface ElectionEvents {
  /** This instance leads now. */
  elected(): void;
  /** This instance must stop leading at once (`reason` for the log). */
  deposed(reason: string): void;
}

export interface ElectionOptions {
  clock: Clock;
  logger: Logger;
  /** The session timeout the watchdog works from (ms). */
  sessionTimeoutMs: number;
}

/** The sequence number of a member node name (`member_0000000007` → 7). */
export function memberSeq(name: string): number {
  return Number(name.slice(name.lastIndexOf("_") + 1));
}

/** The lowest member of `names` (other nodes ignored), or null. */
export function lowestMember(names: readonly string[]): string | null {
  let best: string | null = null;
  for (const n of names) {
    if (!n.startsWith(PREFIX)) continue;
    if (best === null || memberSeq(n) < memberSeq(best)) best = n;
  }
  return best;
}

/** Membership in the election under `<root>/leader`. */
export class Election {
  readonly #zk: ZkClient;
  readonly #dir: string;
  readonly #address: string;
  readonly #events: ElectionEvents;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  #me: string | null = null;
  #leading = false;
  #leader: string | null = null;
  #checking = false;
  #again = false;
  #closed = false;
  #stop = new AbortController();
  #unsubscribe: (() => void)[] = [];
  /** When the last answered probe was sent (clock ms). */
  #lastAnsweredSend = 0;

  constructor(
    zk: ZkClient,
    root: string,
    address: string,
    events: ElectionEvents,
    options: ElectionOptions,
  ) {
    this.#zk = zk;
    this.#dir = `${root === "/" ? "" : root}/leader`;
    this.#address = address;
    this.#events = events;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#timeoutMs = options.sessionTimeoutMs;
  }

  /** Whether this instance leads. */
  get leading(): boolean {
    return this.#leading;
  }

  /** The leader's advertised address, when known. */
  get leader(): string | null {
    return this.#leader;
  }

  /** Joins: creates this instance's node and evaluates once. */
  async start(): Promise<void> {
    await this.#zk.mkdirp(this.#dir, { acl: "readable" });
    this.#unsubscribe.push(
      this.#zk.onConnectionChange((connected) => {
        if (!connected) {
          this.#depose("the ZooKeeper connection was lost");
          this.#leader = null;
        } else void this.#check();
      }),
      this.#zk.onSessionLost(() => {
        this.#me = null; // its ephemeral node went with the session
        void this.#check();
      }),
    );
    await this.#check();
    void this.#watchdog();
  }

  #depose(reason: string): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.#logger.warn("Stopping as leader", { reason });
    this.#events.deposed(reason);
  }

  async #check(): Promise<void> {
    if (this.#closed) return;
    if (this.#checking) return void (this.#again = true);
    this.#checking = true;
    try {
      do {
        this.#again = false;
        await this.#evaluate();
      } while (this.#again && !this.#closed);
    } catch (e) {
      this.#logger.warn("Cannot take part in the leader election, retrying", {
        error: (e as Error).message,
      });
      void this.#clock.sleep(1000, this.#stop.signal).then(() => this.#check(), () => {});
    } finally {
      this.#checking = false;
    }
  }

  async #evaluate(): Promise<void> {
    const zk = this.#zk;
    if (this.#me === null) {
      const sent = this.#clock.now();
      this.#me = await zk.create(
        `${this.#dir}/${PREFIX}`,
        encoder.encode(JSON.stringify({ address: this.#address })),
        { mode: "ephemeral_sequential", acl: "readable" },
      );
      this.#lastAnsweredSend = sent;
    }
    const children = (await zk.getChildren(this.#dir, () => void this.#check())) ?? [];
    const mine = this.#me.slice(this.#me.lastIndexOf("/") + 1);
    if (!children.includes(mine)) {
      // Gone with an expired session: join again.
      this.#depose("this instance's election node is gone");
      this.#me = null;
      this.#again = true;
      return;
    }
    const lowest = lowestMember(children)!;
    if (lowest === mine) {
      this.#leader = this.#address;
      if (!this.#leading && zk.connected && !this.#closed) {
        this.#leading = true;
        this.#lastAnsweredSend = this.#clock.now();
        this.#logger.info("Elected leader", { address: this.#address });
        this.#events.elected();
      }
      return;
    }
    this.#depose("another instance leads");
    const node = await zk.getData(`${this.#dir}/${lowest}`);
    if (node === null) return void (this.#again = true);
    try {
      this.#leader = String(JSON.parse(decoder.decode(node.data)).address);
    } catch {
      this.#leader = null;
    }
  }

  /** While leading, probes ZooKeeper and deposes when it stops answering in time. */
  async #watchdog(): Promise<void> {
    const step = Math.max(50, Math.floor(this.#timeoutMs / 10));
    let lastProbe = 0;
    while (!this.#closed) {
      try {
        await this.#clock.sleep(step, this.#stop.signal);
      } catch {
        return;
      }
      if (!this.#leading || this.#me === null) continue;
      const now = this.#clock.now();
      if (now - this.#lastAnsweredSend > this.#timeoutMs / 2) {
        this.#depose("ZooKeeper did not answer within half the session timeout");
        // Look again later: the session may still be alive and this node still lowest.
        void this.#clock.sleep(this.#timeoutMs, this.#stop.signal).then(
          () => this.#check(),
          () => {},
        );
        continue;
      }
      if (now - lastProbe >= this.#timeoutMs / 5) {
        lastProbe = now;
        const me = this.#me;
        this.#zk.getData(me).then((node) => {
          if (node !== null && now > this.#lastAnsweredSend) this.#lastAnsweredSend = now;
        }, () => {});
      }
    }
  }

  /** Leaves the election (removes this instance's node). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#depose("closing");
    this.#closed = true;
    this.#stop.abort();
    for (const u of this.#unsubscribe) u();
    if (this.#me !== null) await this.#zk.remove(this.#me).catch(() => false);
  }
}
