import net from 'node:net';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { FailureType, refuse } from '../../errors';
import { FrontDoor, type DesiredServerInput, type FrontDoorStatus } from '../../traffic';
import { registerFrontDoor } from '../../traffic/keeper';
import { releaseProcessLayout, type LocalLayout, type LocalTargetSettings } from './config';
import { targetProcessGroups } from './ownership';
import { ensurePortFree, liveServiceProcess, reconcileServiceProcess, startServiceProcess, stopServiceProcess, waitUntilListening } from './process';
import { pruneReleases, readCurrentRelease, readReleaseMetadata, releaseDir, removeCurrent, stageRelease, swapCurrent, touchRelease, type Unpacker } from './releases';
import { readJsonFile, readTransitionState, writeFileAtomic, writeTransitionState, previousFor } from '../transition-state';
import { validateRelease, validateRollbackTarget } from '../release-id';
import type { CurrentRelease, DeployOutcome, ReleaseToDeploy, RollbackOutcome, Target, TargetStatus, TrafficControl, TrafficView } from '../types';

/**
 * A local target behind a front door: HAProxy listens on the environment's public port (`target.port`) and
 * every release runs as its own process on an internal port this target allocates (`PORT`, `{port}`). A new
 * release starts beside the current one and takes traffic only as it is shifted to it through the Runtime
 * API; the release it replaces keeps running, drained, until it is retired, so a rollback is a switch.
 *
 * State on disk, each piece written before it is acted on so a crash anywhere is finished by a retry:
 * `current` (the stable release), `run/<releaseId>.json` (its internal port), `run/<releaseId>.pid`, and the
 * front door's own record of its servers and weights (`front-door/front-door.json`).
 */
export function createTrafficTarget(
  settings: LocalTargetSettings & { frontDoor: NonNullable<LocalTargetSettings['frontDoor']> },
  layout: LocalLayout,
  unpack: Unpacker,
  report: (msg: string) => void,
): Target {
  const fd = settings.frontDoor;
  const frontDoor = new FrontDoor({
    name: fd.name,
    publicPort: settings.port,
    directory: path.join(layout.root, 'front-door'),
    healthCheck: { path: fd.healthPath, intervalMs: fd.checkIntervalMs },
    removeDrainTimeoutMs: fd.drainTimeoutMs,
    onProgress: report,
  });
  const portFile = (releaseId: string) => path.join(layout.root, 'run', `${releaseId}.json`);
  /** Lists the front door for the worker's keeper, which starts it again if it dies between deploys. */
  const register = async () => {
    if (!fd.keeperIndexDir) return;
    await registerFrontDoor(fd.keeperIndexDir, {
      name: fd.name,
      publicPort: settings.port,
      directory: frontDoor.files.directory,
      healthCheck: { path: fd.healthPath, intervalMs: fd.checkIntervalMs },
      removeDrainTimeoutMs: fd.drainTimeoutMs,
    });
  };

  /** The release's process, started on its own port unless it already runs; waits until it listens. */
  async function ensureRunning(release: CurrentRelease, runtimeEnv: Record<string, string>): Promise<{ port: number; started: boolean }> {
    const pl = releaseProcessLayout(layout, release.releaseId);
    await fs.mkdir(path.dirname(pl.pidFile), { recursive: true });
    const { live, adopted } = await reconcileServiceProcess(pl, release.releaseId, settings.stopTimeoutMs, report);
    let port = (await readJsonFile<{ port: number }>(portFile(release.releaseId)))?.port;
    if (live && port) {
      if (adopted) await waitUntilListening(pl, readiness(live.pid, port, release.releaseId), report);
      return { port, started: false };
    }
    if (!port || !(await isFree(port))) {
      port = await allocatePort();
      // Recorded before the start: a retry after a crash finds the port its (adopted) process listens on.
      await writeFileAtomic(portFile(release.releaseId), `${JSON.stringify({ port })}\n`);
    }
    const pid = await startServiceProcess(pl, { releaseId: release.releaseId, command: settings.command, port, runtimeEnv }, report);
    await waitUntilListening(pl, readiness(pid, port, release.releaseId), report);
    return { port, started: true };
  }

  function readiness(pid: number, port: number, releaseId: string) {
    return { pid, port, releaseId, timeoutMs: settings.startTimeoutMs, stopTimeoutMs: settings.stopTimeoutMs };
  }

  /** The releases that have a process or a server: their ids, with the port each one listens on. */
  async function knownReleases(): Promise<Map<string, number | null>> {
    const ids = new Map<string, number | null>();
    let files: string[] = [];
    try {
      files = await fs.readdir(path.join(layout.root, 'run'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const f of files) {
      if (!f.endsWith('.json') || f.endsWith('.starting.json')) continue;
      const id = f.slice(0, -'.json'.length);
      ids.set(id, (await readJsonFile<{ port: number }>(portFile(id)))?.port ?? null);
    }
    return ids;
  }

  /** What the front door must serve: `weights` for the releases named, every other known release drained. */
  async function desiredServers(weights: Map<string, number>): Promise<DesiredServerInput[]> {
    const known = await knownReleases();
    const recorded = (await frontDoor.recorded()) ?? [];
    const servers: DesiredServerInput[] = [];
    for (const [releaseId, weight] of weights) {
      const port = known.get(releaseId);
      if (!port) throw new Error(`release ${releaseId} has no recorded port under ${path.join(layout.root, 'run')}; start it before shifting traffic to it`);
      servers.push({ name: serverName(releaseId), port, weight, state: 'ready' });
    }
    // Releases the front door still has and that keep running (until retired) take no new requests.
    for (const s of recorded) {
      if (servers.some((x) => x.name === s.name)) continue;
      servers.push({ name: s.name, port: s.port, weight: 0, state: 'drain' });
    }
    return servers;
  }

  /** A classic service process (this environment used to run without a front door) holds the public port. */
  async function takeOverPublicPort(runtimeEnv: Record<string, string>): Promise<void> {
    const status = await frontDoor.status();
    if (status.running) return;
    const classic = await liveServiceProcess(layout);
    if (classic) {
      report(`release ${classic.releaseId} serves port ${settings.port} directly (no front door yet); moving it behind the front door`);
      const current = await readCurrentRelease(layout);
      // A copy of it starts on an internal port first; the port is free only once the old process stopped,
      // so requests are refused for as long as haproxy takes to start (once, when the front door arrives).
      if (current) await ensureRunning(current, runtimeEnv);
      await stopServiceProcess(layout, settings.stopTimeoutMs, report);
      if (current) await frontDoor.apply({ servers: await desiredServers(new Map([[current.releaseId, 100]])) });
    }
  }

  const traffic: TrafficControl = {
    async startBeside(release: ReleaseToDeploy, runtimeEnv: Record<string, string>) {
      const valid = validateRelease(release);
      await register();
      await takeOverPublicPort(runtimeEnv);
      const next = await stageRelease(layout, valid, unpack, report);
      const current = await readCurrentRelease(layout);
      const { port, started } = await ensureRunning(next, runtimeEnv);
      await touchRelease(layout, next.releaseId);
      if (current?.releaseId === next.releaseId) {
        // A stable release stopped with the front door emptied (deployctl stop) takes all requests again.
        if (!((await frontDoor.recorded()) ?? []).some((x) => x.name === serverName(next.releaseId))) {
          await frontDoor.ensureRunning();
          await frontDoor.apply({ servers: await desiredServers(new Map([[next.releaseId, 100]])) });
          report(`release ${next.releaseId} is back in the front door with all requests`);
        }
        report(`release ${next.releaseId} is already the stable release`);
        return { releaseId: next.releaseId, previous: current, port, started };
      }
      // In the front door at weight 0 (ready, checked): it is probed but takes no request yet.
      await frontDoor.ensureRunning();
      const weights = new Map<string, number>();
      if (current && (await knownReleases()).has(current.releaseId)) weights.set(current.releaseId, await currentWeight(current.releaseId, 100));
      weights.set(next.releaseId, await currentWeight(next.releaseId, 0));
      await frontDoor.apply({ servers: await desiredServers(weights) });
      return { releaseId: next.releaseId, previous: current, port, started };
    },

    async setWeight(releaseId: string, percent: number): Promise<TrafficView> {
      if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
        throw refuse(FailureType.InvalidInput, `weight ${percent} is not an integer percentage 0-100`);
      }
      const current = await readCurrentRelease(layout);
      const weights = new Map<string, number>();
      if (current && current.releaseId !== releaseId && (await knownReleases()).has(current.releaseId)) weights.set(current.releaseId, 100 - percent);
      weights.set(releaseId, percent);
      await frontDoor.apply({ servers: await desiredServers(weights) });
      report(`traffic: ${releaseId} ${percent}%${current && current.releaseId !== releaseId ? `, ${current.releaseId} ${100 - percent}%` : ''}`);
      return traffic.view();
    },

    async promote(releaseId: string) {
      const next = await readReleaseMetadata(layout, releaseId);
      if (!next) throw refuse(FailureType.RollbackRefused, `release ${releaseId} is not staged under ${layout.releasesDir}; start it before promoting it`);
      const [current, state] = await Promise.all([readCurrentRelease(layout), readTransitionState(layout.stateFile)]);
      const previous = previousFor(next, current, state);
      const startedAt = new Date().toISOString();
      await writeTransitionState(layout.stateFile, { previous, next, completed: false, startedAt });
      // All new requests to the promoted release; the one it replaces drains and keeps running until retired.
      await frontDoor.apply({ servers: await desiredServers(new Map([[releaseId, 100]])) });
      if (await swapCurrent(layout, releaseId)) report(`current -> releases/${releaseId}`);
      await writeTransitionState(layout.stateFile, { previous, next, completed: true, startedAt });
      return { previous };
    },

    async retire(): Promise<string[]> {
      const current = await readCurrentRelease(layout);
      const keep = current ? new Map([[current.releaseId, 100]]) : new Map<string, number>();
      const retired: string[] = [];
      // Out of the front door first (drained), then stopped.
      const servers = (await desiredServers(keep)).filter((s) => current !== null && s.name === serverName(current.releaseId));
      await frontDoor.apply({ servers });
      for (const releaseId of await processReleases()) {
        if (releaseId === current?.releaseId) continue;
        await stopServiceProcess(releaseProcessLayout(layout, releaseId), settings.stopTimeoutMs, report);
        await fs.rm(portFile(releaseId), { force: true });
        retired.push(releaseId);
      }
      const removed = await pruneReleases(layout, settings.keepReleases, current ? [current.releaseId] : []);
      if (removed.length > 0) report(`pruned old releases: ${removed.join(', ')}`);
      return retired;
    },

    view: () => trafficView(),
  };

  /** The front door serves nothing, and every release process is stopped (their port records go too). */
  async function stopEveryRelease(): Promise<void> {
    await frontDoor.apply({ servers: [] });
    for (const releaseId of await processReleases()) {
      await stopServiceProcess(releaseProcessLayout(layout, releaseId), settings.stopTimeoutMs, report);
      await fs.rm(portFile(releaseId), { force: true });
    }
  }

  /** Release ids with a port record or a live process of their own. */
  async function processReleases(): Promise<string[]> {
    const ids = new Set((await knownReleases()).keys());
    // A release process whose port record was never written (a crash right after the spawn) is one too.
    for (const g of targetProcessGroups(layout.releasesDir)) if (g.behindFrontDoor) ids.add(g.releaseId);
    return [...ids];
  }

  async function currentWeight(releaseId: string, fallback: number): Promise<number> {
    const recorded = await frontDoor.recorded();
    const s = recorded?.find((x) => x.name === serverName(releaseId));
    return s && s.state === 'ready' ? s.weight : fallback;
  }

  async function trafficView(): Promise<TrafficView> {
    const [status, current, known] = await Promise.all([frontDoor.status(), readCurrentRelease(layout), knownReleases()]);
    return viewOf(status, current?.releaseId ?? null, known);
  }

  return {
    traffic,

    async deploy(release, runtimeEnv): Promise<DeployOutcome> {
      const started = await traffic.startBeside(release, runtimeEnv);
      if (started.previous?.releaseId === started.releaseId && !started.started) {
        await frontDoor.ensureRunning();
        return { releaseId: started.releaseId, noop: true, previous: started.previous };
      }
      const { previous } = await traffic.promote(started.releaseId);
      return { releaseId: started.releaseId, noop: false, previous };
    },

    current: () => readCurrentRelease(layout),

    async rollback(to, runtimeEnv): Promise<RollbackOutcome> {
      if (to === null) {
        await stopEveryRelease();
        await removeCurrent(layout);
        report('service stopped, front door empty and current removed');
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
      // Still running (drained, or the stable side of a canary): the rollback is a switch, no process starts.
      const { started } = await ensureRunning(staged, runtimeEnv);
      report(started ? `release ${staged.releaseId} was not running; started it again` : `release ${staged.releaseId} still runs: switching traffic back to it`);
      await traffic.promote(staged.releaseId);
      await traffic.retire();
      return { restored: staged };
    },

    // deployctl stop: nothing runs and `current` stays; a deploy of it starts it again behind the front door.
    async stop(): Promise<void> {
      await stopEveryRelease();
      report('every release stopped and the front door empty; current kept');
    },

    async preflight(): Promise<string> {
      const status = await frontDoor.status();
      if (status.running) return `front door on port ${settings.port} runs (haproxy pid ${status.pid}), serving ${status.recorded.length} release(s)`;
      if (status.recorded.length > 0) {
        // A crashed or killed haproxy: brought back to exactly what it served (its record), as any traffic step would.
        const restored = await frontDoor.ensureRunning();
        return `front door on port ${settings.port} was down; started again from its record (haproxy pid ${restored.pid}, ${restored.recorded.length} release(s))`;
      }
      const classic = await liveServiceProcess(layout);
      if (classic) return `port ${settings.port} is served directly by release ${classic.releaseId} (pid ${classic.pid}); the deploy moves it behind a front door`;
      await ensurePortFree(settings.port, 0);
      return `port ${settings.port} is free for the front door`;
    },

    async status(): Promise<TargetStatus> {
      const current = await readCurrentRelease(layout);
      // Behind the front door, or still on the port itself (an environment that used replace until now).
      const live = current
        ? ((await liveServiceProcess(releaseProcessLayout(layout, current.releaseId))) ??
          (await liveServiceProcess(layout).then((p) => (p?.releaseId === current.releaseId ? p : null))))
        : null;
      const view = await trafficView();
      return { current, running: live !== null, ...(live ? { pid: live.pid } : {}), traffic: view };
    },
  };
}

/** HAProxy server names are narrow words: `r-` and the release id with every other character as `-`. */
export function serverName(releaseId: string): string {
  return `r-${releaseId.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`.slice(0, 63).replace(/-+$/, '');
}

function viewOf(status: FrontDoorStatus, currentId: string | null, known: Map<string, number | null>): TrafficView {
  const byName = new Map([...known.keys()].map((id) => [serverName(id), id]));
  return {
    publicPort: status.publicPort,
    frontDoorRunning: status.running,
    releases: status.recorded.map((s) => {
      const live = status.servers.find((x) => x.name === s.name);
      const releaseId = byName.get(s.name) ?? s.name;
      return {
        releaseId,
        port: s.port,
        weight: s.weight,
        state: s.state,
        up: live?.operational === 'running',
        stable: releaseId === currentId,
      };
    }),
  };
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port nothing listens on, from the kernel's ephemeral range. */
function allocatePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
