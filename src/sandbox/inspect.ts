/**
 * The sandbox path in a Docker executor's `TASK_RUNNING` data (reference §6):
 * `docker inspect` output whose mount at `/mnt/mesos/sandbox` names the host path.
 *
 * @module
 */

const SANDBOX_MOUNT = "/mnt/mesos/sandbox";

/** The host sandbox path in base64 `docker inspect` data, or `null`. */
export function sandboxFromStatusData(data: string | undefined): string | null {
  if (!data) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0))),
    );
  } catch {
    return null;
  }
  const containers = Array.isArray(parsed) ? parsed : [parsed];
  for (const c of containers) {
    const mounts = (c as { Mounts?: { Source?: string; Destination?: string }[] })?.Mounts;
    const m = mounts?.find((x) => x.Destination === SANDBOX_MOUNT && x.Source);
    if (m?.Source) return m.Source;
  }
  return null;
}
