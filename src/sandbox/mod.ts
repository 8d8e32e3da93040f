/**
 * A task's `stdout`/`stderr` from its Mesos agent (reference §6, Mesos §9): the
 * whole file streamed from `/files/download`, or a byte range (`offset`/`length`,
 * tail with `length` alone) from `/files/read` with `X-Sandbox-Offset` and
 * `X-Sandbox-Size` headers. The executor directory comes from the task record or,
 * when the record has none, from the agent's `/state`. No sandbox yet (or the
 * agent answers 404) → 204; agent unreachable, slow or failing → 502 with a JSON
 * error naming the agent and the reason (fixing D17).
 *
 * ```ts
 * import { createSandboxReader } from "./mod.ts";
 * import { silentLogger } from "../runtime.ts";
 *
 * const sandbox = createSandboxReader({ logger: silentLogger, timeoutMs: 5_000 });
 * // const res = await sandbox.read(task, "stdout", { length: 4096 }); // the last 4 KiB
 * ```
 *
 * @module
 */
export {
  AgentResponseError,
  AgentUnavailableError,
  agentUrlOf,
  createSandboxReader,
  DEFAULT_SANDBOX_TIMEOUT_MS,
  fetchAgentState,
  findSandboxDirectory,
  type FindSandboxOptions,
  MAX_SANDBOX_RANGE_BYTES,
  sandboxDirectoryIn,
  type SandboxRange,
  type SandboxReader,
  type SandboxReaderOptions,
} from "./reader.ts";
export { sandboxFromStatusData } from "./inspect.ts";
