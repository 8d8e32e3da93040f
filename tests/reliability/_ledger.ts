/**
 * What a development cluster's `--record` (one JSON line per scheduler call received and
 * event sent) says about a framework's tasks and subscriptions: how often each Eremetic
 * task reached an agent, the last state the cluster reported for it, and when each
 * SUBSCRIBED was sent. Pure: lines in, facts out.
 *
 * @module
 */
import { publicIdOf } from "../../src/scheduler/mod.ts";

/** One recorded line. */
export interface RecordLine {
  dir: "call" | "event";
  /** Milliseconds since the epoch. */
  at: number;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** What the record says about one Eremetic task (all its Mesos attempts). */
export interface TaskFacts {
  /** LAUNCH operations naming one of its Mesos task ids. */
  launchCalls: number;
  /**
   * Launches that reached an agent: distinct `TASK_STARTING` updates sent by an executor
   * (each launch reports one, with its own uuid; resends repeat the uuid).
   */
  started: number;
  /** The last state the cluster reported, per Mesos task id. */
  lastState: Map<string, string>;
}

/** The facts of a whole record. */
export interface Ledger {
  tasks: Map<string, TaskFacts>;
  /** When each SUBSCRIBED event was sent, in order (ms since the epoch). */
  subscribedAt: number[];
  /** UPDATE events sent, by state. */
  updates: Map<string, number>;
  /** UPDATE events that repeated an update already sent (same task, same uuid). */
  resent: number;
}

/** Parses the lines of a record (`{"dir","at","body"}` each). */
export function parseRecord(lines: readonly string[]): RecordLine[] {
  return lines.map((line) => {
    const { dir, at, body } = JSON.parse(line);
    return { dir, at: Date.parse(at), body };
  });
}

/** The facts of `lines`. */
export function readLedger(lines: readonly RecordLine[]): Ledger {
  const tasks = new Map<string, TaskFacts>();
  const startedUuids = new Map<string, Set<string>>();
  const subscribedAt: number[] = [];
  const updates = new Map<string, number>();
  const sent = new Set<string>();
  let resent = 0;
  const factsOf = (mesosId: string) => {
    const id = publicIdOf(mesosId);
    let f = tasks.get(id);
    if (!f) {
      f = { launchCalls: 0, started: 0, lastState: new Map() };
      tasks.set(id, f);
      startedUuids.set(id, new Set());
    }
    return f;
  };
  for (const { dir, at, body } of lines) {
    if (dir === "call" && body.type === "ACCEPT") {
      for (const op of body.accept?.operations ?? []) {
        if (op.type !== "LAUNCH") continue;
        for (const t of op.launch?.task_infos ?? []) factsOf(t.task_id.value).launchCalls++;
      }
    } else if (dir === "event" && body.type === "SUBSCRIBED") {
      subscribedAt.push(at);
    } else if (dir === "event" && body.type === "UPDATE") {
      const s = body.update.status;
      const mesosId: string = s.task_id.value;
      const f = factsOf(mesosId);
      f.lastState.set(mesosId, s.state);
      updates.set(s.state, (updates.get(s.state) ?? 0) + 1);
      if (s.uuid) {
        const key = `${mesosId}/${s.uuid}`;
        if (sent.has(key)) resent++;
        else sent.add(key);
      }
      if (s.state === "TASK_STARTING" && s.source === "SOURCE_EXECUTOR" && s.uuid) {
        const uuids = startedUuids.get(publicIdOf(mesosId))!;
        uuids.add(`${mesosId}/${s.uuid}`);
        f.started = uuids.size;
      }
    }
  }
  return { tasks, subscribedAt, updates, resent };
}

/** The first SUBSCRIBED sent at or after `since`, or null. */
export function firstSubscribedAfter(ledger: Ledger, since: number): number | null {
  return ledger.subscribedAt.find((at) => at >= since) ?? null;
}
