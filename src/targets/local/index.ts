import path from 'node:path';
import { frontDoorIndexDir } from '../../traffic/keeper';
import type { TargetKind } from '../kind';
import { localTargetSpecSchema, type FrontDoorSettings } from './config';
import { createLocalTarget } from './target';

/** The local target's plan: its settings with an absolute root, and the runtime command it starts. */
export interface LocalTargetPlan {
  type: 'local';
  root: string;
  port: number;
  keepReleases: number;
  stopTimeoutMs: number;
  startTimeoutMs?: number;
  command: string[];
  /** Behind an HAProxy front door on `port` (blueGreen and canary); absent: the release listens on `port` itself. */
  frontDoor?: FrontDoorSettings;
}

/**
 * Releases under `<root>/releases/`, an atomic `current` symlink and one supervised process on this
 * machine, started detached so it outlives the worker.
 */
export const localKind: TargetKind<typeof localTargetSpecSchema, LocalTargetPlan> = {
  type: 'local',
  specSchema: localTargetSpecSchema,
  supportsFrontDoor: true,
  defaultHealthUrl: (t, path) => `http://127.0.0.1:${t.port}${path}`,
  toPlan: (t, ctx) => ({
    type: 'local',
    root: ctx.resolvePath(t.root),
    port: t.port,
    keepReleases: t.keepReleases,
    stopTimeoutMs: t.stopTimeoutMs,
    startTimeoutMs: t.startTimeoutMs,
    command: ctx.runtimeCommand,
    ...(ctx.frontDoor ? { frontDoor: { name: ctx.frontDoor.name, healthPath: ctx.frontDoor.healthPath, checkIntervalMs: 500, drainTimeoutMs: 30_000 } } : {}),
  }),
  create: (p, ctx) =>
    createLocalTarget({
      root: p.root,
      command: p.command,
      port: p.port,
      keepReleases: p.keepReleases,
      stopTimeoutMs: p.stopTimeoutMs,
      startTimeoutMs: p.startTimeoutMs,
      ...(p.frontDoor ? { frontDoor: { ...p.frontDoor, keeperIndexDir: frontDoorIndexDir(path.resolve(ctx.dataDir)) } } : {}),
      onProgress: ctx.onProgress,
    }),
  describe: {
    summary: (p) =>
      `local: \`${p.root}\`, ${p.frontDoor ? `front door (HAProxy) on port ${p.port}, releases on internal ports` : `port ${p.port}`}, keeps ${p.keepReleases} releases`,
    deployStage: (p) =>
      p.frontDoor
        ? `unpacks the release under \`${p.root}/releases/\` and starts it beside the current one on an internal port of its own (\`PORT\`, \`{port}\`); traffic moves to it through the front door on port ${p.port} as the strategy says (see [Traffic](#traffic)), and \`current\` points to it once it takes all traffic. Deploying the release that already takes all traffic is a no-op.`
        : `unpacks the release under \`${p.root}/releases/\`, swaps the \`current\` symlink atomically and (re)starts the service detached on port ${p.port} (a graceful stop gets ${p.stopTimeoutMs} ms, then the old process is killed); the last ${p.keepReleases} releases are kept; deploying the release that already runs is a no-op.`,
    inspectCommands: (p) => [
      `ls -l ${p.root}/current ${p.root}/releases`,
      ...(p.frontDoor ? [`node -e 'const c=require("net").connect(process.argv[1]);c.end("show servers state releases\\n");c.pipe(process.stdout)' ${p.root}/front-door/haproxy.sock`, `cat ${p.root}/front-door/front-door.json`] : []),
    ],
    diskPath: (p) => p.root,
    requiresRunningCurrent: true,
  },
};

export { createLocalTarget, type LocalTargetDependencies } from './target';
export { localLayout, localTargetSettingsSchema, localTargetSpecSchema, type LocalTargetConfig, type LocalTargetSettings } from './config';
