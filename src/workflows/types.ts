/**
 * Types shared by the workflow, its activities and clients. This file must stay free of Node.js imports:
 * the workflow bundle includes it.
 */
import type { FleetProgress } from './fleet/types';

import type { HealthExpectation } from '../health/expect';
import type { HealthThresholds } from '../health/thresholds';
import type { HostOutcome } from '../targets/types';
import type { AllowedSigner } from '../trust/allowed-signers';
import type { TargetPlan } from '../targets/registry';
import type { StageName } from './stages';

export type { StageName } from './stages';

export type DeployStatus =
  | 'running'
  | 'awaiting_approval'
  | 'succeeded'
  | 'rolled_back'
  | 'rejected'
  | 'failed'
  | 'needs_intervention'
  | 'cancelled';

export interface GatePlan {
  before: StageName;
  approvers: string[];
  quorum: number;
  requesterMayApprove: boolean;
  timeoutMs: number;
  /** Decisions must be signed by the approver's key (absent in plans recorded before signed gates: unsigned). */
  signed?: boolean;
}

/** The validate stage's analysis: the readiness URL and its thresholds. */
export type HealthPlan = HealthThresholds & { url: string; expect?: HealthExpectation };

/** The resolved target: one of the kinds in `src/targets/registry.ts`. */
export type { TargetPlan } from '../targets/registry';

/** One canary step of the plan (see src/spec/strategy.ts). */
export type CanaryStep = { setWeight: number } | { analysis: { against: 'canary' | 'frontDoor'; windowMs?: number } } | { pause: { seconds?: number } };

interface PromotionPlan {
  /** Who may send `promote`; their decisions are signed when `signed`. */
  promoters: string[];
  signed: boolean;
  promoteTimeoutMs: number;
  /** How long the replaced release keeps running (drained) after the switch. */
  scaleDownDelayMs: number;
}

/** How the release takes over traffic (absent in plans recorded before strategies: replace). */
export type StrategyPlan =
  | { type: 'replace' }
  | ({ type: 'blueGreen'; previewAnalysis: boolean; pauseForPromote: boolean } & PromotionPlan)
  | ({ type: 'canary'; steps: CanaryStep[] } & PromotionPlan);

export interface LiveRelease {
  version: string;
  sha256: string;
  workflowId: string;
  /** Its process was stopped on purpose (`undeployService` with action stop) since it went live; `current` still names it. */
  stoppedAt?: string;
}

/** What an `undeployService` run does: stop the process and keep `current`, or undeploy (stop, remove `current`, nothing live). */
export type UndeployAction = 'stop' | 'undeploy';

/** The resolved plan: everything that runs, with paths made absolute. Names and references only, never secret values. */
export interface DeployPlan {
  service: string;
  environment: string;
  version: string;
  requestedBy: string;
  reason?: string;
  spec: { source: string; sha256: string };
  /** first: nothing live yet; forward: a version never live here; redeploy: the live version again; rollback: a version that was live before. */
  kind: 'first' | 'forward' | 'redeploy' | 'rollback';
  live: LiveRelease | null;
  dataDir: string;
  artifactStore: string;
  source: { repository: string };
  build: { command: string[]; outputs: string[]; timeoutMs: number } | null;
  runtime: { command: string[]; requiredConfig: string[] };
  /** The runtime config source (KEY=VALUE lines); none for a service without runtime configuration. */
  config: { envFile?: string; databaseUrlFrom?: string };
  migrations: { directory: string; lockTimeoutMs: number; statementTimeoutMs: number };
  preChecks: { minFreeDiskMb: number; dependencies: Array<{ name: string; tcp?: string; http?: string }> };
  health: HealthPlan;
  target: TargetPlan;
  /** Absent in plans recorded before strategies: replace. */
  strategy?: StrategyPlan;
  gates: GatePlan[];
  heartbeatTimeoutMs: number;
  /** Who may intervene in a failed rollback, and whether they must sign (absent in older plans: anyone, unsigned). */
  intervention?: { operators: string[]; signed: boolean };
  /** The public keys the plan trusts for signed decisions, read from the spec's allowed_signers file. */
  trust?: { allowedSigners: AllowedSigner[]; source: string; sha256: string };
  /** The proof that `requestedBy` asked for this deploy (environments with a signed gate). */
  request?: { signer: string; fingerprint: string; requestedAt: string };
}

export interface ArtifactRef {
  sha256: string;
  path: string;
  sizeBytes: number;
  commit: string;
  reused: boolean;
  migrations: Array<{ id: string; phase: 'expand' | 'contract'; checksum: string }>;
  requiredConfig: string[];
}

export interface CurrentReleaseRef {
  releaseId: string;
  version: string;
  sha256: string;
}

export interface DeployStageResult {
  releaseId: string;
  noop: boolean;
  previous: CurrentReleaseRef | null;
  commands?: Array<{ argv: string[]; exitCode: number | null; output: string; durationMs: number }>;
  /** Multi-host targets: each host's result. */
  hosts?: HostOutcome[];
}

export interface Approval {
  by: string;
  at: string;
  comment?: string;
  via: 'signal' | 'update';
  /** Present when the decision was signed: who, with which key, and exactly what. */
  signature?: SignatureProof;
}

/** What a verified signature proves: `signer` (an allowed_signers principal) signed `statement` with the key `fingerprint`. */
export interface SignatureProof {
  signer: string;
  fingerprint: string;
  keyType: string;
  statement: string;
}

export interface GateState {
  stage: StageName;
  approvers: string[];
  quorum: number;
  approvals: Approval[];
  /** Distinct approvals counted so far, and how many more the quorum needs. */
  given: number;
  needed: number;
  deadline: string;
  decision?: 'approved' | 'rejected' | 'timed_out';
  rejectedBy?: { by: string; at: string; reason?: string; signature?: SignatureProof };
  /** Decisions must be signed; `sign` holds what the statement binds besides the decision and the signer. */
  signed?: boolean;
  sign?: { workflowId: string; runId: string; service: string; environment: string; version: string; artifactSha256: string | null; stage: string };
}

/** A pause of a blueGreen or canary rollout that waits for `promote`. */
export interface PromotionState {
  /** The statement's stage: `deploy:step-<n>` (a canary pause) or `deploy:switch` (blue/green). */
  stage: string;
  promoters: string[];
  signed: boolean;
  since: string;
  deadline: string;
  sign?: GateState['sign'];
}

/** Where a blueGreen or canary rollout is. */
export interface TrafficState {
  strategy: 'blueGreen' | 'canary';
  /** The new release and its internal port. */
  releaseId: string;
  port: number;
  /** Its share of new requests, in percent. */
  weight: number;
  /** The canary step being carried out (1-based; 0 before the first) of `steps`. */
  step: number;
  steps: number;
  /** What the current step does, e.g. "setWeight 50%", "pause until promoted", "promote". */
  current?: string;
  /** The stable release (null on a first deploy). */
  stable: string | null;
}

export interface TimelineEntry {
  at: string;
  kind: 'stage' | 'gate' | 'signal_refused' | 'compensation' | 'intervention' | 'note';
  stage?: string;
  event: string;
  detail?: string;
}

export interface StageRecord {
  stage: StageName | 'plan' | UndeployAction;
  status: 'running' | 'succeeded' | 'failed';
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  summary?: string;
}

export interface CompensationRecord {
  name: string;
  undoes: StageName;
  status: 'succeeded' | 'failed' | 'skipped' | 'retried';
  error?: string;
  by?: string;
  signature?: SignatureProof;
  at: string;
}

export interface DeployStatusView {
  workflowId: string;
  service?: string;
  environment?: string;
  version?: string;
  previousVersion?: string;
  requestedBy?: string;
  status: DeployStatus;
  stage: StageName | 'plan' | 'compensating' | 'done' | UndeployAction;
  /** Present on an `undeployService` run: what it does. */
  action?: UndeployAction;
  waitingFor?: string;
  pendingGate?: GateState;
  /** A paused rollout waiting for `promote`. */
  pendingPromotion?: PromotionState;
  /** blueGreen and canary: the rollout's weights and step. */
  traffic?: TrafficState;
  /** A fleet target: per-host progress (updated/total, failed, each host's status). */
  fleet?: FleetProgress;
  pendingIntervention?: { compensation: string; error: string; since: string; operators?: string[]; signed?: boolean; sign?: GateState['sign'] };
  stages: StageRecord[];
  timeline: TimelineEntry[];
  /** The timeline is a bounded ring: how many of its oldest entries were dropped. */
  droppedTimelineEntries?: number;
  /** Refused signals beyond the recorded ones, only counted. */
  refusalsNotRecorded?: number;
}

export interface DeployResult {
  workflowId: string;
  runId: string;
  service: string;
  environment: string;
  version: string;
  previousVersion?: string;
  /** Present on an `undeployService` run: what it did (`version` is the release it stopped, '' when none was live). */
  action?: UndeployAction;
  outcome: DeployStatus;
  reason?: string;
  artifactSha256?: string;
  stages: StageRecord[];
  approvals: Approval[];
  compensations: CompensationRecord[];
  health?: unknown;
  migrations?: unknown;
  /** A fleet target: each host's outcome. */
  fleet?: FleetProgress;
  timeline: TimelineEntry[];
  droppedTimelineEntries?: number;
  refusalsNotRecorded?: number;
}

// Signal, update and query payloads (checked in src/workflows/payloads.ts).
export interface ApproveSignal { by: string; comment?: string; signature?: string }
export interface RejectSignal { by: string; reason?: string; comment?: string; signature?: string }
export interface InterveneSignal { by: string; action: 'retry' | 'skip' | 'abort'; comment?: string; signature?: string }
export interface PromoteSignal { by: string; comment?: string; signature?: string }
export interface ApprovalUpdate { decision: 'approve' | 'reject'; by: string; comment?: string; signature?: string }
