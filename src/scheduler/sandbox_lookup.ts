/**
 * Sandbox directories of running tasks, looked up in their agents' `/state`: at most one
 * fetch per agent in flight and one per `minIntervalMs`, each answering every task that
 * started on that agent meanwhile. A busy agent's `/state` lists up to a thousand
 * completed executors; fetched once per task under a steady stream of short tasks, it
 * cost milliseconds of CPU each and grew the heap. The lookup is an optimisation (the
 * sandbox reader finds a directory itself when a log is asked for), so a task is skipped
 * rather than queued without bound.
 *
 * @module
 */
import type { Timer, Timers } from "../runtime.ts";
import { fetchAgentState, sandboxDirectoryIn } from "../sandbox/mod.ts";

/** A task whose sandbox directory is wanted. */
export interface LookupTask {
  id: string;
  framework_id: string;
  mesos_task_id: string;
}

export interface SandboxLookupOptions {
  timers: Timers;
  fetch?: typeof fetch;
  /** Per `/state` request. */
  timeoutMs: number;
  /** Least time between two fetches of one agent's `/state`. */
  minIntervalMs: number;
  /** Tasks waiting per agent at most; beyond, new ones are skipped. */
  maxWaiting: number;
  /** Called with each directory found. */
  found(task: LookupTask, directory: string): void;
  /** Called when an agent's `/state` cannot be read. */
  failed(agentUrl: string, error: Error): void;
}

/** One entry per agent seen (a few bytes; agents are bounded by the cluster). */
interface AgentLookups {
  waiting: Map<string, LookupTask>;
  timer: Timer | null;
  fetching: boolean;
  lastAt: number;
}

/** Per-agent, rate-limited sandbox lookups; see the module documentation. */
export class SandboxLookups {
  #o: SandboxLookupOptions;
  #agents = new Map<string, AgentLookups>();
  #closed = false;

  constructor(options: SandboxLookupOptions) {
    this.#o = options;
  }

  /** Asks for `task`'s directory on `agentUrl`; false when skipped (too many waiting, closed). */
  request(agentUrl: string, task: LookupTask): boolean {
    if (this.#closed) return false;
    let a = this.#agents.get(agentUrl);
    if (!a) {
      a = { waiting: new Map(), timer: null, fetching: false, lastAt: -Infinity };
      this.#agents.set(agentUrl, a);
    }
    if (a.waiting.size >= this.#o.maxWaiting) return false;
    a.waiting.set(task.mesos_task_id, task);
    this.#schedule(agentUrl, a);
    return true;
  }

  /** Tasks waiting for a lookup, over all agents. */
  get waiting(): number {
    let n = 0;
    for (const a of this.#agents.values()) n += a.waiting.size;
    return n;
  }

  close(): void {
    this.#closed = true;
    for (const a of this.#agents.values()) a.timer?.cancel();
    this.#agents.clear();
  }

  #schedule(agentUrl: string, a: AgentLookups): void {
    if (a.timer || a.fetching || a.waiting.size === 0 || this.#closed) return;
    const delay = Math.max(0, a.lastAt + this.#o.minIntervalMs - this.#o.timers.clock.now());
    a.timer = this.#o.timers.after(delay, () => {
      a.timer = null;
      void this.#fetch(agentUrl, a);
    });
  }

  async #fetch(agentUrl: string, a: AgentLookups): Promise<void> {
    const tasks = [...a.waiting.values()];
    a.waiting.clear();
    a.fetching = true;
    a.lastAt = this.#o.timers.clock.now();
    try {
      const state = await fetchAgentState(agentUrl, {
        fetch: this.#o.fetch,
        timeoutMs: this.#o.timeoutMs,
        timers: this.#o.timers,
      });
      if (this.#closed) return;
      for (const t of tasks) {
        const dir = sandboxDirectoryIn(state, t.framework_id, t.mesos_task_id);
        if (dir) this.#o.found(t, dir);
      }
    } catch (e) {
      if (!this.#closed) this.#o.failed(agentUrl, e as Error);
    } finally {
      a.fetching = false;
      this.#schedule(agentUrl, a);
    }
  }
}
