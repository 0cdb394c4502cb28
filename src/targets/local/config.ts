import path from 'node:path';
import { z } from 'zod';
import { FailureType, refuse } from '../../errors';
import { absolutePath, argv, hostPath, servicePort } from '../../spec/fields';
import type { ProgressReporter } from '../types';

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

/** The factory's configuration: the same fields, an absolute root, and the runtime command. */
export const localTargetSettingsSchema = z.strictObject({
  root: absolutePath,
  command: argv,
  ...localTargetFields,
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
