/**
 * Task state callbacks: the original payload `{"time":…,"status":…,"task_id":…}`
 * POSTed as JSON to a task's `callback_uri`, durable in the store's outbox
 * (kind `"callback"`) and delivered at least once across restarts, each attempt
 * with a timeout, retried with exponential back-off and jitter for up to an hour,
 * signed with `X-Eremetic-Signature: sha256=<hex HMAC-SHA256 of the body>` when a
 * secret is configured. Which states trigger a callback is the caller's choice.
 *
 * ```ts
 * import { createCallbacks } from "./mod.ts";
 * import { memoryStore } from "../store/mod.ts";
 * import { silentLogger } from "../runtime.ts";
 *
 * await using callbacks = createCallbacks({ store: memoryStore(), logger: silentLogger });
 * await callbacks.start(); // resumes deliveries left pending by the last run
 * // later, after a task's terminal state is stored:
 * // await callbacks.enqueue(task, "TASK_FINISHED", Math.floor(Date.now() / 1000));
 * ```
 *
 * @module
 */
export {
  CALLBACK_OUTBOX_KIND,
  callbackBody,
  type CallbackDelivery,
  callbackDeliveryId,
  type CallbackOptions,
  type Callbacks,
  createCallbacks,
  DEFAULT_CALLBACK_CONCURRENCY,
  DEFAULT_CALLBACK_INITIAL_DELAY_MS,
  DEFAULT_CALLBACK_MAX_AGE_MS,
  DEFAULT_CALLBACK_MAX_DELAY_MS,
  DEFAULT_CALLBACK_TIMEOUT_MS,
  DELIVERY_HEADER,
  redactUri,
  SIGNATURE_HEADER,
  signCallback,
} from "./callbacks.ts";
