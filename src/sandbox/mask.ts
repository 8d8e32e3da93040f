/**
 * Masking a task's own `masked_env` values in the output Eremetic serves: every
 * occurrence becomes `*******`. Works on bytes (offsets are byte offsets in the
 * agent's file). The raw file on the agent is never changed.
 *
 * @module
 */
import { MASK, type TaskRecord } from "../task/mod.ts";

const encoder = new TextEncoder();
const MASK_BYTES = encoder.encode(MASK);

/** The non-empty masked values of a task, as UTF-8, longest first (so a longer one wins). */
export function secretsOf(task: Pick<TaskRecord, "masked_env">): Uint8Array[] {
  const values = new Set(Object.values(task.masked_env ?? {}).filter((v) => v !== ""));
  return [...values].map((v) => encoder.encode(v)).sort((a, b) => b.length - a.length);
}

/** A match `[start, end)` of a secret in a byte array. */
export interface Match {
  start: number;
  end: number;
}

function startsWithAt(bytes: Uint8Array, at: number, s: Uint8Array): boolean {
  if (at + s.length > bytes.length) return false;
  for (let i = 0; i < s.length; i++) if (bytes[at + i] !== s[i]) return false;
  return true;
}

/** Leftmost, then longest, non-overlapping occurrences of `secrets` (longest first) in `bytes`. */
export function findSecrets(bytes: Uint8Array, secrets: readonly Uint8Array[]): Match[] {
  const out: Match[] = [];
  if (secrets.length === 0) return out;
  const firsts = new Set(secrets.map((s) => s[0]));
  for (let i = 0; i < bytes.length;) {
    if (!firsts.has(bytes[i])) {
      i++;
      continue;
    }
    const hit = secrets.find((s) => startsWithAt(bytes, i, s));
    if (hit) {
      out.push({ start: i, end: i + hit.length });
      i += hit.length;
    } else i++;
  }
  return out;
}

/**
 * Where a growing buffer can safely be cut: the start of the longest suffix of
 * `bytes` that is a proper prefix of some secret (a secret may be completing
 * there), or `bytes.length` when there is none.
 */
export function safeEnd(bytes: Uint8Array, secrets: readonly Uint8Array[]): number {
  const longest = secrets.reduce((m, s) => Math.max(m, s.length), 0);
  for (let k = Math.min(longest - 1, bytes.length); k > 0; k--) {
    const at = bytes.length - k;
    if (secrets.some((s) => s.length > k && startsWithAt(s, 0, bytes.subarray(at)))) return at;
  }
  return bytes.length;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** What `maskWindow` returns: the bytes to serve and the raw offset they reach. */
export interface MaskedWindow {
  bytes: Uint8Array;
  /** Raw byte offset just after what `bytes` covers (past a masked value that ends beyond `end`). */
  next: number;
}

/**
 * The bytes of raw `[start, end)` as served, given `context`: raw bytes starting at
 * `contextStart` that cover `[start, end)` plus up to a secret's length on each side.
 * A secret overlapping the window, even partly, is shown whole as `*******`. With
 * `hold`, the window stops before a trailing prefix of a secret (a file still written).
 */
export function maskWindow(
  context: Uint8Array,
  contextStart: number,
  start: number,
  end: number,
  secrets: readonly Uint8Array[],
  hold = false,
): MaskedWindow {
  const contextEnd = contextStart + context.length;
  let limit = Math.min(end, contextEnd);
  if (hold) limit = Math.min(limit, contextStart + safeEnd(context, secrets));
  limit = Math.max(limit, start);
  const parts: Uint8Array[] = [];
  let pos = start;
  for (const m of findSecrets(context, secrets)) {
    const ms = contextStart + m.start;
    const me = contextStart + m.end;
    if (me <= pos) continue;
    if (ms >= limit) break;
    if (ms > pos) parts.push(context.subarray(pos - contextStart, ms - contextStart));
    parts.push(MASK_BYTES);
    pos = me;
  }
  if (pos < limit) {
    parts.push(context.subarray(pos - contextStart, limit - contextStart));
    pos = limit;
  }
  return { bytes: concat(parts), next: pos };
}

/** A byte stream with every secret masked; holds back only a trailing prefix of a secret. */
export function maskStream(
  body: ReadableStream<Uint8Array>,
  secrets: readonly Uint8Array[],
): ReadableStream<Uint8Array> {
  let pending: Uint8Array = new Uint8Array();
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        const buf = concat([pending, chunk]);
        const w = maskWindow(buf, 0, 0, buf.length, secrets, true);
        pending = buf.slice(w.next);
        if (w.bytes.length > 0) ctl.enqueue(w.bytes);
      },
      flush(ctl) {
        const w = maskWindow(pending, 0, 0, pending.length, secrets);
        if (w.bytes.length > 0) ctl.enqueue(w.bytes);
      },
    }),
  );
}
