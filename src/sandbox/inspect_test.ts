import { assertEquals } from "../testing/asserts.ts";
import { sandboxFromStatusData } from "./inspect.ts";

Deno.test("sandboxFromStatusData() finds the host path mounted at /mnt/mesos/sandbox", () => {
  const inspect = [{
    Id: "abc",
    Mounts: [
      { Source: "/var/run/docker.sock", Destination: "/var/run/docker.sock" },
      {
        Source: "/var/lib/mesos/slaves/S0/frameworks/F/executors/E/runs/R",
        Destination: "/mnt/mesos/sandbox",
      },
    ],
  }];
  assertEquals(
    sandboxFromStatusData(btoa(JSON.stringify(inspect))),
    "/var/lib/mesos/slaves/S0/frameworks/F/executors/E/runs/R",
  );
  assertEquals(sandboxFromStatusData(btoa("not json")), null);
  assertEquals(sandboxFromStatusData(undefined), null);
  assertEquals(sandboxFromStatusData(btoa("[{}]")), null);
});
