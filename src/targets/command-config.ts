import path from 'node:path';
import { z } from 'zod';
import { FailureType, refuse } from '../errors';
import { environmentName, serviceName } from '../names';
import { checkPlaceholders, PLACEHOLDERS, type Placeholder } from './placeholders';
import type { ProgressReporter } from './types';

const argv = z
  .array(z.string())
  .min(1, 'must be a non-empty argv array, e.g. ["kubectl", "rollout", "status", "deploy/{service}"]')
  .refine((a) => a[0]!.length > 0, 'must start with a program name');

/** The data part of a command target's configuration. */
export const commandTargetSettingsSchema = z.strictObject({
  deploy: argv,
  activate: argv.optional(),
  current: argv,
  rollback: argv,
  timeoutMs: z.number().int('must be an integer').min(1, 'must be at least 1 ms'),
  workDir: z.string().refine((p) => path.isAbsolute(p), 'must be an absolute directory path'),
  /** When given, {service}/{environment} can be used in `current` and `rollback`, and deploys of other services are refused. */
  service: serviceName.optional(),
  environment: environmentName.optional(),
});

export type CommandTargetSettings = z.infer<typeof commandTargetSettingsSchema>;

export interface CommandTargetConfig extends CommandTargetSettings {
  onProgress?: ProgressReporter;
}

export type CommandName = 'deploy' | 'activate' | 'current' | 'rollback';

/**
 * What each command can be told. `current` runs without a release; `rollback` gets the release to restore
 * ({version} {sha256} {releaseId}) and {previousVersion}, the version it replaces.
 */
export function placeholdersFor(command: CommandName, settings: CommandTargetSettings): readonly Placeholder[] {
  const identity: Placeholder[] = [
    ...(settings.service ? (['service'] as const) : []),
    ...(settings.environment ? (['environment'] as const) : []),
  ];
  switch (command) {
    case 'deploy':
    case 'activate':
      return PLACEHOLDERS;
    case 'rollback':
      return [...identity, 'version', 'sha256', 'releaseId', 'previousVersion'];
    case 'current':
      return identity;
  }
}

export function parseCommandTargetConfig(cfg: CommandTargetConfig): CommandTargetSettings {
  const { onProgress: _onProgress, ...settings } = cfg;
  const parsed = commandTargetSettingsSchema.safeParse(settings);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `target.${i.path.join('.') || '(config)'} ${i.message}`);
    throw refuse(FailureType.SpecInvalid, `command target configuration is invalid: ${problems.join('; ')}`);
  }
  const valid = parsed.data;
  for (const name of ['deploy', 'activate', 'current', 'rollback'] as const) {
    const template = valid[name];
    if (template) checkPlaceholders(name, template, placeholdersFor(name, valid));
  }
  return valid;
}
