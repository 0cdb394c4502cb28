import { condition, sleep } from '@temporalio/workflow';
import type { ActivityInterfaceFor } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DeployState } from './deploy-state';
import { GateStopped, signedWith } from './gates';
import { checkDecisionSignature } from './signatures';
import { describeCanaryStep } from './canary-steps';
import type { DeployPlan, DeployStageResult, PromotionState, SignatureProof, StrategyPlan, TrafficState } from './types';

type Progressive = Exclude<StrategyPlan, { type: 'replace' }>;

/**
 * The pauses that wait for a signed `promote` (or a `reject`). At most one waits at a time; its statement's
 * stage names the step (`deploy:step-3`, `deploy:switch`), so a signature for one pause never opens another.
 */
export class Promotions {
  private pending: { state: PromotionState; decision?: 'promote' | 'reject'; by?: string; reason?: string } | undefined;

  constructor(private readonly deploy: DeployState) {}

  get waiting(): boolean {
    return this.pending !== undefined && this.pending.decision === undefined;
  }

  /** Why a promote or reject is refused, or the proof it carries. */
  check(by: string, decision: 'promote' | 'reject', signature: unknown): { refusal: string } | { proof?: SignatureProof } {
    const p = this.pending;
    if (!p || p.decision) return { refusal: 'no paused rollout is waiting for promote in this deploy' };
    if (p.state.promoters.length > 0 && !p.state.promoters.includes(by)) {
      return { refusal: `${by} may not ${decision} this rollout (promoters: ${p.state.promoters.join(', ')})` };
    }
    if (!p.state.signed) return {};
    return checkDecisionSignature(this.deploy, { stage: p.state.stage, decision, signer: by, signature });
  }

  decide(decision: 'promote' | 'reject', by: string, comment: string | undefined, proof?: SignatureProof): void {
    const p = this.pending;
    if (!p || p.decision) return;
    p.decision = decision;
    p.by = by;
    p.reason = comment;
    this.deploy.note({ kind: 'gate', stage: 'deploy', event: `${decision === 'promote' ? 'promoted' : 'rejected'} at ${p.state.stage} by ${by}${signedWith(proof)}`, detail: comment });
  }

  /** Waits at the pause `stage` until promoted; throws GateStopped on reject or timeout. */
  async wait(stage: string, s: Progressive): Promise<void> {
    const { deploy } = this;
    const p = deploy.plan!;
    const deadline = new Date(Date.now() + s.promoteTimeoutMs).toISOString();
    const state: PromotionState = {
      stage,
      promoters: s.promoters,
      signed: s.signed,
      since: deploy.now(),
      deadline,
      ...(s.signed
        ? { sign: { ...deploy.ids, service: p.service, environment: p.environment, version: p.version, artifactSha256: deploy.artifact?.sha256 ?? null, stage } }
        : {}),
    };
    this.pending = { state };
    deploy.pendingPromotion = state;
    deploy.note({ kind: 'gate', stage: 'deploy', event: `paused at ${stage}: waiting for promote from ${s.promoters.join(' or ')}`, detail: `deadline ${deadline}` });
    deploy.setStatus('awaiting_approval', 'deploy', `promote at ${stage} from ${s.promoters.join(' or ')}, by ${deadline}`);
    const pending = this.pending;
    let decided: boolean;
    try {
      decided = await condition(() => pending.decision !== undefined, s.promoteTimeoutMs);
    } finally {
      this.pending = undefined;
      deploy.pendingPromotion = undefined;
    }
    if (decided && pending.decision === 'promote') {
      deploy.setStatus('running', 'deploy');
      return;
    }
    if (decided) throw new GateStopped('rejected', `rollout rejected at ${stage} by ${pending.by}${pending.reason ? `: ${pending.reason}` : ''}`);
    deploy.note({ kind: 'gate', stage: 'deploy', event: `pause at ${stage} timed out`, detail: `no promote by ${deadline}` });
    throw new GateStopped('timed_out', `the pause at ${stage} timed out without promote`);
  }
}

/**
 * The deploy stage of a blueGreen or canary strategy: the new release starts beside the stable one, traffic
 * moves to it step by step (each step an activity, so a crash resumes at the step reached), and it becomes
 * the stable release at the end. Any failure, reject or cancel leaves it to the saga: the stable release
 * gets all traffic back by a switch, with no process start.
 */
export async function runRollout(o: {
  plan: DeployPlan;
  strategy: Progressive;
  deploy: DeployState;
  promotions: Promotions;
  acts: ActivityInterfaceFor<Activities>;
  onStarted: (previous: DeployStageResult['previous']) => void;
}): Promise<string> {
  const { plan: p, strategy: s, deploy, acts } = o;
  const { workflowId, runId } = deploy.ids;
  const artifact = deploy.artifact!;
  const started = await acts.startRelease.executeWithOptions(
    { summary: `start ${p.version} beside ${p.live?.version ?? 'nothing'} in ${p.environment} (own port, no traffic yet)` },
    [{ plan: p, artifact }],
  );
  o.onStarted(started.previous);
  const { releaseId } = started;
  const steps = s.type === 'canary' ? s.steps : [];
  const traffic: TrafficState = { strategy: s.type, releaseId, port: started.port, weight: 0, step: 0, steps: steps.length, stable: started.previous?.releaseId ?? null };
  deploy.traffic = traffic;
  if (started.previous?.releaseId === releaseId) {
    traffic.weight = 100;
    return `${releaseId} is already the stable release`;
  }
  deploy.note({ kind: 'stage', stage: 'deploy', event: `${releaseId} started on port ${started.port}`, detail: started.started ? 'new process' : 'already running (reused)' });

  const analyse = async (against: 'canary' | 'frontDoor', windowMs?: number) => {
    const report = await acts.analyzeRelease.executeWithOptions(
      { summary: `analysis of ${releaseId} via ${against === 'canary' ? `its own port ${started.port}` : 'the front door'}`, startToCloseTimeout: (windowMs ?? p.health.windowMs) + 60_000 },
      [{ plan: p, releaseId, against, ...(windowMs ? { windowMs } : {}) }],
    );
    deploy.note({ kind: 'stage', stage: 'deploy', event: `analysis passed at ${traffic.weight}%`, detail: report.reason });
  };

  if (s.type === 'canary') {
    for (const [i, step] of steps.entries()) {
      traffic.step = i + 1;
      traffic.current = describeCanaryStep(step);
      deploy.publish();
      if ('setWeight' in step) {
        await acts.shiftTraffic.executeWithOptions({ summary: `canary step ${i + 1}/${steps.length}: ${releaseId} ${step.setWeight}%` }, [{ plan: p, releaseId, weight: step.setWeight }]);
        traffic.weight = step.setWeight;
        deploy.note({ kind: 'stage', stage: 'deploy', event: `step ${i + 1}/${steps.length}: ${releaseId} takes ${step.setWeight}%` });
      } else if ('analysis' in step) {
        await analyse(step.analysis.against, step.analysis.windowMs);
      } else if (step.pause.seconds !== undefined) {
        await sleep(step.pause.seconds * 1000);
      } else {
        await o.promotions.wait(`deploy:step-${i + 1}`, s);
      }
    }
  } else {
    if (s.previewAnalysis) await analyse('canary');
    if (s.pauseForPromote) await o.promotions.wait('deploy:switch', s);
  }

  traffic.current = 'promote';
  const outcome = await acts.promoteRelease.executeWithOptions(
    { summary: `switch all traffic to ${releaseId}; ${started.previous?.releaseId ?? 'nothing'} drains` },
    [{ plan: p, artifact, releaseId, workflowId, runId, approvals: deploy.approvals }],
  );
  traffic.weight = 100;
  traffic.stable = releaseId;
  traffic.current = undefined;
  o.onStarted(outcome.previous);
  return `${releaseId} is current and takes all traffic${started.previous ? `; ${started.previous.releaseId} drains and stops after ${s.scaleDownDelayMs / 1000} s` : ''}`;
}
