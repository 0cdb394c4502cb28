import path from 'node:path';
import { z } from 'zod';
import { FailureType, refuse } from '../../errors';
import { absolutePath, argv, hostPath, servicePort } from '../../spec/fields';
import type { ProgressReporter } from '../types';
import { trafficName } from '../../traffic/schema';
import { healthCheckSchema } from '../../traffic/haproxy/config';

const maxMs = 24 * 3600 * 1000;

/**
 * A local target's settings, defined once: the spec's `target` section (below, with `type` and a root that
 * may be relative) and the factory's configuration are both built from these fields, so the two can never
 * disagree about what is valid.
 */
export const localTargetFields = {
  port: servicePort,
  /** Release directories kept on disk (the current and the previous one are always kept). */
  keepReleases: z.number().int('must be an integer').min(1, 'must keep at least 1 release').max(100).default(5),
  /** How long a stopping release gets between SIGTERM and SIGKILL. */
  stopTimeoutMs: z.number().int('must be an integer').min(0, 'must not be negative').max(maxMs).default(5_000),
  /** How long a started release may take to accept connections on its port before the deploy fails. */
  startTimeoutMs: z.number().int('must be an integer').min(100, 'must be at least 100').max(maxMs).default(30_000),
};

/** `environments.<env>.target` when `type: local`. */
export const localTargetSpecSchema = z.strictObject({ type: z.literal('local'), root: hostPath, ...localTargetFields });
export type LocalTargetSpec = z.infer<typeof localTargetSpecSchema>;

/**
 * Behind a front door (the environment's strategy is blueGreen or canary): HAProxy on `port`, releases on
 * internal ports. Set by the plan from the strategy, never by the spec's target section.
 */
export const frontDoorSettingsSchema = z.strictObject({
  /** The front door's name, e.g. "hello-service-staging". */
  name: trafficName,
  /** HAProxy's readiness check of each release (the spec's health path). */
  healthPath: healthCheckSchema.shape.path,
  checkIntervalMs: z.number().int().min(100).max(60_000).default(500),
  /** How long a release leaving the front door may take to finish its requests. */
  drainTimeoutMs: z.number().int('must be an integer').min(0, 'must not be negative').max(maxMs).default(30_000),
  /** The worker's list of front doors it keeps up between deploys (src/traffic/keeper.ts); absent: not listed. */
  keeperIndexDir: absolutePath.optional(),
});
export type FrontDoorSettings = z.infer<typeof frontDoorSettingsSchema>;

/** The factory's configuration: the same fields, an absolute root, and the runtime command. */
export const localTargetSettingsSchema = z.strictObject({
  root: absolutePath,
  command: argv,
  ...localTargetFields,
  frontDoor: frontDoorSettingsSchema.optional(),
});

export type LocalTargetSettings = z.infer<typeof localTargetSettingsSchema>;

export interface LocalTargetConfig extends z.input<typeof localTargetSettingsSchema> {
  onProgress?: ProgressReporter;
}

export function parseLocalTargetConfig(cfg: LocalTargetConfig): LocalTargetSettings {
  const { onProgress: _onProgress, ...settings } = cfg;
  const parsed = localTargetSettingsSchema.safeParse(settings);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `target.${i.path.join('.') || '(config)'} ${i.message}`);
    throw refuse(FailureType.SpecInvalid, `local target configuration is invalid: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** Where everything of one local target lives. */
export interface LocalLayout {
  root: string;
  releasesDir: string;
  currentLink: string;
  stateFile: string;
  pidFile: string;
  /** Written before a release process is spawned, removed once its pid is in the pidfile. */
  startFile: string;
  logsDir: string;
  /**
   * Behind a front door every release runs as its own process with its own pidfile: this layout then
   * covers only the process of release `only` (see releaseProcessLayout). Absent: the one service process.
   */
  only?: string;
}

export function localLayout(root: string): LocalLayout {
  return {
    root,
    releasesDir: path.join(root, 'releases'),
    currentLink: path.join(root, 'current'),
    stateFile: path.join(root, 'deploy-state.json'),
    pidFile: path.join(root, 'service.pid'),
    startFile: path.join(root, 'service.starting.json'),
    logsDir: path.join(root, 'logs'),
  };
}

/** The process files of one release behind a front door: `<root>/run/<releaseId>.pid` and its start intent. */
export function releaseProcessLayout(layout: LocalLayout, releaseId: string): LocalLayout {
  const run = path.join(layout.root, 'run');
  return { ...layout, pidFile: path.join(run, `${releaseId}.pid`), startFile: path.join(run, `${releaseId}.starting.json`), only: releaseId };
}
