/**
 * The `eremetic` executable: `serve` (default), `dev`, `devcluster`, and the
 * hermit-compatible client commands.
 *
 * @module
 */
import { main } from "./src/cli/mod.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
