import { ApplicationFailure, allHandlersFinished, condition, isCancellation, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_TYPES } from '../errors';
import { statusQuery } from './definitions';
import { failureMessage } from './deploy-state';
import type { DeployResult, DeployStatus } from './types';
import { writeSummaryMemo } from './ui-summary';
import { describeStep, UndeployState } from './undeploy-state';
import type { UndeployAction, UndeployPlan } from './undeploy-types';

const planActivities = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
});

/**
 * Stops a service (`action: "stop"`: the process ends, `current` stays) or undeploys it (`"undeploy"`: the
 * process ends, `current` is removed and the release registry says nothing is live). Runs under the deploy
 * lock's workflow ID, deploy-<service>-<environment>, so it never runs beside a deploy of that service there,
 * and plans from the worker's spec root like a deploy: who asked, why, and (where a deploy must be signed)
 * the requester's signature are in its history. Decisions only: the work is in activities.
 */
export async function undeployService(input: unknown): Promise<DeployResult> {
  const info = workflowInfo();
  const state = new UndeployState({ workflowId: info.workflowId, runId: info.runId }, requestedAction(input));
  setHandler(statusQuery, () => state.view());
  state.publish();

  const plan = await planStop(state, input);
  const record = state.startStage(plan.action);
  state.setStatus('running', plan.action);
  try {
    const step = await proxyActivities<Activities>({
      startToCloseTimeout: '10 minutes',
      heartbeatTimeout: plan.heartbeatTimeoutMs,
      retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
    }).stopService.executeWithOptions({ summary: stepSummary(plan) }, [{ plan, workflowId: info.workflowId, runId: info.runId }]);
    state.step = step;
    state.endStage(record, 'succeeded', describeStep(plan.action, step));
  } catch (err) {
    const why = isCancellation(err) ? 'cancelled by an operator' : failureMessage(err);
    state.endStage(record, 'failed', why);
    const outcome: DeployStatus = isCancellation(err) ? 'cancelled' : 'failed';
    await finish(state, outcome);
    if (isCancellation(err)) throw err;
    throw ApplicationFailure.nonRetryable(`${plan.service} in ${plan.environment}: ${plan.action} failed (${why})`, `${plan.action === 'stop' ? 'Stop' : 'Undeploy'}_failed`, state.result('failed', why));
  }
  return finish(state, 'succeeded');
}

/** The plan activity loads the spec on a worker; the plan, with who asked and why, lands in history. */
async function planStop(state: UndeployState, input: unknown): Promise<UndeployPlan> {
  const record = state.startStage('plan');
  const spec = (input as { spec?: unknown } | null)?.spec;
  let plan: UndeployPlan;
  try {
    plan = await planActivities.planUndeploy.executeWithOptions({ summary: `plan ${state.action} from ${typeof spec === 'string' ? spec : 'inline spec'}` }, [
      { input, workflowId: state.ids.workflowId, runId: state.ids.runId },
    ]);
  } catch (err) {
    const why = isCancellation(err) ? 'cancelled by an operator' : failureMessage(err);
    state.endStage(record, 'failed', why);
    await finish(state, isCancellation(err) ? 'cancelled' : 'failed');
    if (isCancellation(err)) throw err;
    throw ApplicationFailure.nonRetryable(`${state.action} refused: ${why}`, 'DeployFailed', state.result('failed', why));
  }
  state.undeployPlan = plan;
  state.endStage(record, 'succeeded', `${plan.action} of ${plan.service} in ${plan.environment}; ${plan.live ? `live: ${plan.live.version}` : 'nothing live in the release registry'}`);
  const signed = plan.request ? ` (signed, key ${plan.request.fingerprint})` : '';
  state.note({ kind: 'note', event: `${plan.action} requested by ${plan.requestedBy}${signed}`, detail: plan.reason });
  return plan;
}

function stepSummary(p: UndeployPlan): string {
  const live = p.live ? ` ${p.live.version}` : '';
  return p.action === 'stop'
    ? `stop ${p.service}${live} in ${p.environment} (${p.target.type} target): end its process, keep current`
    : `undeploy ${p.service}${live} from ${p.environment} (${p.target.type} target): end its process, remove current, nothing live`;
}

function requestedAction(input: unknown): UndeployAction {
  return (input as { action?: unknown } | null)?.action === 'stop' ? 'stop' : 'undeploy';
}

/** Publishes the final status and summary, and lets in-flight queries' handlers finish. */
async function finish(state: UndeployState, outcome: DeployStatus): Promise<DeployResult> {
  state.setStatus(outcome, 'done');
  writeSummaryMemo(state.summary(), { action: state.action });
  await condition(allHandlersFinished);
  return state.result(outcome);
}
