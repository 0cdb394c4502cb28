import type { HostRelease, HostReleaseRef, HostRuntime } from '../../agent/contract';
import type { HealthPlan } from '../types';

/** Where a fleet's front door lives (what the front-door activities need; no host list). */
export interface FleetDoorRef {
  root: string;
  drainTimeoutMs: number;
  frontDoor: { name: string; port: number; healthPath: string; checkIntervalMs: number };
}

/** What every host of a batch shares; each host adds its name and port. */
export interface FleetCommon {
  release: HostRelease;
  runtime: Omit<HostRuntime, 'host' | 'port'>;
  health: HealthPlan;
  door?: FleetDoorRef;
  /** schedule-to-close of each host operation: an agent dead for longer fails its host. */
  hostTimeoutMs: number;
  heartbeatTimeoutMs: number;
}

/** Input of `deployFleetBatch`: one batch of the rollout. */
export interface FleetBatchJob {
  common: FleetCommon;
  batch: number;
  batches: number;
  hosts: Array<{ name: string; port: number }>;
  /** The release the fleet ran before (a failed host whose agent never reported is put back on it). */
  fleetPrevious: HostReleaseRef | null;
}

/** Input of `deployFleetHost`: one host. */
export interface FleetHostJob {
  common: FleetCommon;
  host: { name: string; port: number };
}

/** Input of `rollbackFleetHosts`: hosts put back, one after the other, in the order given. */
export interface FleetRollbackJob {
  common: FleetCommon;
  hosts: Array<{ name: string; port: number; to: HostReleaseRef | null }>;
}

/** One host's part, as the rollout keeps it (the status query's host table). */
export interface FleetHostState {
  host: string;
  status: 'pending' | 'deploying' | 'updated' | 'unchanged' | 'failed' | 'rolling_back' | 'rolled_back' | 'rollback_failed';
  batch: number;
  releaseId?: string;
  /** What it ran before this deploy (null: nothing; absent: not known, the agent never answered). */
  previous?: HostReleaseRef | null;
  error?: string;
}

/** The rollout across a fleet, as the status query shows it. */
export interface FleetProgress {
  total: number;
  updated: number;
  failed: number;
  rolledBack: number;
  batch: number;
  batches: number;
  batchSize: number;
  maxFailedHosts: number;
  hosts: FleetHostState[];
}

/** What a host child workflow returns, or carries in its failure's details. */
export interface FleetHostResult {
  host: string;
  status: 'updated' | 'unchanged' | 'failed';
  releaseId?: string;
  previous?: HostReleaseRef | null;
  error?: string;
}
