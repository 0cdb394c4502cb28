import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_TYPES } from '../errors';
import { SA, approvalUpdate, approveSignal, interveneSignal, rejectSignal, statusQuery } from './definitions';
import { refuseDecision } from './gates';
import { describePayloadError, payloadSchemas } from './payloads';
import type {
  Approval,
  ArtifactRef,
  CompensationRecord,
  CurrentReleaseRef,
  DeployPlan,
  DeployResult,
  DeployStatus,
  DeployStatusView,
  GatePlan,
  GateState,
  InterveneSignal,
  StageName,
  StageRecord,
  TimelineEntry,
} from './types';

const STAGE_ORDER: StageName[] = ['build', 'preChecks', 'migrate', 'deploy', 'validate'];

/** Thrown inside the workflow when a gate ends the deploy (rejected or timed out). */
class GateStopped extends Error {
  constructor(readonly decision: 'rejected' | 'timed_out', message: string) {
    super(message);
  }
}
/** Thrown when an operator aborts a deploy stuck in needs_intervention. */
class InterventionAborted extends Error {}

interface Compensation {
  name: 'rollbackDeploy';
  undoes: StageName;
  summary: string;
  run: () => Promise<unknown>;
}

const planActivities = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
});

/**
 * Carries one release of one service into one environment: build → pre-checks → migrate → deploy →
 * validate. Decisions only: every side effect is an activity, every clock is Temporal's.
 */
export async function deployRelease(input: unknown): Promise<DeployResult> {
  const info = workflowInfo();
  const now = () => new Date().toISOString();

  // ---- state, exposed through the `status` query ----
  let status: DeployStatus = 'running';
  let currentStage: DeployStatusView['stage'] = 'plan';
  let waitingFor: string | undefined;
  let plan: DeployPlan | undefined;
  let gate: GatePlan | undefined;
  let gateState: GateState | undefined;
  let pendingIntervention: DeployStatusView['pendingIntervention'];
  let intervention: (InterveneSignal & { at: string }) | undefined;
  const approvals: Approval[] = [];
  const stages: StageRecord[] = [];
  const timeline: TimelineEntry[] = [];
  const compensationLog: CompensationRecord[] = [];
  let healthReport: unknown;
  let migrationReport: unknown;
  let artifact: ArtifactRef | undefined;

  const note = (entry: Omit<TimelineEntry, 'at'>) => timeline.push({ at: now(), ...entry });

  const publish = () => {
    const pairs: Array<{ key: (typeof SA)[keyof typeof SA]; value: string }> = [
      { key: SA.status, value: status },
      { key: SA.stage, value: currentStage },
    ];
    if (plan) {
      pairs.push(
        { key: SA.service, value: plan.service },
        { key: SA.environment, value: plan.environment },
        { key: SA.version, value: plan.version },
        { key: SA.requestedBy, value: plan.requestedBy },
      );
    }
    upsertSearchAttributes(pairs as never);
    setCurrentDetails(describeNow());
  };

  const describeNow = (): string => {
    const head = plan ? `**${plan.service} ${plan.version} → ${plan.environment}** (requested by ${plan.requestedBy})` : `deploy ${info.workflowId}`;
    const lines = [head, '', `status: \`${status}\`, stage: \`${currentStage}\``];
    if (waitingFor) lines.push('', `waiting for: ${waitingFor}`);
    return lines.join('\n');
  };

  const setStatus = (s: DeployStatus, stage: DeployStatusView['stage'], waiting?: string) => {
    status = s;
    currentStage = stage;
    waitingFor = waiting;
    publish();
  };

  // ---- handlers ----
  setHandler(statusQuery, () => ({
    workflowId: info.workflowId,
    service: plan?.service,
    environment: plan?.environment,
    version: plan?.version,
    previousVersion: plan?.live?.version,
    requestedBy: plan?.requestedBy,
    status,
    stage: currentStage,
    waitingFor,
    // Only a gate that is still waiting is pending; decided gates live on in the timeline.
    pendingGate: gate ? gateState : undefined,
    pendingIntervention,
    stages,
    timeline,
  }));

  const decide = (decision: 'approve' | 'reject', by: string, comment: string | undefined, via: Approval['via']) => {
    if (!gate || !gateState || !plan) return;
    if (decision === 'reject') {
      gateState.decision = 'rejected';
      gateState.rejectedBy = { by, at: now(), reason: comment };
      note({ kind: 'gate', stage: gate.before, event: `rejected by ${by}`, detail: comment });
      return;
    }
    const approval: Approval = { by, at: now(), comment, via };
    gateState.approvals.push(approval);
    approvals.push(approval);
    gateState.given = gateState.approvals.length;
    gateState.needed = Math.max(0, gate.quorum - gateState.approvals.length);
    note({ kind: 'gate', stage: gate.before, event: `approved by ${by} (${gateState.approvals.length}/${gate.quorum})`, detail: comment });
    if (gateState.needed === 0) gateState.decision = 'approved';
  };

  const onSignalDecision = (decision: 'approve' | 'reject', raw: unknown) => {
    const schema = payloadSchemas()[decision];
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      note({ kind: 'signal_refused', event: `${decision} refused: invalid payload`, detail: describePayloadError(decision, parsed.error) });
      return;
    }
    const data = parsed.data as { by: string; comment?: string; reason?: string };
    const { by } = data;
    const comment = data.reason ?? data.comment;
    const refusal = refuseDecision(gate, gateState, plan?.requestedBy ?? '', by, decision);
    if (refusal) {
      note({ kind: 'signal_refused', event: `${decision} by ${by} refused`, detail: refusal });
      return;
    }
    decide(decision, by, comment, 'signal');
  };
  setHandler(approveSignal, (raw) => onSignalDecision('approve', raw));
  setHandler(rejectSignal, (raw) => onSignalDecision('reject', raw));

  setHandler(
    approvalUpdate,
    (raw) => {
      const p = payloadSchemas().approval.parse(raw);
      decide(p.decision, p.by, p.comment, 'update');
      return gateState!;
    },
    {
      validator: (raw) => {
        const parsed = payloadSchemas().approval.safeParse(raw);
        if (!parsed.success) throw new Error(describePayloadError('approval', parsed.error));
        const refusal = refuseDecision(gate, gateState, plan?.requestedBy ?? '', parsed.data.by, parsed.data.decision);
        if (refusal) throw new Error(refusal);
      },
    },
  );

  setHandler(interveneSignal, (raw) => {
    const parsed = payloadSchemas().intervene.safeParse(raw);
    if (!parsed.success) {
      note({ kind: 'signal_refused', event: 'intervene refused: invalid payload', detail: describePayloadError('intervene', parsed.error) });
      return;
    }
    if (!pendingIntervention || intervention) {
      note({ kind: 'signal_refused', event: `intervene by ${parsed.data.by} refused`, detail: 'the deploy is not waiting for an intervention' });
      return;
    }
    intervention = { ...parsed.data, at: now() };
  });

  // ---- stage bookkeeping ----
  const stageStarted = (stage: StageRecord['stage']) => {
    const rec: StageRecord = { stage, status: 'running', startedAt: now() };
    stages.push(rec);
    return rec;
  };
  const stageEnded = (rec: StageRecord, s: StageRecord['status'], summary?: string) => {
    rec.status = s;
    rec.finishedAt = now();
    rec.durationMs = Date.parse(rec.finishedAt) - Date.parse(rec.startedAt);
    rec.summary = summary;
    note({ kind: 'stage', stage: rec.stage, event: s, detail: summary });
  };

  const buildResult = (outcome: DeployStatus, reason?: string): DeployResult => ({
    workflowId: info.workflowId,
    runId: info.runId,
    service: plan?.service ?? '',
    environment: plan?.environment ?? '',
    version: plan?.version ?? '',
    previousVersion: plan?.live?.version,
    outcome,
    reason,
    artifactSha256: artifact?.sha256,
    stages,
    approvals,
    compensations: compensationLog,
    health: healthReport,
    migrations: migrationReport,
    timeline,
  });

  // ---- plan: load and validate the spec on a worker; the exact plan lands in history ----
  publish();
  const planRec = stageStarted('plan');
  try {
    plan = await planActivities.plan.executeWithOptions({ summary: `plan deploy from ${typeof (input as { spec?: unknown })?.spec === 'string' ? (input as { spec: string }).spec : 'inline spec'}` }, [
      { input, workflowId: info.workflowId, runId: info.runId },
    ]);
  } catch (err) {
    stageEnded(planRec, 'failed', failureMessage(err));
    setStatus('failed', 'done');
    throw ApplicationFailure.nonRetryable(`deploy refused: ${failureMessage(err)}`, 'DeployFailed', buildResult('failed', failureMessage(err)));
  }
  stageEnded(planRec, 'succeeded', `${plan.kind === 'redeploy' ? 'redeploy' : `${plan.kind} deploy`} of ${plan.version}${plan.live ? ` (live: ${plan.live.version})` : ' (first deploy)'}`);
  const p = plan;
  setStatus('running', 'plan');

  const stageOptions = (startToCloseMs: number, extra: Partial<ActivityOptions> = {}): ActivityOptions => ({
    startToCloseTimeout: startToCloseMs,
    heartbeatTimeout: p.heartbeatTimeoutMs,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    ...extra,
  });
  const acts = proxyActivities<Activities>(stageOptions(10 * 60_000));
  const compensationActs = proxyActivities<Activities>(
    stageOptions(10 * 60_000, { retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_TYPES } }),
  );

  const compensations: Compensation[] = [];
  let previousRelease: CurrentReleaseRef | null = null;

  // ---- gates ----
  const waitAtGate = async (g: GatePlan) => {
    gate = g;
    const deadline = new Date(Date.now() + g.timeoutMs).toISOString();
    gateState = { stage: g.before, approvers: g.approvers, quorum: g.quorum, approvals: [], given: 0, needed: g.quorum, deadline };
    const who = g.approvers.length ? g.approvers.join(' or ') : 'any approver except the requester';
    note({ kind: 'gate', stage: g.before, event: `waiting for ${g.quorum} approval(s) from ${who}`, detail: `deadline ${deadline}` });
    setStatus('awaiting_approval', g.before, `approval before ${g.before}: ${g.quorum} from ${who}, by ${deadline}`);
    let decided: boolean;
    try {
      decided = await condition(() => gateState?.decision !== undefined, g.timeoutMs);
    } finally {
      // Also on cancellation: once the wait is over, no decision may arrive for this gate.
      gate = undefined;
    }
    if (!decided) {
      gateState.decision = 'timed_out';
      note({ kind: 'gate', stage: g.before, event: 'timed out', detail: `no decision by ${deadline}` });
    }
    const decision = gateState.decision!;
    if (decision === 'approved') {
      setStatus('running', g.before);
      return;
    }
    const why =
      decision === 'rejected'
        ? `rejected by ${gateState.rejectedBy?.by}${gateState.rejectedBy?.reason ? `: ${gateState.rejectedBy.reason}` : ''}`
        : `approval gate before ${g.before} timed out`;
    throw new GateStopped(decision === 'rejected' ? 'rejected' : 'timed_out', why);
  };

  // ---- stages ----
  const runStage = async (stage: StageName) => {
    const rec = stageStarted(stage);
    setStatus('running', stage);
    try {
      const summary = await stageBody(stage);
      stageEnded(rec, 'succeeded', summary);
    } catch (err) {
      stageEnded(rec, 'failed', failureMessage(err));
      throw err;
    }
  };

  const stageBody = async (stage: StageName): Promise<string> => {
    switch (stage) {
      case 'build': {
        artifact = await acts.build.executeWithOptions(
          { summary: `build ${p.service} ${p.version}${p.kind === 'rollback' ? ' (reuse the stored artifact)' : ''}`, startToCloseTimeout: (p.build?.timeoutMs ?? 60_000) + 60_000 },
          [{ plan: p }],
        );
        return `artifact ${artifact.sha256.slice(0, 12)} from commit ${artifact.commit.slice(0, 12)}${artifact.reused ? ' (reused, not rebuilt)' : ''}`;
      }
      case 'preChecks': {
        const r = await acts.preChecks.executeWithOptions(
          { summary: `pre-checks for ${p.environment}: config, database, migrations, dependencies, disk, current release`, startToCloseTimeout: '3 minutes' },
          [{ plan: p, artifact: artifact! }],
        );
        previousRelease = r.current;
        return `${r.checks.length} checks passed`;
      }
      case 'migrate': {
        const r = await acts.migrate.executeWithOptions(
          { summary: `expand migrations of ${p.version} on the ${p.environment} database (lint, advisory lock, ledger)`, startToCloseTimeout: '30 minutes' },
          [{ plan: p, artifact: artifact!, workflowId: info.workflowId }],
        );
        migrationReport = r;
        if (r.applied.length > 0) {
          note({ kind: 'note', stage: 'migrate', event: 'expand migrations stay on rollback', detail: 'they are backward compatible with the previous release by construction (linted)' });
        }
        return `${r.applied.length} applied (${r.applied.map((m) => m.id).join(', ') || 'none'}), ${r.alreadyApplied.length} already applied`;
      }
      case 'deploy': {
        // Pushed before the stage runs: a deploy interrupted half-way must still be undone.
        let outcome: Awaited<ReturnType<Activities['deploy']>> | undefined;
        compensations.push({
          name: 'rollbackDeploy',
          undoes: 'deploy',
          summary: `roll ${p.environment} back to ${previousRelease?.version ?? 'nothing (first deploy: stop the service)'}`,
          run: () =>
            compensationActs.rollbackDeploy.executeWithOptions(
              { summary: `roll ${p.environment} back to ${(outcome?.previous ?? previousRelease)?.version ?? 'nothing (first deploy)'}` },
              [{ plan: p, artifact: artifact!, previous: outcome ? outcome.previous : previousRelease, workflowId: info.workflowId, runId: info.runId }],
            ),
        });
        outcome = await acts.deploy.executeWithOptions(
          { summary: `deploy ${p.version} to ${p.environment} (${p.target.type} target), previous ${previousRelease?.version ?? 'none'}`, startToCloseTimeout: '10 minutes' },
          [{ plan: p, artifact: artifact!, workflowId: info.workflowId, runId: info.runId }],
        );
        return outcome.noop ? `${outcome.releaseId} was already current and running` : `${outcome.releaseId} is current`;
      }
      case 'validate': {
        const h = p.health;
        try {
          const report = await acts.validate.executeWithOptions(
            {
              summary: `health analysis of ${h.url}: ${h.consecutiveSuccesses} consecutive OK, ratio ≥ ${h.minSuccessRatio}, p95 ≤ ${h.maxP95LatencyMs} ms, within ${h.windowMs} ms`,
              startToCloseTimeout: h.windowMs + 60_000,
            },
            [{ plan: p }],
          );
          healthReport = report;
          return report.reason;
        } catch (err) {
          healthReport = failureDetails(err) ?? healthReport;
          throw err;
        }
      }
    }
  };

  // ---- compensations: reverse order, not cancellable, never swallowed ----
  const compensate = async () => {
    if (compensations.length === 0) return;
    for (const c of [...compensations].reverse()) {
      for (;;) {
        setStatus('running', 'compensating', c.summary);
        try {
          await c.run();
          compensationLog.push({ name: c.name, undoes: c.undoes, status: 'succeeded', at: now() });
          note({ kind: 'compensation', stage: c.undoes, event: `${c.name} succeeded`, detail: c.summary });
          break;
        } catch (err) {
          const error = failureMessage(err);
          compensationLog.push({ name: c.name, undoes: c.undoes, status: 'failed', error, at: now() });
          note({ kind: 'compensation', stage: c.undoes, event: `${c.name} FAILED`, detail: error });
          pendingIntervention = { compensation: c.name, error, since: now() };
          setStatus('needs_intervention', 'compensating', `an operator: ${c.name} failed (${error}); send intervene with action retry, skip or abort`);
          await condition(() => intervention !== undefined);
          const act = intervention!;
          intervention = undefined;
          pendingIntervention = undefined;
          note({ kind: 'intervention', stage: c.undoes, event: `${act.action} by ${act.by}`, detail: act.comment });
          if (act.action === 'retry') {
            compensationLog.push({ name: c.name, undoes: c.undoes, status: 'retried', by: act.by, at: act.at });
            continue;
          }
          if (act.action === 'skip') {
            compensationLog.push({ name: c.name, undoes: c.undoes, status: 'skipped', by: act.by, at: act.at });
            break;
          }
          throw new InterventionAborted(`${c.name} failed and ${act.by} aborted the deploy${act.comment ? `: ${act.comment}` : ''}`);
        }
      }
    }
    compensations.length = 0;
  };

  const record = (outcome: DeployStatus) =>
    acts.recordRelease.executeWithOptions({ summary: `record ${p.version} in ${p.environment} as ${outcome}`, startToCloseTimeout: '1 minute' }, [
      { plan: p, artifactSha256: artifact?.sha256, outcome, approvals, workflowId: info.workflowId, runId: info.runId, health: healthReport },
    ]);

  // ---- the process, top to bottom ----
  try {
    for (const stage of STAGE_ORDER) {
      const g = p.gates.find((x) => x.before === stage);
      if (g) await waitAtGate(g);
      await runStage(stage);
    }
    await record('succeeded');
    setStatus('succeeded', 'done');
    await condition(allHandlersFinished);
    return buildResult('succeeded');
  } catch (err) {
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
      outcome = compensations.length > 0 ? 'rolled_back' : 'failed';
      reason = failureMessage(err);
    }
    note({ kind: 'note', event: `deploy stopping: ${outcome}`, detail: reason });

    await CancellationScope.nonCancellable(async () => {
      try {
        await compensate();
      } catch (abort) {
        if (!(abort instanceof InterventionAborted)) throw abort;
        outcome = 'failed';
        reason = `${reason}; ${abort.message}`;
      }
      await record(outcome);
      setStatus(outcome, 'done');
      await condition(allHandlersFinished);
    });

    if (cancelled) throw err;
    throw ApplicationFailure.nonRetryable(
      `${p.service} ${p.version} → ${p.environment}: ${outcome} (${reason})`,
      `Deploy_${outcome}`,
      buildResult(outcome, reason),
    );
  }
}

function failureMessage(err: unknown): string {
  let e: unknown = err;
  // Activity failures wrap the real cause; operators want the cause.
  while (e && typeof e === 'object' && 'cause' in e && (e as { cause?: unknown }).cause) e = (e as { cause: unknown }).cause;
  return e instanceof Error ? e.message : String(e);
}

function failureDetails(err: unknown): unknown {
  let e: unknown = err;
  while (e && typeof e === 'object') {
    if (e instanceof ApplicationFailure && e.details && e.details.length > 0) return e.details[0];
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
