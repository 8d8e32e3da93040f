/**
 * The framework lifecycle on a leading master: SUBSCRIBE (new, resubscribe,
 * scheduler failover, refusals), UPDATE_FRAMEWORK, a stream going away and the
 * `failover_timeout` it starts, and removal (TEARDOWN, timeout, operator). The
 * decisions (`subscribeRefusal`, `updateProblem`) are pure; `FrameworkLifecycle`
 * applies them to the master's records, streams and timers.
 *
 * @module
 */
import { type Logger, silentLogger, type Timers } from "../runtime.ts";
import { type FrameworkInfo, isTerminalState, type MasterInfo } from "../mesos/types.ts";
import { type MasterBooks, MAX_COMPLETED_FRAMEWORKS, taskKey } from "./books.ts";
import type { Call } from "./call.ts";
import type { Faults } from "./faults.ts";
import { markStreaming } from "./http1.ts";
import type { Framework } from "./model.ts";
import type { Recorder } from "./record.ts";
import { textResponse } from "./responses.ts";
import { Subscription } from "./subscription.ts";
import { frameworkProblem } from "./validation.ts";

/** The body of SUBSCRIBE and UPDATE_FRAMEWORK. */
interface FrameworkBody {
  framework_info: FrameworkInfo;
  suppressed_roles?: string[];
}

/**
 * Why a SUBSCRIBE with `info` is refused (answered 200 + ERROR), or null:
 * an invalid FrameworkInfo, a removed id, or a changed principal.
 */
export function subscribeRefusal(
  info: FrameworkInfo,
  suppressed: readonly string[],
  existing: Framework | undefined,
  removed: boolean,
): string | null {
  const problem = frameworkProblem(info, [...suppressed]);
  if (problem) return problem;
  if (removed) return "Framework has been removed";
  if (existing && existing.info.principal !== info.principal) {
    return "Changing framework's principal is not allowed.";
  }
  return null;
}

/**
 * Why UPDATE_FRAMEWORK from `current` to `next` is refused (the 400's text), or
 * null: `user`, `checkpoint` and a set `principal` may not change.
 */
export function updateProblem(
  current: FrameworkInfo,
  next: FrameworkInfo,
  suppressed: readonly string[],
): string | null {
  const problem = frameworkProblem(next, [...suppressed]);
  if (problem) return `Supplied FrameworkInfo is not valid: ${problem}`;
  for (const field of ["user", "checkpoint", "principal"] as const) {
    const before = current[field] ?? (field === "checkpoint" ? false : undefined);
    const after = next[field] ?? (field === "checkpoint" ? false : undefined);
    if (field === "principal" && after === undefined) continue;
    if (before !== after) {
      return `FrameworkInfo update is not valid: Updating 'FrameworkInfo.${field}' is unsupported`;
    }
  }
  return null;
}

/** What the lifecycle needs of the master besides its records. */
export interface FrameworkEffects {
  readonly masterInfo: MasterInfo;
  readonly timers: Timers;
  readonly logger?: Logger;
  readonly faults: Faults;
  readonly recorder?: Recorder;
  readonly heartbeatIntervalSeconds: number;
  /** Allocates every agent's resources soon. */
  allocateSoon(): void;
  /** Whether the master is closed (streams ending then are not disconnections). */
  closed(): boolean;
}

/** SUBSCRIBE, UPDATE_FRAMEWORK, disconnection and removal on a master's records. */
export class FrameworkLifecycle {
  #books: MasterBooks;
  #fx: FrameworkEffects;
  #logger: Logger;
  #counter = 0;

  constructor(books: MasterBooks, effects: FrameworkEffects) {
    this.#books = books;
    this.#fx = effects;
    this.#logger = effects.logger ?? silentLogger;
  }

  /** Answers SUBSCRIBE: the 200 stream (SUBSCRIBED and heartbeats, or ERROR and close). */
  subscribe(call: Call, principal?: string): Response {
    const books = this.#books;
    const fx = this.#fx;
    const body = call.subscribe as FrameworkBody;
    const info: FrameworkInfo = { ...body.framework_info };
    if (principal !== undefined && info.principal === undefined) info.principal = principal;
    const suppressed = body.suppressed_roles ?? [];
    const id = info.id?.value;
    let fw = id === undefined ? undefined : books.frameworks.get(id);
    const refusal = subscribeRefusal(
      info,
      suppressed,
      fw,
      id !== undefined && books.removedIds.has(id),
    );
    const sub = new Subscription(() => this.#streamGone(sub), fx.faults, fx.recorder);
    const response = new Response(sub.body, {
      status: 200,
      headers: { "content-type": "application/json", "mesos-stream-id": sub.streamId },
    });
    markStreaming(response, sub);
    if (refusal) {
      sub.send({ type: "ERROR", error: { message: refusal } });
      sub.close();
      return response;
    }
    if (fw) {
      // Scheduler failover: the old stream gets an ERROR and closes; offers vanish silently.
      if (fw.sub) {
        const old = fw.sub;
        fw.sub = null;
        old.send({ type: "ERROR", error: { message: "Framework failed over" } });
        old.close();
      }
      books.removeFrameworkOffers(fw);
      fw.failoverTimer?.cancel();
      fw.failoverTimer = null;
      // `user` and `checkpoint` are immutable on resubscribe: old values are kept.
      fw.info = { ...info, user: fw.info.user, checkpoint: fw.info.checkpoint };
      books.applyInfo(fw, suppressed);
      fw.recovered = false;
    } else {
      const fid = id ?? `${fx.masterInfo.id}-${String(this.#counter++).padStart(4, "0")}`;
      info.id = { value: fid };
      fw = books.newFramework(fid, info, { active: true, recovered: false });
      books.applyInfo(fw, suppressed);
      books.frameworks.set(fid, fw);
    }
    fw.sub = sub;
    sub.frameworkId = fw.id;
    fw.active = true;
    fw.unregisteredTime = undefined;
    sub.send({
      type: "SUBSCRIBED",
      subscribed: {
        framework_id: { value: fw.id },
        heartbeat_interval_seconds: fx.heartbeatIntervalSeconds,
        master_info: fx.masterInfo,
      },
    });
    const fid = fw.id;
    const beat = () => {
      const f = fx.faults;
      if (!f.heartbeatsStopped && !f.heartbeatsStoppedFor.has(fid)) sub.send({ type: "HEARTBEAT" });
    };
    beat();
    sub.heartbeat = fx.timers.every(fx.heartbeatIntervalSeconds * 1000, beat);
    for (const rec of books.agents.values()) {
      if (rec.state !== "active") continue;
      rec.agent.updateFramework(fw.info);
      rec.agent.resumeUpdates(fid);
    }
    fx.allocateSoon();
    this.#logger.info("Framework subscribed", { framework_id: fid, name: fw.info.name });
    return response;
  }

  /**
   * Answers UPDATE_FRAMEWORK: 200, offers of roles dropped rescinded, filters of
   * unsuppressed or dropped roles cleared; or 400.
   */
  update(fw: Framework, call: Call): Response {
    const books = this.#books;
    const body = call.update_framework as FrameworkBody;
    const info = body.framework_info;
    const suppressed = body.suppressed_roles ?? [];
    const problem = updateProblem(fw.info, info, suppressed);
    if (problem) return textResponse(400, problem);
    const oldRoles = fw.roles;
    fw.info = { ...info, principal: info.principal ?? fw.info.principal };
    const wasSuppressed = fw.suppressed;
    books.applyInfo(fw, suppressed);
    for (const oid of [...fw.offers]) {
      const offer = books.offers.get(oid)!;
      if (!fw.roles.includes(offer.role)) {
        books.removeOffer(offer);
        fw.sub?.send({ type: "RESCIND", rescind: { offer_id: { value: oid } } });
      }
    }
    for (const r of wasSuppressed) {
      if (!fw.suppressed.has(r)) fw.filters = fw.filters.filter((f) => f.role !== r);
    }
    if (oldRoles.join() !== fw.roles.join()) {
      fw.filters = fw.filters.filter((f) => fw.roles.includes(f.role));
    }
    for (const rec of books.agents.values()) rec.agent.updateFramework(fw.info);
    this.#fx.allocateSoon();
    return new Response(null, { status: 200 });
  }

  #streamGone(sub: Subscription): void {
    if (this.#fx.closed()) return;
    const fw = [...this.#books.frameworks.values()].find((f) => f.sub === sub);
    if (fw) this.disconnect(fw.id);
  }

  /** The framework's stream is gone: inactive, offers recovered, failover timer started. */
  disconnect(frameworkId: string, { startFailoverTimer = true } = {}): void {
    const books = this.#books;
    const fw = books.frameworks.get(frameworkId);
    if (!fw) return;
    const sub = fw.sub;
    fw.sub = null;
    sub?.close();
    fw.active = false;
    fw.unregisteredTime = books.nowSeconds();
    books.removeFrameworkOffers(fw);
    this.#logger.info("Framework disconnected", { framework_id: frameworkId });
    if (!startFailoverTimer) return;
    const timeoutMs = (fw.info.failover_timeout ?? 0) * 1000;
    if (timeoutMs <= 0) {
      this.remove(frameworkId);
      return;
    }
    fw.failoverTimer?.cancel();
    fw.failoverTimer = this.#fx.timers.after(timeoutMs, () => {
      fw.failoverTimer = null;
      if (!fw.sub) {
        this.#logger.info("Framework failover timeout expired", { framework_id: frameworkId });
        this.remove(frameworkId);
      }
    });
  }

  /** Removes a framework (TEARDOWN, failover timeout, operator): tasks killed, id unusable. */
  remove(frameworkId: string): void {
    const books = this.#books;
    const fw = books.frameworks.get(frameworkId);
    if (!fw) return;
    fw.failoverTimer?.cancel();
    const sub = fw.sub;
    fw.sub = null;
    sub?.close();
    fw.active = false;
    books.removeFrameworkOffers(fw);
    for (const task of [...fw.tasks.values(), ...fw.unreachable.values()]) {
      if (!isTerminalState(task.state)) task.state = "TASK_KILLED";
      books.freeTask(task);
      books.agents.get(task.agentId)?.tasks.delete(taskKey(frameworkId, task.info.task_id.value));
      books.completeTask(fw, task);
    }
    fw.tasks.clear();
    fw.unreachable.clear();
    for (const rec of books.agents.values()) rec.agent.shutdownFramework(frameworkId);
    books.frameworks.delete(frameworkId);
    books.removedIds.add(frameworkId);
    books.completedFrameworks.push(fw);
    if (books.completedFrameworks.length > MAX_COMPLETED_FRAMEWORKS) {
      books.completedFrameworks.shift();
    }
    this.#logger.info("Framework removed", { framework_id: frameworkId });
  }
}
