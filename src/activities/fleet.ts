import path from 'node:path';
import type { FleetTargetPlan } from '../targets/fleet';
import { ensureFleetFrontDoor, fleetFrontDoor, recordFleetHosts, type FleetHostEntry } from '../targets/fleet';
import { frontDoorIndexDir } from '../traffic/keeper';
import type { FleetDoorRef, FleetHostState } from '../workflows/fleet/types';
import type { Approval, ArtifactRef, CurrentReleaseRef, DeployPlan } from '../workflows/types';
import { withHeartbeat, workerDataDir, type ActivityDeps } from './context';
import { markLive, restoreLive } from './deploy';

function fleetOf(plan: DeployPlan): FleetTargetPlan {
  if (plan.target.type !== 'fleet') throw new Error(`fleet activity on a ${plan.target.type} target`);
  return plan.target;
}

/**
 * The orchestrator's side of a fleet rollout: the front door (one server per host) and the record of what
 * each host runs. The hosts themselves are changed by their agents.
 */
export function fleetActivities(deps: ActivityDeps) {
  return {
    /** Before the first batch: the front door up with every host as a server (new hosts in maintenance). */
    async fleetPrepare({ plan }: { plan: DeployPlan }): Promise<void> {
      const fleet = fleetOf(plan);
      await withHeartbeat((progress) => ensureFleetFrontDoor(fleet, frontDoorIndexDir(workerDataDir(deps)), progress));
    },

    /** Takes a host out of the front door (waits for its requests to finish) or puts it back. */
    async fleetHostTraffic({ door, host, state }: { door: FleetDoorRef; host: string; state: 'drain' | 'ready' }): Promise<string> {
      return withHeartbeat(async (progress) => {
        const frontDoor = fleetFrontDoor({ root: door.root, drainTimeoutMs: door.drainTimeoutMs, frontDoor: door.frontDoor }, progress)!;
        if (state === 'ready') {
          await frontDoor.setServerState(host, 'ready');
          return `${host} is back in front door ${door.frontDoor.name}`;
        }
        const r = await frontDoor.drain(host, door.drainTimeoutMs);
        return r.drained ? `${host} drained in ${r.waitedMs} ms` : `${host} still served ${r.currentSessions} request(s) after ${r.waitedMs} ms; going on`;
      });
    },

    /** Writes what the hosts reported into `<root>/fleet-state.json` (pre-checks and status read it). */
    async fleetRecordHosts(a: { root: string; version: string; artifactSha256: string; hosts: FleetHostState[]; workflowId: string }): Promise<void> {
      const { root, version, artifactSha256, hosts, workflowId } = a;
      const at = new Date().toISOString();
      const entries: Record<string, FleetHostEntry> = {};
      for (const h of hosts) {
        const status = h.status === 'updated' || h.status === 'unchanged' || h.status === 'rolled_back' ? h.status : h.status === 'failed' || h.status === 'rollback_failed' ? 'failed' : undefined;
        if (!status) continue;
        // A failed host's release is not known until its agent reports again.
        const current = status === 'rolled_back' ? (h.previous ?? null) : status === 'failed' ? null : h.releaseId ? { releaseId: h.releaseId, version, sha256: artifactSha256 } : null;
        entries[h.host] = { current, status, ...(h.error ? { error: h.error.slice(0, 500) } : {}), at, workflowId };
      }
      await recordFleetHosts(path.resolve(root), entries);
    },

    /** Every host runs the release: it is the registry's live release. */
    async fleetMarkLive(a: { plan: DeployPlan; artifact: ArtifactRef; workflowId: string; runId: string; approvals: Approval[] }): Promise<void> {
      await markLive(deps, a);
    },

    /** The rollout was undone: the previous release is live again in the registry. */
    async fleetRestoreLive(a: { plan: DeployPlan; previous: CurrentReleaseRef | null; workflowId: string; runId: string }): Promise<void> {
      await restoreLive(deps, a);
    },
  };
}
