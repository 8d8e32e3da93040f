/**
 * The FrameworkInfo Eremetic subscribes with.
 *
 * @module
 */
import type { FrameworkInfo } from "../mesos/mod.ts";

export interface FrameworkSettings {
  name: string;
  user: string;
  role: string;
  hostname: string;
  webuiUrl: string;
  checkpoint: boolean;
  failoverTimeoutSeconds: number;
  gpuResources: boolean;
  principal?: string;
}

/**
 * MULTI_ROLE (with `roles`), PARTITION_AWARE (TASK_UNREACHABLE/TASK_GONE instead of
 * TASK_LOST), TASK_KILLING_STATE, and GPU_RESOURCES when asked for.
 */
export function buildFrameworkInfo(s: FrameworkSettings): FrameworkInfo {
  const capabilities: NonNullable<FrameworkInfo["capabilities"]> = [
    { type: "MULTI_ROLE" },
    { type: "PARTITION_AWARE" },
    { type: "TASK_KILLING_STATE" },
  ];
  if (s.gpuResources) capabilities.push({ type: "GPU_RESOURCES" });
  return {
    user: s.user,
    name: s.name,
    roles: [s.role || "*"],
    checkpoint: s.checkpoint,
    failover_timeout: s.failoverTimeoutSeconds,
    hostname: s.hostname,
    webui_url: s.webuiUrl,
    capabilities,
    ...(s.principal ? { principal: s.principal } : {}),
  };
}
