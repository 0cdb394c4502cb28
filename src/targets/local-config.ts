import path from 'node:path';
import { z } from 'zod';
import { FailureType, refuse } from '../errors';
import type { ProgressReporter } from './types';

/** The data part of a local target's configuration (what a deploy spec can carry). */
export const localTargetSettingsSchema = z.strictObject({
  root: z.string().refine((p) => path.isAbsolute(p), 'must be an absolute directory path'),
  command: z
    .array(z.string().min(1, 'must not be an empty string'))
    .min(1, 'must be a non-empty argv array run from the release directory, e.g. ["node", "dist/server.js"]'),
  port: z.number().int('must be an integer').min(1, 'must be 1-65535').max(65535, 'must be 1-65535'),
  keepReleases: z.number().int('must be an integer').min(1, 'must keep at least 1 release'),
  stopTimeoutMs: z.number().int('must be an integer').min(0, 'must not be negative'),
  /** How long a started release may take to accept connections on its port before the deploy fails. */
  startTimeoutMs: z.number().int('must be an integer').min(100, 'must be at least 100').default(30_000),
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
  logsDir: string;
}

export function localLayout(root: string): LocalLayout {
  return {
    root,
    releasesDir: path.join(root, 'releases'),
    currentLink: path.join(root, 'current'),
    stateFile: path.join(root, 'deploy-state.json'),
    pidFile: path.join(root, 'service.pid'),
    logsDir: path.join(root, 'logs'),
  };
}
