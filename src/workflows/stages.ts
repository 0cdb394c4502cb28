/**
 * The deploy's stages, in the order they run. The one definition: the spec's gate names, the workflow's loop
 * and the types all derive from it. Workflow-safe (no Node imports).
 */
export const STAGES = ['build', 'preChecks', 'migrate', 'deploy', 'validate'] as const;
export type StageName = (typeof STAGES)[number];

/** Stages that change the environment; a gate before the first of these protects everything. */
export const MUTATING_STAGES: readonly StageName[] = ['migrate', 'deploy'];
