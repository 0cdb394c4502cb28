import path from 'node:path';
import { FailureType, refuse } from '../../errors';
import { FrontDoor, findHaproxy } from '../../traffic';
import { registerFrontDoor } from '../../traffic/keeper';
import type { HostStatus, Target, TargetStatus } from '../types';
import { readFleetState } from './state';
import type { FleetTargetPlan } from './index';

/** The fleet's front door: one HAProxy server per host, files under `<root>/front-door/`. */
export function fleetFrontDoor(plan: Pick<FleetTargetPlan, 'root' | 'drainTimeoutMs' | 'frontDoor'>, onProgress?: (message: string) => void): FrontDoor | null {
  const fd = plan.frontDoor;
  if (!fd) return null;
  return new FrontDoor({
    name: fd.name,
    publicPort: fd.port,
    directory: path.join(plan.root, 'front-door'),
    healthCheck: { path: fd.healthPath, intervalMs: fd.checkIntervalMs },
    removeDrainTimeoutMs: plan.drainTimeoutMs,
    onProgress,
  });
}

/** Starts the fleet's front door with every host as a server (new hosts enter in maintenance) and lists it for the keeper. */
export async function ensureFleetFrontDoor(plan: FleetTargetPlan, keeperIndexDir: string | undefined, onProgress?: (message: string) => void): Promise<void> {
  const door = fleetFrontDoor(plan, onProgress);
  if (!door || !plan.frontDoor) return;
  await door.ensureServers(plan.hosts, 'maint');
  if (keeperIndexDir) {
    await registerFrontDoor(keeperIndexDir, {
      name: plan.frontDoor.name,
      publicPort: plan.frontDoor.port,
      directory: door.files.directory,
      healthCheck: { path: plan.frontDoor.healthPath, intervalMs: plan.frontDoor.checkIntervalMs },
      removeDrainTimeoutMs: plan.drainTimeoutMs,
    });
  }
}

const RUNS_AS_CHILD_WORKFLOWS =
  'a fleet is deployed and rolled back host by host through its agents (child workflows of the deploy), never in one activity';

/**
 * The orchestrator's view of a fleet: what each host's agent last reported (fleet-state.json) and what the
 * front door serves. Deploys and rollbacks go through the agents, driven by the workflow; this object
 * only answers pre-checks and status.
 */
export function createFleetTarget(plan: FleetTargetPlan, onProgress?: (message: string) => void): Target {
  const status = async (): Promise<TargetStatus> => {
    const state = await readFleetState(plan.root);
    const hosts: HostStatus[] = plan.hosts.map((h) => {
      const e = state.hosts[h.name];
      return {
        host: h.name,
        current: e?.current ?? null,
        // As its agent reported at the host's last operation.
        running: !!e?.current && e.status !== 'failed',
        reachable: e !== undefined,
      };
    });
    const first = hosts[0]?.current ?? null;
    const same = first !== null && hosts.every((h) => h.current?.releaseId === first.releaseId);
    return { current: same ? first : null, running: hosts.length > 0 && hosts.every((h) => h.running), hosts };
  };
  return {
    async deploy() {
      throw refuse(FailureType.InvalidInput, RUNS_AS_CHILD_WORKFLOWS);
    },
    async rollback() {
      throw refuse(FailureType.InvalidInput, `${RUNS_AS_CHILD_WORKFLOWS}; undeploy is not available for fleets yet: stop the service on each host`);
    },
    async stop() {
      throw refuse(FailureType.InvalidInput, 'stop is not available for fleets yet: stop the service on each host (its agent keeps `current`)');
    },
    async current() {
      return (await status()).current;
    },
    status,
    async preflight() {
      if (!plan.frontDoor) return `${plan.hosts.length} hosts, batches of ${plan.batchSize}, no front door`;
      const haproxy = await findHaproxy();
      if (!haproxy.found) throw new Error(`the front door needs HAProxy ≥ 2.6: ${haproxy.reason}; install it with: apt-get install haproxy`);
      return `${plan.hosts.length} hosts, batches of ${plan.batchSize}, front door on port ${plan.frontDoor.port} (${haproxy.path})`;
    },
  };
}
