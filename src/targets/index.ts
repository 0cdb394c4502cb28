import { createCommandTarget } from './command';
import type { CommandTargetConfig } from './command-config';
import { createLocalTarget, type LocalTargetDependencies } from './local';
import type { LocalTargetConfig } from './local-config';
import type { Target } from './types';

export type TargetSpec = (LocalTargetConfig & { type: 'local' }) | (CommandTargetConfig & { type: 'command' });

export interface TargetDependencies extends LocalTargetDependencies {}

/** The target a deploy spec's environment names; configuration errors are refused here, before any deploy. */
export function createTarget(spec: TargetSpec, deps: TargetDependencies = {}): Target {
  switch (spec.type) {
    case 'local': {
      const { type: _type, ...cfg } = spec;
      return createLocalTarget(cfg, deps);
    }
    case 'command': {
      const { type: _type, ...cfg } = spec;
      return createCommandTarget(cfg);
    }
  }
}

export { createCommandTarget } from './command';
export { commandTargetSettingsSchema, type CommandTargetConfig, type CommandTargetSettings } from './command-config';
export { createLocalTarget, type LocalTargetDependencies } from './local';
export { localTargetSettingsSchema, type LocalTargetConfig, type LocalTargetSettings } from './local-config';
export { PLACEHOLDERS, type Placeholder } from './placeholders';
export { releaseIdFor } from './release-id';
export type {
  CommandRecord,
  CurrentRelease,
  DeployOutcome,
  ProgressReporter,
  ReleaseToDeploy,
  RollbackOutcome,
  Target,
  TargetStatus,
} from './types';
