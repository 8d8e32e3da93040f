/**
 * Minimal assertions for tests (`@std/assert` lives on JSR, which is not reachable).
 *
 * @module
 */

export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Throws unless `cond` is truthy. */
export function assert(cond: unknown, msg = "Assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

function canonical(v: unknown): unknown {
  if (v instanceof Map) return { __map: [...v.entries()].map(([k, x]) => [k, canonical(x)]) };
  if (v instanceof Set) return { __set: [...v].map(canonical) };
  if (v instanceof Uint8Array) return { __bytes: [...v] };
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  if (typeof v === "number" && Number.isNaN(v)) return "__NaN";
  if (typeof v === "bigint") return `__bigint:${v}`;
  if (v === undefined) return "__undefined";
  return v;
}

/** Deep equality (key order ignored). */
export function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Throws unless `actual` deeply equals `expected`. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!equal(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}values differ\n  actual:   ${fmt(actual)}\n  expected: ${
        fmt(expected)
      }`,
    );
  }
}

/** Throws if `actual` deeply equals `expected`. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (equal(actual, expected)) throw new AssertionError(msg ?? `values are equal: ${fmt(actual)}`);
}

/** Strict (`===`) equality. */
export function assertStrictEquals<T>(actual: T, expected: T, msg?: string): void {
  if (actual !== expected) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}${fmt(actual)} !== ${fmt(expected)}`,
    );
  }
}

/** Throws unless `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  if (!actual.includes(expected)) {
    throw new AssertionError(msg ?? `${fmt(actual)} does not include ${fmt(expected)}`);
  }
}

/** Throws unless `actual` matches `re`. */
export function assertMatch(actual: string, re: RegExp, msg?: string): void {
  if (!re.test(actual)) throw new AssertionError(msg ?? `${fmt(actual)} does not match ${re}`);
}

/** Throws unless `fn` throws (an instance of `cls`, with `includes` in its message). */
export function assertThrows(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  cls?: new (...args: any[]) => Error,
  includes?: string,
): Error {
  try {
    fn();
  } catch (e) {
    checkError(e, cls, includes);
    return e as Error;
  }
  throw new AssertionError("Expected function to throw");
}

/** Throws unless the promise rejects (an instance of `cls`, with `includes` in its message). */
export async function assertRejects(
  fn: () => PromiseLike<unknown>,
  // deno-lint-ignore no-explicit-any
  cls?: new (...args: any[]) => Error,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    checkError(e, cls, includes);
    return e as Error;
  }
  throw new AssertionError("Expected promise to reject");
}

// deno-lint-ignore no-explicit-any
function checkError(e: unknown, cls?: new (...args: any[]) => Error, includes?: string) {
  if (cls && !(e instanceof cls)) {
    throw new AssertionError(`Expected error to be ${cls.name}, got ${fmt(e)}`);
  }
  if (includes && !(e instanceof Error && e.message.includes(includes))) {
    throw new AssertionError(
      `Expected error message to include ${fmt(includes)}, got ${fmt((e as Error)?.message)}`,
    );
  }
}

function fmt(v: unknown): string {
  try {
    return Deno.inspect(v, { depth: 8, colors: false });
  } catch {
    return String(v);
  }
}
