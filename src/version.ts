/** The version of this build. */
export const VERSION = "0.1.0";

/** Where `deno task compile` records the commit it built, embedded in the binary. */
export const BUILD_INFO_URL: URL = new URL("../dist/build.json", import.meta.url);

let commit: string | undefined;

/**
 * The git commit this binary was compiled from (`tools/compile.ts` embeds it), or
 * `"unknown"` when running from source.
 */
export function buildCommit(): string {
  if (commit !== undefined) return commit;
  let found = "unknown";
  try {
    const info = JSON.parse(Deno.readTextFileSync(BUILD_INFO_URL));
    if (typeof info.commit === "string" && info.commit) found = info.commit;
  } catch {
    // Running from source: nothing was embedded.
  }
  return commit = found;
}
