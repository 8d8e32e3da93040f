/**
 * A tiny scriptable Mesos master for the client tests: the real endpoint, headers, status
 * codes and RecordIO stream, nothing else (no offers, no agents). Serves sibling tests only.
 *
 * @module
 */
import { encodeRecord } from "./recordio.ts";

/** A request the fake received. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Headers;
  /** The parsed JSON body (or the raw text when it is not JSON). */
  body: Record<string, unknown> & { type?: string };
}

/** The server side of a SUBSCRIBE stream. */
export interface FakeStream {
  readonly streamId: string;
  readonly frameworkId: string;
  /** Sends one event as one HTTP chunk holding one record (like a real master). */
  send(event: unknown): void;
  /** Sends raw bytes (for split and merged records). */
  sendRaw(bytes: Uint8Array): void;
  /** Closes the stream from the master's side. */
  end(): void;
  /** Whether the stream is still open. */
  readonly open: boolean;
  /** Resolves when the stream is over (ended here or cancelled by the client). */
  readonly done: Promise<void>;
}

/** A hook that may answer a request itself; return undefined for the default behaviour. */
export type Script = (req: RecordedRequest) => Response | undefined | Promise<Response | undefined>;

export interface FakeMasterOptions {
  /** Hostname in the URLs (the server always listens on 127.0.0.1). */
  hostname?: string;
  /** Events sent right after SUBSCRIBED (default: one HEARTBEAT, as a real master). */
  afterSubscribed?: unknown[];
  /** Heartbeat interval announced in SUBSCRIBED. */
  heartbeatIntervalSeconds?: number;
  /** Require `Authorization: Basic …` equal to this value; answer 401 otherwise. */
  authorization?: string;
}

export interface FakeMaster extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `127.0.0.1:<port>` */
  readonly hostPort: string;
  readonly requests: RecordedRequest[];
  readonly streams: FakeStream[];
  /** Answers requests before the default behaviour when set. */
  script: Script | null;
  /** Resolves with the next stream opened (or the one at `index`). */
  stream(index: number): Promise<FakeStream>;
  /** Calls (non-SUBSCRIBE) received, in order. */
  calls(): RecordedRequest[];
  close(): Promise<void>;
}

/** Starts a fake master on a free loopback port. */
export function startFakeMaster(options: FakeMasterOptions = {}): FakeMaster {
  const { afterSubscribed = [{ type: "HEARTBEAT" }], heartbeatIntervalSeconds = 15 } = options;
  const requests: RecordedRequest[] = [];
  const streams: FakeStream[] = [];
  const waiters = new Map<number, ((s: FakeStream) => void)[]>();
  let frameworks = 0;
  const masterId = crypto.randomUUID();

  const openStream = (frameworkId: string): { stream: FakeStream; body: ReadableStream } => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let open = true;
    const done = Promise.withResolvers<void>();
    const finish = () => {
      if (!open) return;
      open = false;
      done.resolve();
    };
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
      },
      cancel() {
        finish();
      },
    });
    const stream: FakeStream = {
      streamId: crypto.randomUUID(),
      frameworkId,
      send(event) {
        if (open) controller.enqueue(encodeRecord(JSON.stringify(event)));
      },
      sendRaw(bytes) {
        if (open) controller.enqueue(bytes);
      },
      end() {
        if (!open) return;
        controller.close();
        finish();
      },
      get open() {
        return open;
      },
      done: done.promise,
    };
    return { stream, body };
  };

  const handle = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const text = await request.text();
    let body: RecordedRequest["body"];
    try {
      body = JSON.parse(text);
    } catch {
      body = { raw: text };
    }
    const rec: RecordedRequest = {
      method: request.method,
      path: url.pathname,
      headers: request.headers,
      body,
    };
    requests.push(rec);
    if (options.authorization && request.headers.get("Authorization") !== options.authorization) {
      return new Response("401 Unauthorized.", {
        status: 401,
        headers: { "WWW-Authenticate": 'Basic realm="mesos-master-scheduler"' },
      });
    }
    const scripted = await master.script?.(rec);
    if (scripted) return scripted;
    if (url.pathname !== "/api/v1/scheduler" && url.pathname !== "/master/api/v1/scheduler") {
      return new Response("404 Not Found.", { status: 404 });
    }
    if (request.method !== "POST") return new Response("", { status: 405 });
    if (request.headers.get("Content-Type") !== "application/json") {
      return new Response("Expecting 'Content-Type' of application/json", { status: 415 });
    }
    if (body.type === "SUBSCRIBE") {
      if (request.headers.has("Mesos-Stream-Id")) {
        return new Response("Subscribe calls should not include the 'Mesos-Stream-Id' header", {
          status: 400,
        });
      }
      const sub = body.subscribe as { framework_info: { id?: { value: string } } };
      const frameworkId = sub.framework_info.id?.value ??
        `${masterId}-${String(frameworks++).padStart(4, "0")}`;
      // A second subscription of the same framework fails the first one over.
      for (const s of streams) {
        if (s.open && s.frameworkId === frameworkId) {
          s.send({ type: "ERROR", error: { message: "Framework failed over" } });
          s.end();
        }
      }
      const { stream, body: responseBody } = openStream(frameworkId);
      streams.push(stream);
      stream.send({
        type: "SUBSCRIBED",
        subscribed: {
          framework_id: { value: frameworkId },
          heartbeat_interval_seconds: heartbeatIntervalSeconds,
          master_info: {
            id: masterId,
            ip: 16777343,
            port: server.addr.port,
            hostname: "127.0.0.1",
          },
        },
      });
      for (const e of afterSubscribed) stream.send(e);
      for (const w of waiters.get(streams.length - 1) ?? []) w(stream);
      waiters.delete(streams.length - 1);
      return new Response(responseBody, {
        status: 200,
        headers: { "Content-Type": "application/json", "Mesos-Stream-Id": stream.streamId },
      });
    }
    const fid = (body.framework_id as { value?: string } | undefined)?.value;
    const stream = streams.find((s) => s.frameworkId === fid && s.open);
    if (!fid) return new Response("Expecting 'framework_id' to be present", { status: 400 });
    if (!streams.some((s) => s.frameworkId === fid)) {
      return new Response("Framework cannot be found", { status: 400 });
    }
    if (!stream) return new Response("Framework is not subscribed", { status: 403 });
    const sid = request.headers.get("Mesos-Stream-Id");
    if (!sid) {
      return new Response("All non-subscribe calls should include the 'Mesos-Stream-Id' header", {
        status: 400,
      });
    }
    if (sid !== stream.streamId) {
      return new Response(`The stream ID '${sid}' included in this request didn't match`, {
        status: 400,
      });
    }
    return new Response(null, { status: body.type === "UPDATE_FRAMEWORK" ? 200 : 202 });
  };

  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    handle,
  );
  const hostPort = `${options.hostname ?? "127.0.0.1"}:${server.addr.port}`;

  const master: FakeMaster = {
    url: `http://${hostPort}`,
    hostPort,
    requests,
    streams,
    script: null,
    stream(index) {
      if (streams[index]) return Promise.resolve(streams[index]);
      return new Promise((resolve) => {
        const list = waiters.get(index) ?? [];
        list.push(resolve);
        waiters.set(index, list);
      });
    },
    calls() {
      return requests.filter((r) => r.body.type !== "SUBSCRIBE");
    },
    async close() {
      for (const s of streams) s.end();
      await server.shutdown();
    },
    [Symbol.asyncDispose]() {
      return master.close();
    },
  };
  return master;
}

/** Bytes of several events as one buffer (to merge records into one chunk). */
export function eventsAsBytes(events: unknown[]): Uint8Array<ArrayBuffer> {
  const parts = events.map((e) => encodeRecord(JSON.stringify(e)));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
