/**
 * The task model: request schemas (v1 and legacy v0), the stored record, the
 * API views with masking, and the pure state machine.
 *
 * ```ts
 * import { newTaskRecord, parseTaskRequestV1, toTaskV1 } from "./mod.ts";
 * const parsed = parseTaskRequestV1({ image: "busybox", cpu: 1, mem: 22, command: "date" });
 * if (parsed.ok) toTaskV1(newTaskRecord(parsed.request, { uuid: crypto.randomUUID(), now: Date.now() }));
 * ```
 *
 * @module
 */
export * from "./state.ts";
export * from "./request.ts";
export * from "./record.ts";
