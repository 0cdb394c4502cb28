/**
 * What a host agent does for the orchestrator: the activities it registers on its own task queue
 * (`deploys-host-<host>`), with their inputs and results. Types and pure helpers only, so the workflow
 * bundle imports this file without pulling in anything of the agent's process.
 *
 * Inputs carry names and references, never runtime configuration values: the agent reads the service's
 * configuration from `envFile` on its own host, and fetches artifacts by sha256 from the store it is
 * configured with (DEPLOY_ARTIFACT_STORE), verifying every byte.
 */
import type { HealthPlan } from '../workflows/types';

export const HOST_TASK_QUEUE_PREFIX = 'deploys-host-';

/** A host name: lowercase letters, digits and dashes (it becomes a task queue, a directory and a front door server). */
export const HOST_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The task queue a host's agent polls. */
export function hostTaskQueue(host: string): string {
  return `${HOST_TASK_QUEUE_PREFIX}${host}`;
}

/** The release a host is asked to run. */
export interface HostRelease {
  service: string;
  environment: string;
  version: string;
  /** The artifact (.tar.gz) the agent fetches from the artifact store and verifies. */
  sha256: string;
}

/** How the service runs on the host: the same on every host of a fleet but the port. */
export interface HostRuntime {
  service: string;
  environment: string;
  host: string;
  port: number;
  /** argv run from the release directory; `{port}` and `PORT` carry the host's port. */
  command: string[];
  keepReleases: number;
  stopTimeoutMs: number;
  startTimeoutMs: number;
  /** The runtime configuration file on the host (KEY=VALUE lines), read by the agent; absent: none. */
  envFile?: string;
  /** Variables the release needs from the configuration (checked before it starts). */
  requiredConfig: string[];
}

export interface HostReleaseRef {
  releaseId: string;
  version: string;
  sha256: string;
}

export interface HostDeployInput {
  release: HostRelease;
  runtime: HostRuntime;
}

export interface HostDeployResult {
  host: string;
  releaseId: string;
  /** It already ran this release: nothing was changed or restarted. */
  noop: boolean;
  /** What ran before (null: nothing). A retried deploy reports the same as the first attempt. */
  previous: HostReleaseRef | null;
}

export interface HostProbeInput {
  runtime: HostRuntime;
  /** The spec's health plan; the agent probes `http://127.0.0.1:<port><path of health.url>` on its host. */
  health: HealthPlan;
}

export interface HostProbeResult {
  host: string;
  passed: boolean;
  reason: string;
  samples: number;
}

export interface HostRollbackInput {
  runtime: HostRuntime;
  /** null: stop the service and clear `current` (the host had nothing before). */
  to: HostReleaseRef | null;
}

export interface HostStatusResult {
  host: string;
  current: HostReleaseRef | null;
  running: boolean;
  pid?: number;
  /** The agent's version of this file's contract, for mixed fleets during an agent upgrade. */
  agent: { version: 1; root: string };
}

/** The activities of a host agent, as registered under these names. */
export interface HostActivities {
  /** Fetch, verify, stage and activate the release, and (re)start it on the host's port. Idempotent. */
  hostDeploy(a: HostDeployInput): Promise<HostDeployResult>;
  /** Readiness and analysis of the host's release on the host itself. Fails (non-retryable) when the analysis fails. */
  hostProbe(a: HostProbeInput): Promise<HostProbeResult>;
  /** Put `to` back (or stop and clear when null). Idempotent. */
  hostRollback(a: HostRollbackInput): Promise<{ host: string; restored: HostReleaseRef | null }>;
  /** What the host runs. */
  hostStatus(a: { runtime: HostRuntime }): Promise<HostStatusResult>;
}
