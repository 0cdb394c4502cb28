import { buildActivity } from './build';
import type { ActivityDeps } from './context';
import { deployActivity, rollbackDeployActivity } from './deploy';
import { fleetActivities } from './fleet';
import { migrateActivity } from './migrate';
import { planActivity } from './plan';
import { preChecksActivity } from './pre-checks';
import { recordReleaseActivity } from './record-release';
import { analyzeReleaseActivity, promoteReleaseActivity, retireReleasesActivity, shiftTrafficActivity, startReleaseActivity } from './traffic';
import { planUndeployActivity, stopServiceActivity } from './undeploy';
import { validateActivity } from './validate';

export type { ActivityDeps } from './context';

/** The activities, named as they appear in history (the contract's names). */
export function createActivities(deps: ActivityDeps) {
  return {
    plan: planActivity(deps),
    build: buildActivity(deps),
    preChecks: preChecksActivity(deps),
    migrate: migrateActivity(deps),
    deploy: deployActivity(deps),
    validate: validateActivity(deps),
    rollbackDeploy: rollbackDeployActivity(deps),
    recordRelease: recordReleaseActivity(deps),
    startRelease: startReleaseActivity(deps),
    shiftTraffic: shiftTrafficActivity(deps),
    analyzeRelease: analyzeReleaseActivity(deps),
    promoteRelease: promoteReleaseActivity(deps),
    retireReleases: retireReleasesActivity(deps),
    // undeployService (stop / undeploy)
    planUndeploy: planUndeployActivity(deps),
    stopService: stopServiceActivity(deps),
    // fleets: the front door and the record; the hosts' own work runs on their agents (src/agent/)
    ...fleetActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
