/**
 * Types of the `undeployService` workflow, shared with its activities and clients. Free of Node.js imports:
 * the workflow bundle includes this file.
 */
import type { CurrentReleaseRef, LiveRelease, TargetPlan, UndeployAction } from './types';

export type { UndeployAction } from './types';

/** The workflow type of a stop or undeploy (it runs under the deploy lock's ID, deploy-<service>-<environment>). */
export const UNDEPLOY_WORKFLOW_TYPE = 'undeployService';

/** The resolved plan of a stop or undeploy: what runs there and how to reach it. Names and references only. */
export interface UndeployPlan {
  action: UndeployAction;
  service: string;
  environment: string;
  requestedBy: string;
  reason: string;
  spec: { source: string; sha256: string };
  /** What the release registry says is live there (null: nothing). */
  live: LiveRelease | null;
  dataDir: string;
  target: TargetPlan;
  /** The runtime config source: a command target's rollback command gets it, as in a deploy's rollback. */
  config: { envFile?: string };
  heartbeatTimeoutMs: number;
  /** The proof that `requestedBy` asked for it (environments with a signed gate). */
  request?: { signer: string; fingerprint: string; requestedAt: string };
}

/** What the target looked like before and after the stop step. */
export interface TargetSnapshot {
  current: CurrentReleaseRef | null;
  running: boolean;
  pid?: number;
}

export interface StopStepResult {
  before: TargetSnapshot;
  after: TargetSnapshot;
  /** The registry row that stopped being live (undeploy), or the live one whose process was stopped (stop). */
  release: { version: string; sha256: string | null } | null;
}
