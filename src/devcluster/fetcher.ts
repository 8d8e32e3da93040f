/**
 * The Mesos fetcher for command tasks: `CommandInfo.uris` are downloaded (http,
 * https) or copied (file://, absolute paths) into the sandbox, archives are
 * extracted when `extract` (default true), `executable` makes the file
 * executable, and `cache` keeps one copy per URI in the agent's cache directory.
 *
 * @module
 */
import type { CommandURI } from "../mesos/types.ts";

/** Thrown when a URI cannot be fetched; the message names the URI. */
export class FetchError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FetchError";
  }
}

/** Options of `fetchUris`. */
export interface FetchUrisOptions {
  /** Directory for `cache: true` downloads; caching is off without it. */
  cacheDir?: string;
  /** The fetch function, replaceable in tests. */
  fetch?: typeof fetch;
}

const ARCHIVE_RE = /\.(tar|tar\.gz|tgz|tar\.bz2|tbz2|tar\.xz|txz|zip|gz)$/i;

function basenameOf(uri: string): string {
  const path = uri.replace(/[?#].*$/, "");
  const name = path.slice(path.lastIndexOf("/") + 1);
  return name || "download";
}

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new FetchError(
      `Cannot extract with ${cmd}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

async function download(uri: string, dest: string, fetchFn: typeof fetch): Promise<void> {
  if (/^https?:\/\//i.test(uri)) {
    const res = await fetchFn(uri);
    if (!res.ok) {
      await res.body?.cancel();
      throw new FetchError(`Cannot fetch "${uri}": HTTP ${res.status}`);
    }
    const file = await Deno.open(dest, { write: true, create: true, truncate: true });
    await res.body!.pipeTo(file.writable);
    return;
  }
  const path = uri.startsWith("file://") ? decodeURIComponent(new URL(uri).pathname) : uri;
  if (!path.startsWith("/")) {
    throw new FetchError(`Cannot fetch "${uri}": only http, https and file URIs are supported`);
  }
  await Deno.copyFile(path, dest);
}

/** Fetches every URI into `sandbox`, in order; throws `FetchError` on the first failure. */
export async function fetchUris(
  uris: readonly CommandURI[],
  sandbox: string,
  { cacheDir, fetch: fetchFn = fetch }: FetchUrisOptions = {},
): Promise<void> {
  for (const uri of uris) {
    const name = uri.output_file ?? basenameOf(uri.value);
    if (name.split("/").includes("..")) {
      throw new FetchError(`Cannot fetch "${uri.value}": output_file leaves the sandbox`);
    }
    const dest = `${sandbox}/${name}`;
    if (name.includes("/")) {
      await Deno.mkdir(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
    }
    try {
      if (uri.cache && cacheDir) {
        const key = encodeURIComponent(uri.value);
        const cached = `${cacheDir}/${key}`;
        try {
          await Deno.stat(cached);
        } catch {
          await Deno.mkdir(cacheDir, { recursive: true });
          await download(uri.value, `${cached}.part`, fetchFn);
          await Deno.rename(`${cached}.part`, cached);
        }
        await Deno.copyFile(cached, dest);
      } else {
        await download(uri.value, dest, fetchFn);
      }
    } catch (err) {
      if (err instanceof FetchError) throw err;
      throw new FetchError(`Cannot fetch "${uri.value}": ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (uri.executable) await Deno.chmod(dest, 0o755);
    else if ((uri.extract ?? true) && ARCHIVE_RE.test(name)) {
      if (/\.zip$/i.test(name)) await run("unzip", ["-o", "-q", dest], sandbox);
      else if (/\.gz$/i.test(name) && !/\.(tar\.gz|tgz)$/i.test(name)) {
        await run("gzip", ["-d", "-f", dest], sandbox);
      } else await run("tar", ["-xf", dest, "-C", sandbox], sandbox);
    }
  }
}
