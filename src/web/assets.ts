/**
 * Static assets (`static/`): read once at start-up (embedded in the compiled binary
 * with `deno compile --include static`), served from memory with an ETag, and
 * addressed through a URL holding a digest of all assets (`/static/v-<digest>/…`),
 * so a page always loads the assets of the same build and browsers may keep them.
 *
 * @module
 */

/** The static folder next to the source tree (also inside a compiled binary). */
export const STATIC_DIR: URL = new URL("../../static/", import.meta.url);

/** One file served under `/static/`. */
export interface Asset {
  body: Uint8Array;
  contentType: string;
  etag: string;
}

/** The assets and the version segment that goes in their URLs. */
export interface AssetSet {
  /** `v-` and 12 hex digits of the digest of every file. */
  version: string;
  files: ReadonlyMap<string, Asset>;
}

const TYPES: Record<string, string> = {
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  txt: "text/plain; charset=utf-8",
};

async function hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Builds the asset set from files given as `relative path` → bytes. */
export async function createAssets(files: ReadonlyMap<string, Uint8Array>): Promise<AssetSet> {
  const out = new Map<string, Asset>();
  const digests: string[] = [];
  for (const path of [...files.keys()].sort()) {
    const body = files.get(path)!;
    const digest = await hex(body);
    digests.push(`${path}:${digest}`);
    const ext = path.slice(path.lastIndexOf(".") + 1);
    out.set(path, {
      body,
      contentType: TYPES[ext] ?? "application/octet-stream",
      etag: `"${digest.slice(0, 24)}"`,
    });
  }
  const all = await hex(new TextEncoder().encode(digests.join("\n")));
  return { version: `v-${all.slice(0, 12)}`, files: out };
}

/** Reads every file below `dir` as `relative path` → bytes. */
export async function readStaticFiles(dir: URL = STATIC_DIR): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const walk = async (sub: string) => {
    for await (const entry of Deno.readDir(new URL(sub, dir))) {
      if (entry.isDirectory) await walk(`${sub}${entry.name}/`);
      else out.set(sub + entry.name, await Deno.readFile(new URL(sub + entry.name, dir)));
    }
  };
  await walk("");
  return out;
}

/** A year: the longest `max-age` caches honour. */
const IMMUTABLE = "public, max-age=31536000, immutable";

/**
 * Answers `GET /static/<path>`: a versioned path of the current build may be cached
 * for good; any other (unversioned, or an older build's) must be revalidated.
 */
export function serveAsset(
  assets: AssetSet,
  path: string,
  ifNoneMatch: string | undefined,
): Response | null {
  const slash = path.indexOf("/");
  const versioned = slash > 0 && path.startsWith("v-");
  const file = assets.files.get(versioned ? path.slice(slash + 1) : path);
  if (!file) return null;
  const headers = new Headers({
    "content-type": file.contentType,
    etag: file.etag,
    "cache-control": versioned && path.startsWith(assets.version + "/") ? IMMUTABLE : "no-cache",
    "x-content-type-options": "nosniff",
  });
  if (ifNoneMatch?.split(",").some((t) => t.trim() === file.etag)) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(file.body as Uint8Array<ArrayBuffer>, { status: 200, headers });
}
