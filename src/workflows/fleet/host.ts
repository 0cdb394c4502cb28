import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { hostTaskQueue, type HostActivities, type HostRuntime } from '../../agent/contract';
import { NON_RETRYABLE_TYPES } from '../../errors';
import { failureMessage } from '../deploy-state';
import type { FleetCommon, FleetHostJob, FleetHostResult, FleetRollbackJob } from './types';

/** The front door's side, on the orchestrator's own task queue. */
const orchestrator = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
});

/**
 * A host's agent, on its own task queue. schedule-to-close bounds each operation, retries included: a dead
 * agent's queue never drains, so its host fails after `hostTimeoutMs` instead of holding the rollout; the
 * heartbeat timeout notices an agent killed mid-operation, whose restart then finishes the retry.
 */
function agentOf(common: FleetCommon, host: string) {
  return proxyActivities<HostActivities>({
    taskQueue: hostTaskQueue(host),
    scheduleToCloseTimeout: common.hostTimeoutMs,
    heartbeatTimeout: common.heartbeatTimeoutMs,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
  });
}

function runtimeOf(common: FleetCommon, host: { name: string; port: number }): HostRuntime {
  return { ...common.runtime, host: host.name, port: host.port };
}

/**
 * One host of a fleet rollout: drained in the front door, deployed and probed by its agent, put back. Fails
 * (its failure's details carry what is known: the release it ran before) when any step fails; the host then
 * stays out of the front door until it is rolled back.
 */
export async function deployFleetHost(job: FleetHostJob): Promise<FleetHostResult> {
  const { common, host } = job;
  const agent = agentOf(common, host.name);
  const runtime = runtimeOf(common, host);
  let previous: FleetHostResult['previous'];
  try {
    if (common.door) {
      await orchestrator.fleetHostTraffic.executeWithOptions({ summary: `drain ${host.name} in the front door` }, [{ door: common.door, host: host.name, state: 'drain' }]);
    }
    const deployed = await agent.hostDeploy.executeWithOptions({ summary: `${host.name}: deploy ${common.release.version}` }, [{ release: common.release, runtime }]);
    previous = deployed.previous;
    await agent.hostProbe.executeWithOptions({ summary: `${host.name}: readiness and analysis on the host` }, [{ runtime, health: common.health }]);
    if (common.door) {
      await orchestrator.fleetHostTraffic.executeWithOptions({ summary: `put ${host.name} back in the front door` }, [{ door: common.door, host: host.name, state: 'ready' }]);
    }
    return { host: host.name, status: deployed.noop ? 'unchanged' : 'updated', releaseId: deployed.releaseId, previous };
  } catch (err) {
    const result: FleetHostResult = { host: host.name, status: 'failed', ...(previous !== undefined ? { previous } : {}), error: failureMessage(err) };
    throw ApplicationFailure.nonRetryable(`${host.name}: ${result.error}`, 'FleetHostFailed', result);
  }
}

/**
 * Puts hosts back on the release they ran before, one after the other in the order given (the reverse of
 * the rollout), each through its agent and then back into the front door. Returns each host's result; a
 * host whose agent does not answer is reported, not thrown, so the others are still rolled back.
 */
export async function rollbackFleetHosts(job: FleetRollbackJob): Promise<Array<{ host: string; ok: boolean; error?: string }>> {
  const { common } = job;
  const results: Array<{ host: string; ok: boolean; error?: string }> = [];
  for (const h of job.hosts) {
    const runtime = runtimeOf(common, h);
    try {
      await agentOf(common, h.name).hostRollback.executeWithOptions({ summary: `${h.name}: back to ${h.to?.version ?? 'nothing (stop)'}` }, [{ runtime, to: h.to }]);
      if (common.door && h.to) {
        await orchestrator.fleetHostTraffic.executeWithOptions({ summary: `put ${h.name} back in the front door` }, [{ door: common.door, host: h.name, state: 'ready' }]);
      }
      results.push({ host: h.name, ok: true });
    } catch (err) {
      results.push({ host: h.name, ok: false, error: failureMessage(err) });
    }
  }
  return results;
}
