/**
 * The baseline of the benchmarks: a bare `Deno.serve` hello-world.
 *
 * `deno run -A bench/_hello.ts PORT`
 *
 * @module
 */
const port = Number(Deno.args[0] ?? 8000);
const server = Deno.serve(
  { hostname: "127.0.0.1", port, onListen: () => {} },
  () => new Response("Hello, world"),
);
Deno.addSignalListener("SIGTERM", () => server.shutdown());
await server.finished;
