/** The release a target is asked to run. Names and references only: no configuration values. */
export interface ReleaseToDeploy {
  service: string;
  environment: string;
  version: string;
  sha256: string;
  /** A .tar.gz artifact on the worker's file system. */
  artifactPath: string;
}

export interface CurrentRelease {
  /** `<version>-<first 12 hex of sha256>`: the release directory name on local targets. */
  releaseId: string;
  version: string;
  sha256: string;
}

export interface DeployOutcome {
  releaseId: string;
  /** The release was already current and running: nothing was changed or restarted. */
  noop: boolean;
  /**
   * What was current before this release was activated (null on the first deploy). A repeated deploy of
   * the same release (an activity retry after a crash) reports the same `previous` as the first attempt.
   */
  previous: CurrentRelease | null;
  /** Command target: what ran. */
  commands?: CommandRecord[];
  /** Multi-host targets: each host's result (a deploy succeeds only when every host is on `releaseId`). */
  hosts?: HostOutcome[];
}

/** One host's part in a deploy across several hosts. */
export interface HostOutcome {
  host: string;
  /** updated: now runs the release; unchanged: already did; failed: did not get it (see error); rolled_back: got it and was put back. */
  status: 'updated' | 'unchanged' | 'failed' | 'rolled_back';
  releaseId: string | null;
  previous: CurrentRelease | null;
  error?: string;
}

/** One host's view of the target. */
export interface HostStatus {
  host: string;
  current: CurrentRelease | null;
  running: boolean;
  pid?: number;
  /** false when the host could not be asked (its agent is down); current/running are then unknown. */
  reachable: boolean;
}

export interface CommandRecord {
  argv: string[];
  /** null when the command was killed (timeout) or could not be started. */
  exitCode: number | null;
  /** stdout and stderr, last ~2 KB, with runtime configuration values redacted. */
  output: string;
  durationMs: number;
}

export interface TargetStatus {
  current: CurrentRelease | null;
  /** The current release's process (or platform service) is running. */
  running: boolean;
  /** Local target: the live supervised process, even when it still runs a release other than `current`. */
  pid?: number;
  /** Multi-host targets: every host (then `current` is the release all of them run, or null when they differ). */
  hosts?: HostStatus[];
  /** Targets behind a front door: which releases it serves, with their weights. */
  traffic?: TrafficView;
}

/** One release in a front door. */
export interface TrafficRelease {
  releaseId: string;
  /** Its internal port. */
  port: number;
  /** Its share of new requests: a percentage 0-100 (of the releases that are ready and up). */
  weight: number;
  /** ready: takes its share · drain: no new requests (kept running until retired) · maint: none at all. */
  state: 'ready' | 'drain' | 'maint';
  /** The front door's own readiness check passes (false while it fails: it then takes no request). */
  up: boolean;
  /** It is `current`: the stable release. */
  stable: boolean;
}

export interface TrafficView {
  publicPort: number;
  frontDoorRunning: boolean;
  releases: TrafficRelease[];
}

/**
 * Progressive delivery on a target behind a front door. Every method is idempotent: recorded first, then
 * carried out, so a retry after a crash finishes what was started.
 */
export interface TrafficControl {
  /** Stages `release` and starts it beside the stable one on its own port, in the front door at weight 0. */
  startBeside(
    release: ReleaseToDeploy,
    runtimeEnv: Record<string, string>,
  ): Promise<{ releaseId: string; previous: CurrentRelease | null; port: number; started: boolean }>;
  /** Gives `releaseId` `percent` of new requests and the stable release the rest. */
  setWeight(releaseId: string, percent: number): Promise<TrafficView>;
  /** Makes `releaseId` the stable release with all new requests; the one it replaces drains and keeps running. */
  promote(releaseId: string): Promise<{ previous: CurrentRelease | null }>;
  /** Stops every release but the stable one (out of the front door first); returns their ids. */
  retire(): Promise<string[]>;
  view(): Promise<TrafficView>;
}

export interface RollbackOutcome {
  restored: CurrentRelease | null;
  commands?: CommandRecord[];
}

export type ProgressReporter = (message: string) => void;

/**
 * Where releases run. `runtimeEnv` holds runtime configuration values (secrets): targets hand them to the
 * service's process or the operator's commands as environment variables and nowhere else.
 */
export interface Target {
  /** Stage, activate and (re)start `release`. Safe to call again after a crash at any point. */
  deploy(release: ReleaseToDeploy, runtimeEnv: Record<string, string>): Promise<DeployOutcome>;
  current(): Promise<CurrentRelease | null>;
  /** Restore `to` (null: stop the service and clear `current`). */
  rollback(to: CurrentRelease | null, runtimeEnv: Record<string, string>): Promise<RollbackOutcome>;
  /**
   * Stops the current release's process and keeps `current`, so a later deploy of the same release starts it
   * again. Kinds that leave it out cannot stop without undeploying (`rollback(null)`).
   */
  stop?(): Promise<void>;
  status(): Promise<TargetStatus>;
  /**
   * Pre-checks: can the target take a deploy right now, before anything changes? Resolves with a one-line
   * summary, rejects naming what stands in the way (e.g. a stranger on the local target's port).
   */
  preflight?(): Promise<string>;
  /** Present on targets behind a front door (blue/green and canary strategies). */
  traffic?: TrafficControl;
}
