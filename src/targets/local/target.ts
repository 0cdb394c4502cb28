import { promises as fs } from 'node:fs';
import { unpackArtifact } from '../../artifacts';
import { FailureType, refuse } from '../../errors';
import { localLayout, parseLocalTargetConfig, type LocalLayout, type LocalTargetConfig, type LocalTargetSettings } from './config';
import { createTrafficTarget } from './traffic';
import { HAS_PROC, portOwners, targetProcessGroups } from './ownership';
import { ensurePortFree, liveServiceProcess, reconcileServiceProcess, startServiceProcess, stopServiceProcess, waitUntilListening } from './process';
import {
  pruneReleases,
  readCurrentRelease,
  readReleaseMetadata,
  releaseDir,
  removeCurrent,
  stageRelease,
  swapCurrent,
  touchRelease,
  type Unpacker,
} from './releases';
import { validateRelease, validateRollbackTarget } from '../release-id';
import { isUnfinished, previousFor, readTransitionState, writeTransitionState } from '../transition-state';
import type { CurrentRelease, DeployOutcome, RollbackOutcome, Target, TargetStatus } from '../types';

export interface LocalTargetDependencies {
  /** Unpacks a .tar.gz artifact into a directory; defaults to the artifacts module's. */
  unpack?: Unpacker;
}

/**
 * A release directory per version under `<root>/releases/`, an atomic `current` symlink, and one supervised
 * process started detached (its own process group) so it outlives the worker that started it.
 */
export function createLocalTarget(cfg: LocalTargetConfig, deps: LocalTargetDependencies = {}): Target {
  const settings = parseLocalTargetConfig(cfg);
  const layout = localLayout(settings.root);
  const report = cfg.onProgress ?? (() => {});
  const unpack = deps.unpack ?? unpackArtifact;
  if (settings.frontDoor) return createTrafficTarget({ ...settings, frontDoor: settings.frontDoor }, layout, unpack, report);

  return {
    async deploy(release, runtimeEnv): Promise<DeployOutcome> {
      const valid = validateRelease(release);
      const next = await stageRelease(layout, valid, unpack, report);
      const { noop, previous } = await activate(layout, settings, next, runtimeEnv, report);
      return { releaseId: next.releaseId, noop, previous };
    },

    current: () => readCurrentRelease(layout),

    async rollback(to, runtimeEnv): Promise<RollbackOutcome> {
      if (to === null) {
        await clear(layout, settings, report);
        return { restored: null };
      }
      const target = validateRollbackTarget(to);
      const staged = await readReleaseMetadata(layout, target.releaseId);
      if (!staged || staged.sha256 !== target.sha256) {
        throw refuse(
          FailureType.RollbackRefused,
          `cannot roll back to release ${target.releaseId}: ${releaseDir(layout, target.releaseId)} no longer exists (pruned, or never deployed on this target); deploy version ${target.version} again instead`,
        );
      }
      await activate(layout, settings, staged, runtimeEnv, report);
      return { restored: staged };
    },

    async stop(): Promise<void> {
      await stopServiceProcess(layout, settings.stopTimeoutMs, report);
      report('service stopped; current kept');
    },

    async preflight(): Promise<string> {
      const live = await liveServiceProcess(layout);
      if (live) return `port ${settings.port} is served by this target's release ${live.releaseId} (pid ${live.pid})`;
      // An unrecorded release of this target (a worker killed between spawn and pidfile) is adopted by the deploy.
      const ours = new Set(HAS_PROC ? targetProcessGroups(layout.releasesDir).map((g) => g.pgrp) : []);
      if (HAS_PROC && portOwners(settings.port).holders.some((h) => ours.has(h.pgrp))) return `port ${settings.port} is held by an unrecorded release of this target (the deploy adopts or replaces it)`;
      await ensurePortFree(settings.port, 0);
      return `port ${settings.port} is free`;
    },

    async status(): Promise<TargetStatus> {
      const [current, live] = await Promise.all([readCurrentRelease(layout), liveServiceProcess(layout)]);
      const running = live !== null && current !== null && live.releaseId === current.releaseId;
      return live ? { current, running, pid: live.pid } : { current, running };
    },
  };
}

/**
 * Makes `next` current and running. Records the transition before swapping, so a retry after a crash
 * anywhere below reports the same `previous`; a release already current and running is left alone.
 */
async function activate(
  layout: LocalLayout,
  settings: LocalTargetSettings,
  next: CurrentRelease,
  runtimeEnv: Record<string, string>,
  report: (msg: string) => void,
): Promise<{ noop: boolean; previous: CurrentRelease | null }> {
  const [current, state] = await Promise.all([readCurrentRelease(layout), readTransitionState(layout.stateFile)]);
  const previous = previousFor(next, current, state);
  // A process this target started may run unrecorded (its worker was killed right after the spawn): the one
  // running `current` is taken over (it was started after `current` was swapped), any other is stopped.
  const { live, adopted } = await reconcileServiceProcess(layout, current?.releaseId ?? null, settings.stopTimeoutMs, report);

  if (current?.releaseId === next.releaseId && live?.releaseId === next.releaseId) {
    // Its start was never confirmed (adopted, or the deploy that started it was cut off while it waited for
    // the release to listen): it must still prove it listens, as a freshly started release does, and the
    // retry reports the change the first attempt made rather than a no-op.
    const unfinished = isUnfinished(next, state);
    if (adopted || unfinished) {
      await waitUntilListening(layout, readiness(settings, live.pid, next.releaseId), report);
      if (state && unfinished) await writeTransitionState(layout.stateFile, { ...state, completed: true });
      return { noop: false, previous };
    }
    report(`release ${next.releaseId} is already current and running as pid ${live.pid}; nothing to do`);
    return { noop: true, previous };
  }

  // Refuse before changing anything when the port is held by a process that is not our release.
  if (!live) await ensurePortFree(settings.port, 0);
  const startedAt = new Date().toISOString();
  await writeTransitionState(layout.stateFile, { previous, next, completed: false, startedAt });
  if (await swapCurrent(layout, next.releaseId)) report(`current -> releases/${next.releaseId}`);
  await touchRelease(layout, next.releaseId);
  await stopServiceProcess(layout, settings.stopTimeoutMs, report);
  await ensurePortFree(settings.port, settings.stopTimeoutMs);
  const pid = await startServiceProcess(
    layout,
    { releaseId: next.releaseId, command: settings.command, port: settings.port, runtimeEnv },
    report,
  );
  await waitUntilListening(layout, readiness(settings, pid, next.releaseId), report);
  await writeTransitionState(layout.stateFile, { previous, next, completed: true, startedAt });

  const keep = [next.releaseId, ...(previous ? [previous.releaseId] : [])];
  const removed = await pruneReleases(layout, settings.keepReleases, keep);
  if (removed.length > 0) report(`pruned old releases: ${removed.join(', ')}`);
  return { noop: false, previous };
}

function readiness(settings: LocalTargetSettings, pid: number, releaseId: string) {
  return { pid, port: settings.port, releaseId, timeoutMs: settings.startTimeoutMs, stopTimeoutMs: settings.stopTimeoutMs };
}

/** Rollback to nothing (the first deploy failed): stop the service and remove `current`. */
async function clear(layout: LocalLayout, settings: LocalTargetSettings, report: (msg: string) => void): Promise<void> {
  const [current, state] = await Promise.all([readCurrentRelease(layout).catch(() => null), readTransitionState(layout.stateFile)]);
  // Same rule as previousFor: a retried clear still reports what was current before the first attempt.
  const previous = state && state.next === null && (!state.completed || current === null) ? state.previous : current;
  const startedAt = new Date().toISOString();
  await fs.mkdir(layout.root, { recursive: true });
  await writeTransitionState(layout.stateFile, { previous, next: null, completed: false, startedAt });
  await stopServiceProcess(layout, settings.stopTimeoutMs, report);
  await removeCurrent(layout);
  await writeTransitionState(layout.stateFile, { previous, next: null, completed: true, startedAt });
  report('service stopped and current removed');
}
