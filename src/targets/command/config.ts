import { z } from 'zod';
import { FailureType, refuse } from '../../errors';
import { environmentName, serviceName } from '../../names';
import { absolutePath, argv } from '../../spec/fields';
import { checkPlaceholders, placeholderProblems, PLACEHOLDERS, type Placeholder } from './placeholders';
import type { ProgressReporter } from '../types';

/** The commands and their timeout, defined once for the spec and the factory. */
const commandTargetFields = {
  deploy: argv,
  activate: argv.optional(),
  current: argv,
  rollback: argv,
  timeoutMs: z.number().int('must be an integer').min(1, 'must be at least 1 ms').max(24 * 3600 * 1000).default(300_000),
};

const COMMANDS = ['deploy', 'activate', 'current', 'rollback'] as const;

/** `environments.<env>.target` when `type: command`; placeholders are checked here, before any build. */
export const commandTargetSpecSchema = z.strictObject({ type: z.literal('command'), ...commandTargetFields }).superRefine((t, ctx) => {
  // A deploy from a spec always knows its service and environment (the plan passes both to the target).
  const known = { service: 'service', environment: 'environment' } as CommandTargetSettings;
  for (const name of COMMANDS) {
    const template = t[name];
    if (!template) continue;
    for (const p of placeholderProblems(name, template, placeholdersFor(name, known))) {
      ctx.addIssue({ code: 'custom', path: [name, p.index], message: p.message });
    }
  }
});
export type CommandTargetSpec = z.infer<typeof commandTargetSpecSchema>;

/** The factory's configuration: the same commands, the working directory, and whose deploys it takes. */
export const commandTargetSettingsSchema = z.strictObject({
  ...commandTargetFields,
  workDir: absolutePath,
  /** When given, {service}/{environment} can be used in `current` and `rollback`, and deploys of other services are refused. */
  service: serviceName.optional(),
  environment: environmentName.optional(),
});

export type CommandTargetSettings = z.infer<typeof commandTargetSettingsSchema>;

export interface CommandTargetConfig extends z.input<typeof commandTargetSettingsSchema> {
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
  for (const name of COMMANDS) {
    const template = valid[name];
    if (template) checkPlaceholders(name, template, placeholdersFor(name, valid));
  }
  return valid;
}
