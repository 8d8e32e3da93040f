/**
 * The agent's `/files/*` endpoints (src/files/files.cpp): `read` with the
 * offset/length rules (`offset` omitted or -1 probes the size, reads capped at
 * 16 pages), `browse`, `download` and `debug`, over attached sandbox paths.
 *
 * @module
 */

/** 16 pages of 4 KiB, the cap of one `/files/read` answer. */
export const FILES_READ_CAP_BYTES = 16 * 4096;

function text(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

function json(value: unknown): Response {
  return new Response(JSON.stringify(value), {
    headers: { "content-type": "application/json" },
  });
}

const MIME: Record<string, string> = {
  txt: "text/plain",
  log: "text/plain",
  json: "application/json",
  html: "text/html",
  gz: "application/gzip",
  tgz: "application/gzip",
  tar: "application/x-tar",
  zip: "application/zip",
};

let users: Map<number, string> | null = null;
let groups: Map<number, string> | null = null;
function idNames(file: string): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const line of Deno.readTextFileSync(file).split("\n")) {
      const f = line.split(":");
      if (f.length > 2) m.set(Number(f[2]), f[0]);
    }
  } catch { /* no names: numbers are used */ }
  return m;
}

function modeString(info: Deno.FileInfo): string {
  const mode = info.mode ?? 0;
  const type = info.isDirectory ? "d" : info.isSymlink ? "l" : "-";
  const rwx = "rwxrwxrwx";
  let out = type;
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? rwx[i] : "-";
  return out;
}

/** Attached roots (virtual path → real directory) and the handler serving them. */
export class FilesService {
  #roots = new Map<string, string>();

  /** Makes `realDir` readable under `virtualPath` (and under its own path). */
  attach(virtualPath: string, realDir: string): void {
    this.#roots.set(virtualPath.replace(/\/+$/, ""), realDir);
  }

  detach(virtualPath: string): void {
    this.#roots.delete(virtualPath.replace(/\/+$/, ""));
  }

  /** The real path for a requested path, or `null` when no attached root holds it. */
  resolve(path: string): string | null {
    const clean = path.replace(/\/+$/, "") || "/";
    if (clean.split("/").includes("..")) return null;
    let best: string | null = null;
    for (const root of this.#roots.keys()) {
      if (
        (clean === root || clean.startsWith(root + "/")) && (!best || root.length > best.length)
      ) {
        best = root;
      }
    }
    if (best === null) return null;
    return this.#roots.get(best)! + clean.slice(best.length);
  }

  /** Serves `/files/read`, `/files/browse`, `/files/download`, `/files/debug`. */
  async handle(req: Request, endpoint: string): Promise<Response> {
    const url = new URL(req.url);
    if (endpoint === "debug") return json(Object.fromEntries(this.#roots));
    const path = url.searchParams.get("path");
    if (path === null) return text(400, "Expecting 'path' to be present");
    const real = this.resolve(path);
    if (real === null) return text(404, "");
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(real);
    } catch {
      return text(404, "");
    }
    if (endpoint === "read") return await this.#read(url, real, info);
    if (endpoint === "download") {
      if (info.isDirectory) return text(400, "Cannot download a directory.");
      const name = real.slice(real.lastIndexOf("/") + 1);
      const ext = name.includes(".") ? name.slice(name.lastIndexOf(".") + 1).toLowerCase() : "";
      const file = await Deno.open(real);
      return new Response(file.readable, {
        headers: {
          "content-type": MIME[ext] ?? "application/octet-stream",
          "content-disposition": `attachment; filename=${name}`,
        },
      });
    }
    // browse
    users ??= idNames("/etc/passwd");
    groups ??= idNames("/etc/group");
    const base = path.replace(/\/+$/, "");
    const entries: Record<string, unknown>[] = [];
    const list: [string, Deno.FileInfo][] = [];
    if (info.isDirectory) {
      for await (const e of Deno.readDir(real)) {
        try {
          list.push([`${base}/${e.name}`, await Deno.lstat(`${real}/${e.name}`)]);
        } catch { /* vanished meanwhile */ }
      }
    } else list.push([base, info]);
    for (const [p, st] of list.sort((a, b) => a[0] < b[0] ? -1 : 1)) {
      entries.push({
        gid: groups.get(st.gid ?? -1) ?? String(st.gid ?? ""),
        mode: modeString(st),
        mtime: Math.floor((st.mtime?.getTime() ?? 0) / 1000),
        nlink: st.nlink ?? 1,
        path: p,
        size: st.size,
        uid: users.get(st.uid ?? -1) ?? String(st.uid ?? ""),
      });
    }
    return json(entries);
  }

  async #read(url: URL, real: string, info: Deno.FileInfo): Promise<Response> {
    if (info.isDirectory) return text(400, "Cannot read a directory.");
    const parse = (name: string): number | Response => {
      const raw = url.searchParams.get(name);
      if (raw === null) return -1;
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isInteger(n)) {
        return text(400, `Failed to parse ${name}: Failed to convert '${raw}' to number`);
      }
      if (n < -1) return text(400, `Negative ${name} provided: ${n}`);
      return n;
    };
    const offset = parse("offset");
    if (offset instanceof Response) return offset;
    const length = parse("length");
    if (length instanceof Response) return length;
    const size = info.size;
    if (offset === -1) return json({ data: "", offset: size });
    if (offset >= size || length === 0) return json({ data: "", offset });
    const want = Math.min(length === -1 ? size - offset : length, FILES_READ_CAP_BYTES);
    const file = await Deno.open(real);
    try {
      await file.seek(offset, Deno.SeekMode.Start);
      const buf = new Uint8Array(want);
      let got = 0;
      while (got < want) {
        const n = await file.read(buf.subarray(got));
        if (n === null) break;
        got += n;
      }
      return json({ data: new TextDecoder().decode(buf.subarray(0, got)), offset });
    } finally {
      file.close();
    }
  }
}
