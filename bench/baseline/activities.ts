/**
 * The baseline's activities: one no-op per stage of deployRelease, named like them, so the bare workflow
 * pays exactly Temporal's cost of scheduling, dispatching and recording seven activities and nothing else.
 */
async function noop(): Promise<void> {}

export const bareActivities = {
  plan: noop,
  build: noop,
  preChecks: noop,
  migrate: noop,
  deploy: noop,
  validate: noop,
  recordRelease: noop,
};

export type BareActivities = typeof bareActivities;
