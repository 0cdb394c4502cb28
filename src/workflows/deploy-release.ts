import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_TYPES } from '../errors';
import { DeployState, failureMessage } from './deploy-state';
import { ApprovalGates, GateStopped } from './gates';
import { installHandlers } from './handlers';
import { Promotions } from './rollout';
import { InterventionAborted, Saga } from './saga';
import { StageRunner } from './stage-runner';
import { STAGES } from './stages';
import { publishSummary } from './ui-summary';
import type { DeployPlan, DeployResult, DeployStatus } from './types';

/**
 * Patch: once validate passes, the release stands. Its registry record is retried until it lands (so is
 * every final record), and nothing after validation — a registry outage, a cancel — can roll it back.
 */
const BOOKKEEPING_NEVER_UNDOES = 'bookkeeping-never-undoes-a-validated-release';

const planActivities = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
});

/**
 * Carries one release of one service into one environment: plan, then build → pre-checks → migrate → deploy
 * → validate, each behind the approval gate the plan puts before it; when a stage fails, a gate refuses or an
 * operator cancels, what was done is undone in reverse. Decisions only: every side effect is an activity,
 * every clock is Temporal's.
 */
export async function deployRelease(input: unknown): Promise<DeployResult> {
  const info = workflowInfo();
  const deploy = new DeployState({ workflowId: info.workflowId, runId: info.runId });
  const gates = new ApprovalGates(deploy);
  const saga = new Saga(deploy);
  const promotions = new Promotions(deploy);
  installHandlers(deploy, gates, saga, promotions);
  deploy.publish();

  const plan = await planDeploy(deploy, input);
  const stages = new StageRunner(plan, deploy, saga, promotions);

  try {
    for (const stage of STAGES) {
      const gate = plan.gates.find((g) => g.before === stage);
      if (gate) await gates.wait(gate);
      await stages.run(stage);
    }
  } catch (err) {
    return await stopAndUndo(err, { plan, deploy, saga, stages });
  }

  if (patched(BOOKKEEPING_NEVER_UNDOES)) {
    saga.clear();
    return await CancellationScope.nonCancellable(async () => {
      await stages.record('succeeded', true);
      await stages.retireReplaced();
      return finish(deploy, 'succeeded');
    });
  }
  // Deploys recorded before the patch: a failed record still went through the saga.
  try {
    await stages.record('succeeded', false);
  } catch (err) {
    return await stopAndUndo(err, { plan, deploy, saga, stages });
  }
  return finish(deploy, 'succeeded');
}

/** The plan activity loads the spec on a worker; the exact plan that runs lands in history. */
async function planDeploy(deploy: DeployState, input: unknown): Promise<DeployPlan> {
  const record = deploy.startStage('plan');
  const spec = (input as { spec?: unknown } | null)?.spec;
  let plan: DeployPlan;
  try {
    plan = await planActivities.plan.executeWithOptions({ summary: `plan deploy from ${typeof spec === 'string' ? spec : 'inline spec'}` }, [
      { input, workflowId: deploy.ids.workflowId, runId: deploy.ids.runId },
    ]);
  } catch (err) {
    const why = failureMessage(err);
    deploy.endStage(record, 'failed', why);
    deploy.setStatus('failed', 'done');
    publishSummary(`${deploy.ids.workflowId}: failed, refused at plan`);
    throw ApplicationFailure.nonRetryable(`deploy refused: ${why}`, 'DeployFailed', deploy.result('failed', why));
  }
  deploy.plan = plan;
  deploy.endStage(record, 'succeeded', `${plan.kind === 'redeploy' ? 'redeploy' : `${plan.kind} deploy`} of ${plan.version}${plan.live ? ` (live: ${plan.live.version})` : ' (first deploy)'}`);
  deploy.setStatus('running', 'plan');
  publishSummary(deploy.summary());
  return plan;
}

/**
 * A stage failed, a gate refused or an operator cancelled: undo what was done (not cancellable), record the
 * outcome, and end the workflow failed (type `Deploy_<outcome>`, the result in its details) or cancelled.
 */
async function stopAndUndo(
  err: unknown,
  o: { plan: DeployPlan; deploy: DeployState; saga: Saga; stages: StageRunner },
): Promise<never> {
  const { plan, deploy, saga, stages } = o;
  const cancelled = isCancellation(err);
  let outcome: DeployStatus;
  let reason: string;
  if (cancelled) {
    outcome = 'cancelled';
    reason = 'cancelled by an operator';
  } else if (err instanceof GateStopped) {
    outcome = 'rejected';
    reason = err.message;
  } else {
    // rolled_back only when something was undone; expand migrations alone stay (backward compatible).
    outcome = saga.size > 0 ? 'rolled_back' : 'failed';
    reason = failureMessage(err);
  }
  deploy.note({ kind: 'note', event: `deploy stopping: ${outcome}`, detail: reason });
  const recordUntilLanded = patched(BOOKKEEPING_NEVER_UNDOES);

  await CancellationScope.nonCancellable(async () => {
    try {
      await saga.compensate();
    } catch (abort) {
      if (!(abort instanceof InterventionAborted)) throw abort;
      outcome = 'failed';
      reason = `${reason}; ${abort.message}`;
    }
    await stages.record(outcome, recordUntilLanded);
    await finish(deploy, outcome);
  });

  if (cancelled) throw err;
  throw ApplicationFailure.nonRetryable(`${plan.service} ${plan.version} → ${plan.environment}: ${outcome} (${reason})`, `Deploy_${outcome}`, deploy.result(outcome, reason));
}

/** Publishes the final status and lets in-flight handlers finish before the workflow returns. */
async function finish(deploy: DeployState, outcome: DeployStatus): Promise<DeployResult> {
  deploy.setStatus(outcome, 'done');
  publishSummary(deploy.summary());
  await condition(allHandlersFinished);
  return deploy.result(outcome);
}
