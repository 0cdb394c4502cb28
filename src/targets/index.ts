export { createTarget, defaultHealthUrl, describeTarget, targetPlan, targetSpecSchema, TARGET_TYPES } from './registry';
export type { TargetDescription, TargetPlan, TargetSpec, TargetType } from './registry';
export type { TargetContext, TargetKind, TargetPlanContext } from './kind';
export { createCommandTarget, commandTargetSettingsSchema, PLACEHOLDERS, type CommandTargetConfig, type CommandTargetSettings, type Placeholder } from './command';
export { createLocalTarget, localTargetSettingsSchema, type LocalTargetConfig, type LocalTargetDependencies, type LocalTargetSettings } from './local';
export { releaseIdFor } from './release-id';
export type {
  CommandRecord,
  CurrentRelease,
  DeployOutcome,
  HostOutcome,
  HostStatus,
  ProgressReporter,
  ReleaseToDeploy,
  RollbackOutcome,
  Target,
  TargetStatus,
} from './types';
